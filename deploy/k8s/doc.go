// Package k8s holds no code: it is the module of the tests that render segstream's kustomize
// base and overlays, decode every object strictly into the Kubernetes API types, and check the
// alerts, the Grafana dashboard and the prometheus-adapter rule against the metrics the binaries
// export.
//
// It is a module of its own so that kustomize, k8s.io/api and the PromQL parser stay out of the
// root module's dependencies (franz-go's plugin/kprom does the same). Run it with
//
//	make test-deploy
//
// or cd deploy/k8s && go test ./... ; go test -run TestConfigReference -update rewrites the
// generated flag tables in docs/operations.md.
package k8s

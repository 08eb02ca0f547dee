# The two commands README.md gives: `go run ./cmd/segstream` runs the demo; `make test` runs the tests.
GO ?= go

.PHONY: test deps vet bench

deps:
	./scripts/test-deps.sh

# test installs what the tests need (redis-server from Debian when missing), then runs every test,
# the deploy module's included.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...
	$(GO) vet -tags openblas ./models/nn
	$(GO) test -count=1 -tags openblas ./models/nn
	$(MAKE) test-race
	$(MAKE) test-deploy

# test-race runs the race detector over the packages whose goroutines share memory on the hot
# path (the lanes, the Redis helpers, the state cache), over ingest's samples test, where it
# found samples torn by two batches sharing a cache entry (session 19), and over the scorer
# (lanes, sweeps and the API at once), where it found a test's unguarded counter (session 21).
# About 3 minutes; the whole suite passed under -race too (go test -race ./..., about half an
# hour on two cores).
.PHONY: test-race
test-race:
	$(GO) test -race -count=1 ./stream ./redisx ./features ./scorer
	$(GO) test -race -count=1 -run '^TestSamplesTopic$$' ./ingest

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# test-deploy renders deploy/k8s strictly and checks alerts, dashboard and docs against the code.
# deploy/k8s is its own module (kustomize, k8s.io/api and the PromQL parser stay out of the root's
# dependencies), so the root's ./... does not reach it.
.PHONY: test-deploy
test-deploy:
	cd deploy/k8s && $(GO) test -count=1 ./...

package k8s

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomizations are the directories that must render; overlays are what gets deployed.
var kustomizations = []string{"base", "overlays/dev", "overlays/prod"}

// newObject returns an empty typed object for an apiVersion and kind, so that decoding fails on
// any field the API type does not have. A kind missing here fails the test: add its type.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return new(corev1.ConfigMap), true
	case "v1/Secret":
		return new(corev1.Secret), true
	case "v1/Service":
		return new(corev1.Service), true
	case "v1/ServiceAccount":
		return new(corev1.ServiceAccount), true
	case "apps/v1/Deployment":
		return new(appsv1.Deployment), true
	case "policy/v1/PodDisruptionBudget":
		return new(policyv1.PodDisruptionBudget), true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return new(autoscalingv2.HorizontalPodAutoscaler), true
	case "networking.k8s.io/v1/NetworkPolicy":
		return new(networkingv1.NetworkPolicy), true
	// The prometheus-operator CRDs are not in k8s.io/api. Their Go types live in a small module
	// of their own (pkg/apis/monitoring, which needs only k8s.io/api and apimachinery), so they
	// decode as strictly as the built-in kinds.
	case "monitoring.coreos.com/v1/PrometheusRule":
		return new(monitoringv1.PrometheusRule), true
	case "monitoring.coreos.com/v1/PodMonitor":
		return new(monitoringv1.PodMonitor), true
	}
	return nil, false
}

// decodeStrict decodes one object's YAML into its API type, refusing unknown and duplicate
// fields.
func decodeStrict(y []byte) (any, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(y, &tm); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	obj, ok := newObject(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("no API type registered for %s %s: add it to newObject", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(y, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// rendered is one kustomization's output, decoded.
type rendered struct {
	dir         string
	objects     []any
	deployments map[string]*appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
}

func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{dir: dir, deployments: map[string]*appsv1.Deployment{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s: %s: %v", dir, res.CurId(), err)
		}
		obj, err := decodeStrict(y)
		if err != nil {
			t.Errorf("%s: %s: %v", dir, res.CurId(), err)
			continue
		}
		r.objects = append(r.objects, obj)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.deployments[o.Name] = o
		case *corev1.ConfigMap:
			r.configMaps[o.Name] = o
		}
	}
	if len(r.objects) == 0 {
		t.Fatalf("%s rendered nothing", dir)
	}
	return r
}

func TestRenderStrict(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			kinds := map[string]int{}
			for _, o := range r.objects {
				kinds[fmt.Sprintf("%T", o)]++
			}
			t.Logf("%s: %v", dir, kinds)
			for _, want := range []string{"*v1.Deployment", "*v1.Service", "*v1.ConfigMap", "*v1.PodDisruptionBudget",
				"*v2.HorizontalPodAutoscaler", "*v1.NetworkPolicy", "*v1.PrometheusRule", "*v1.PodMonitor"} {
				if kinds[want] == 0 {
					t.Errorf("%s renders no %s", dir, want)
				}
			}
		})
	}
}

// TestStrictDecodeRejectsMisspelling proves the decoder is strict: a field the API type lacks,
// or a duplicated key, fails.
func TestStrictDecodeRejectsMisspelling(t *testing.T) {
	good := `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      terminationGracePeriodSeconds: 45
      containers: [{name: c, image: i}]
`
	if _, err := decodeStrict([]byte(good)); err != nil {
		t.Fatalf("the well-formed Deployment fails: %v", err)
	}
	for name, bad := range map[string]string{
		"misspelt field":  strings.Replace(good, "terminationGracePeriodSeconds", "terminationGracePeriodSecond", 1),
		"misplaced field": strings.Replace(good, "  selector:", "  readinessProbe: {}\n  selector:", 1),
		"duplicate key":   strings.Replace(good, "metadata: {name: x}", "metadata: {name: x, name: y}", 1),
		"wrong type":      strings.Replace(good, "45", "\"45s\"", 1),
		"unknown kind":    strings.Replace(good, "kind: Deployment", "kind: Deploymnet", 1),
		"misspelt CRD field": `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: x}
spec: {groups: [{name: g, rules: [{alert: A, expr: up, fro: 5m}]}]}
`,
	} {
		if _, err := decodeStrict([]byte(bad)); err == nil {
			t.Errorf("%s: decoded without error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestManifestInvariants checks what the operations docs promise about every rendered overlay.
func TestManifestInvariants(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			checkDeployments(t, r)
			checkOthers(t, r)
		})
	}
}

func checkDeployments(t *testing.T, r *rendered) {
	for _, role := range []string{"ingest", "scorer", "retrainer"} {
		if r.deployments["segstream-"+role] == nil {
			t.Errorf("no Deployment segstream-%s", role)
		}
	}
	if d := r.deployments["segstream-retrainer"]; d != nil {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			t.Errorf("retrainer: replicas must be 1 (one active refit; the Redis lock backs it up)")
		}
	}
	for name, d := range r.deployments {
		ps := d.Spec.Template.Spec
		sel, err := metav1LabelSelector(d)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector does not match its pod template (%v)", name, err)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken must be false", name)
		}
		psc := ps.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Errorf("%s: pod securityContext.runAsNonRoot must be true", name)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod seccompProfile must be RuntimeDefault", name)
		}
		if len(ps.Containers) != 1 {
			t.Fatalf("%s: want one container, have %d", name, len(ps.Containers))
		}
		c := ps.Containers[0]
		if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
			t.Errorf("%s: image %q must carry a pinned tag", name, c.Image)
		}
		if len(c.Command) != 1 || !strings.HasPrefix(c.Command[0], "/usr/local/bin/") {
			t.Errorf("%s: command %q: want one of the image's binaries in /usr/local/bin", name, c.Command)
		}
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: container has no securityContext", name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: readOnlyRootFilesystem must be true", name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: allowPrivilegeEscalation must be false", name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s: capabilities must drop ALL and add none", name)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[res]
			lim, okLim := c.Resources.Limits[res]
			if !okReq || !okLim {
				t.Errorf("%s: %s request and limit must both be set", name, res)
			} else if req.Cmp(lim) > 0 {
				t.Errorf("%s: %s request %s exceeds limit %s", name, res, req.String(), lim.String())
			}
		}
		if !probeGets(c.ReadinessProbe, "/readyz") {
			t.Errorf("%s: readiness probe must GET /readyz on the http port", name)
		}
		if !probeGets(c.LivenessProbe, "/healthz") {
			t.Errorf("%s: liveness probe must GET /healthz on the http port", name)
		}
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" && p.ContainerPort == 8080 }) {
			t.Errorf("%s: container must expose port http (8080)", name)
		}

		// The environment must come from a ConfigMap that exists, and the grace period must
		// cover the drain.
		var env map[string]string
		for _, ef := range c.EnvFrom {
			switch {
			case ef.ConfigMapRef != nil:
				cm := r.configMaps[ef.ConfigMapRef.Name]
				if cm == nil {
					t.Errorf("%s: envFrom names ConfigMap %q, which is not rendered", name, ef.ConfigMapRef.Name)
					continue
				}
				env = cm.Data
			case ef.SecretRef != nil:
				if ef.SecretRef.Optional == nil || !*ef.SecretRef.Optional {
					t.Errorf("%s: Secret %q must be optional (operators create it; none is committed)", name, ef.SecretRef.Name)
				}
			}
		}
		if env == nil {
			t.Errorf("%s: no ConfigMap in envFrom", name)
			continue
		}
		drain, err := time.ParseDuration(env["SEGSTREAM_DRAIN_TIMEOUT"])
		if err != nil {
			t.Errorf("%s: SEGSTREAM_DRAIN_TIMEOUT %q: %v", name, env["SEGSTREAM_DRAIN_TIMEOUT"], err)
		}
		var preStop time.Duration
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		const httpShutdown = 5 * time.Second // internal/app/ops.Server's shutdown budget
		need := preStop + drain + httpShutdown
		if ps.TerminationGracePeriodSeconds == nil || time.Duration(*ps.TerminationGracePeriodSeconds)*time.Second <= need {
			t.Errorf("%s: terminationGracePeriodSeconds must exceed preStop %s + drain %s + HTTP shutdown %s", name, preStop, drain, httpShutdown)
		}

		// Consumers beyond the partition count idle.
		if p, ok := d.Annotations["segstream.io/topic-partitions"]; ok {
			parts, err := strconv.Atoi(p)
			if err != nil || parts < 1 {
				t.Errorf("%s: segstream.io/topic-partitions %q is not a count", name, p)
			}
			if d.Spec.Replicas != nil && int(*d.Spec.Replicas) > parts {
				t.Errorf("%s: replicas %d exceed the topic's %d partitions", name, *d.Spec.Replicas, parts)
			}
			for _, o := range r.objects {
				if h, ok := o.(*autoscalingv2.HorizontalPodAutoscaler); ok && h.Spec.ScaleTargetRef.Name == name {
					if int(h.Spec.MaxReplicas) > parts {
						t.Errorf("%s: HPA maxReplicas %d exceed the topic's %d partitions", name, h.Spec.MaxReplicas, parts)
					}
					if d.Spec.Replicas != nil {
						t.Errorf("%s: an HPA scales it, so the Deployment must not set replicas", name)
					}
				}
			}
		} else if name != "segstream-retrainer" {
			t.Errorf("%s: consumer Deployment lacks the segstream.io/topic-partitions annotation", name)
		}
	}
}

func metav1LabelSelector(d *appsv1.Deployment) (labels.Selector, error) {
	if d.Spec.Selector == nil {
		return nil, fmt.Errorf("no selector")
	}
	return labels.ValidatedSelectorFromSet(d.Spec.Selector.MatchLabels)
}

func probeGets(p *corev1.Probe, path string) bool {
	return p != nil && p.HTTPGet != nil && p.HTTPGet.Path == path && p.HTTPGet.Port.String() == "http"
}

// podsMatching returns the Deployments whose pods a selector picks.
func podsMatching(r *rendered, sel map[string]string) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	if len(sel) == 0 {
		return nil
	}
	s := labels.SelectorFromSet(sel)
	for _, d := range r.deployments {
		if s.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

func checkOthers(t *testing.T, r *rendered) {
	for _, o := range r.objects {
		switch o := o.(type) {
		case *corev1.Secret:
			t.Errorf("Secret %s is rendered: secrets are referenced, never committed", o.Name)
		case *corev1.ConfigMap:
			for k := range o.Data {
				if !strings.HasPrefix(k, "SEGSTREAM_") {
					t.Errorf("ConfigMap %s: key %s is not a SEGSTREAM_* flag fallback", o.Name, k)
				}
			}
		case *corev1.Service:
			ds := podsMatching(r, o.Spec.Selector)
			if len(ds) == 0 {
				t.Errorf("Service %s selects no Deployment's pods", o.Name)
			}
			for _, p := range o.Spec.Ports {
				for _, d := range ds {
					if !slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].Ports, func(cp corev1.ContainerPort) bool {
						return cp.Name == p.TargetPort.String() || strconv.Itoa(int(cp.ContainerPort)) == p.TargetPort.String()
					}) {
						t.Errorf("Service %s: targetPort %s is not a port of %s", o.Name, p.TargetPort.String(), d.Name)
					}
				}
			}
			if o.Spec.Type != "" && o.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("Service %s: type %s would expose the port outside the cluster", o.Name, o.Spec.Type)
			}
		case *policyv1.PodDisruptionBudget:
			if o.Spec.Selector == nil || len(podsMatching(r, o.Spec.Selector.MatchLabels)) != 1 {
				t.Errorf("PodDisruptionBudget %s must select exactly one Deployment", o.Name)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if r.deployments[o.Spec.ScaleTargetRef.Name] == nil {
				t.Errorf("HPA %s scales %s, which is not rendered", o.Name, o.Spec.ScaleTargetRef.Name)
			}
			if o.Spec.MinReplicas == nil || *o.Spec.MinReplicas > o.Spec.MaxReplicas {
				t.Errorf("HPA %s: minReplicas must be set and at most maxReplicas", o.Name)
			}
			if len(o.Spec.Metrics) == 0 || o.Spec.Metrics[0].External == nil ||
				o.Spec.Metrics[0].External.Metric.Name != "segstream_ingest_consumer_lag_records" {
				t.Errorf("HPA %s: want an External metric on segstream_ingest_consumer_lag_records", o.Name)
			}
		case *networkingv1.NetworkPolicy:
			if !slices.Contains(o.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				t.Errorf("NetworkPolicy %s does not restrict ingress", o.Name)
			}
			for _, rule := range o.Spec.Ingress {
				if len(rule.From) == 0 {
					t.Errorf("NetworkPolicy %s: a rule without from admits every source", o.Name)
				}
				for _, f := range rule.From {
					if f.IPBlock != nil {
						t.Errorf("NetworkPolicy %s: ipBlock %s admits sources outside the cluster", o.Name, f.IPBlock.CIDR)
					}
				}
			}
			if len(podsMatching(r, o.Spec.PodSelector.MatchLabels)) != len(r.deployments) {
				t.Errorf("NetworkPolicy %s must cover every segstream pod", o.Name)
			}
		}
	}
}

// repoRoot is the root module's directory.
var repoRoot = filepath.Join("..", "..")

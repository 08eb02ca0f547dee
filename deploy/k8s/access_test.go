package k8s

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// apiRoles are the Deployments that serve an API on their "api" port, and the variable that
// holds its bearer token.
var apiRoles = map[string]string{
	"segstream-scorer":    "SEGSTREAM_API_TOKEN",
	"segstream-retrainer": "SEGSTREAM_RETRAIN_TOKEN",
}

// TestAPIAccess checks, on every overlay, what docs/operations.md promises about who reaches
// segstream: the operator and API ports are apart and match the ConfigMap, the API tokens come
// from a Secret the pod cannot start without, and the NetworkPolicy admits only Prometheus to
// the operator port and labelled clients to the API, and lets the pods reach only DNS, Kafka
// and Redis.
func TestAPIAccess(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			env := r.configMaps["segstream-config"]
			if env == nil {
				for _, cm := range r.configMaps {
					env = cm // the generated name carries a hash
				}
			}
			if env == nil {
				t.Fatal("no ConfigMap")
			}
			checkPortsAndTokens(t, r, env.Data)
			var policies []*networkingv1.NetworkPolicy
			for _, o := range r.objects {
				if np, ok := o.(*networkingv1.NetworkPolicy); ok {
					policies = append(policies, np)
				}
			}
			if len(policies) == 0 {
				t.Fatal("no NetworkPolicy")
			}
			checkIngress(t, r, policies)
			checkEgress(t, policies, env.Data)
		})
	}
}

func listenPort(t *testing.T, env map[string]string, key string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(env[key])
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("ConfigMap %s=%q is not a listen address", key, env[key])
	}
	return int32(n)
}

func checkPortsAndTokens(t *testing.T, r *rendered, env map[string]string) {
	httpPort, apiPort := listenPort(t, env, "SEGSTREAM_HTTP"), listenPort(t, env, "SEGSTREAM_API")
	if httpPort == apiPort {
		t.Errorf("SEGSTREAM_HTTP and SEGSTREAM_API share port %d: /metrics would face API clients", httpPort)
	}
	for k := range env {
		if strings.Contains(k, "TOKEN") || strings.Contains(k, "PASSWORD") {
			t.Errorf("ConfigMap sets %s: secrets come from Secrets only", k)
		}
	}
	for name, d := range r.deployments {
		c := d.Spec.Template.Spec.Containers[0]
		port := func(n string) (int32, bool) {
			i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == n })
			if i < 0 {
				return 0, false
			}
			return c.Ports[i].ContainerPort, true
		}
		if p, ok := port("http"); !ok || p != httpPort {
			t.Errorf("%s: port http is %d, SEGSTREAM_HTTP listens on %d", name, p, httpPort)
		}
		tokenVar, hasAPI := apiRoles[name]
		p, ok := port("api")
		switch {
		case hasAPI && (!ok || p != apiPort):
			t.Errorf("%s: port api is %d, SEGSTREAM_API listens on %d", name, p, apiPort)
		case !hasAPI && ok:
			t.Errorf("%s serves no API, but declares port api", name)
		}
		if !hasAPI {
			continue
		}
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == tokenVar })
		if i < 0 {
			t.Errorf("%s: no %s: its API would accept any caller", name, tokenVar)
			continue
		}
		vf := c.Env[i].ValueFrom
		switch {
		case vf == nil || vf.SecretKeyRef == nil:
			t.Errorf("%s: %s must come from a Secret (secretKeyRef)", name, tokenVar)
		case vf.SecretKeyRef.Optional != nil && *vf.SecretKeyRef.Optional:
			t.Errorf("%s: %s's Secret must be required: optional would start the API without a token", name, tokenVar)
		}
	}
}

// nsLabels are a namespace's labels as the API server sets them.
func nsLabels(ns string) labels.Set { return labels.Set{"kubernetes.io/metadata.name": ns} }

func selects(t *testing.T, s *metav1.LabelSelector, l labels.Set) bool {
	t.Helper()
	if s == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatalf("selector %v: %v", s, err)
	}
	return sel.Matches(l)
}

// admits says whether a peer admits a pod with podLabels in namespace ns, for a policy in
// policyNS.
func admits(t *testing.T, peer networkingv1.NetworkPolicyPeer, policyNS, ns string, podLabels labels.Set) bool {
	if peer.IPBlock != nil {
		return false // the pods here are in the cluster
	}
	nsOK := ns == policyNS
	if peer.NamespaceSelector != nil {
		nsOK = selects(t, peer.NamespaceSelector, nsLabels(ns))
	}
	podOK := true
	if peer.PodSelector != nil {
		podOK = selects(t, peer.PodSelector, podLabels)
	}
	return nsOK && podOK
}

// reaches says whether the policies admit the pod (ns, podLabels) to the named port of the
// segstream pods they select.
func reaches(t *testing.T, policies []*networkingv1.NetworkPolicy, ns string, podLabels labels.Set, port string) bool {
	for _, np := range policies {
		for _, rule := range np.Spec.Ingress {
			portOK := len(rule.Ports) == 0
			for _, p := range rule.Ports {
				portOK = portOK || (p.Port != nil && p.Port.String() == port)
			}
			if !portOK {
				continue
			}
			if len(rule.From) == 0 {
				return true
			}
			for _, peer := range rule.From {
				if admits(t, peer, np.Namespace, ns, podLabels) {
					return true
				}
			}
		}
	}
	return false
}

func checkIngress(t *testing.T, r *rendered, policies []*networkingv1.NetworkPolicy) {
	for _, np := range policies {
		for _, rule := range np.Spec.Ingress {
			if len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s: an ingress rule without ports admits its sources to every port", np.Name)
			}
			for _, peer := range rule.From {
				if peer.PodSelector == nil || len(peer.PodSelector.MatchLabels)+len(peer.PodSelector.MatchExpressions) == 0 {
					t.Errorf("NetworkPolicy %s: an ingress peer without a pod selector admits every pod of its namespaces", np.Name)
				}
			}
		}
	}
	ns := policies[0].Namespace
	prometheus := labels.Set{"app.kubernetes.io/name": "prometheus"}
	engine := labels.Set{"segstream.io/api-client": "true", "app": "campaigns"}
	for _, tc := range []struct {
		who       string
		ns        string
		pod       labels.Set
		http, api bool
	}{
		{"Prometheus", "monitoring", prometheus, true, false},
		{"a campaign engine", "campaigns", engine, false, true},
		{"a campaign engine beside segstream", ns, engine, false, true},
		{"another pod of the monitoring namespace", "monitoring", labels.Set{"app": "grafana"}, false, false},
		{"a Prometheus look-alike elsewhere", "default", prometheus, false, false},
		{"an unlabelled pod", "default", labels.Set{"app": "shell"}, false, false},
		{"an unlabelled pod beside segstream", ns, labels.Set{"app": "shell"}, false, false},
		{"another segstream pod", ns, labels.Set{"app.kubernetes.io/name": "segstream"}, false, false},
	} {
		if got := reaches(t, policies, tc.ns, tc.pod, "http"); got != tc.http {
			t.Errorf("%s (namespace %s) reaches the operator port: %v, want %v", tc.who, tc.ns, got, tc.http)
		}
		if got := reaches(t, policies, tc.ns, tc.pod, "api"); got != tc.api {
			t.Errorf("%s (namespace %s) reaches the API port: %v, want %v", tc.who, tc.ns, got, tc.api)
		}
	}
	// Every pod is covered, so nothing the policy does not name reaches any of them.
	for name, d := range r.deployments {
		covered := false
		for _, np := range policies {
			covered = covered || selects(t, &np.Spec.PodSelector, d.Spec.Template.Labels)
		}
		if !covered {
			t.Errorf("%s: no NetworkPolicy selects its pods", name)
		}
	}
}

// server is one host:port of SEGSTREAM_KAFKA or SEGSTREAM_REDIS.
type server struct {
	what, host string
	port       int32
}

func servers(t *testing.T, what, list string) []server {
	t.Helper()
	var out []server
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if strings.Contains(a, "://") { // a redis:// or rediss:// URL
			u, err := url.Parse(a)
			if err != nil {
				t.Fatalf("%s %q: %v", what, a, err)
			}
			a = u.Host
		}
		h, p, err := net.SplitHostPort(a)
		n, err2 := strconv.Atoi(p)
		if err != nil || err2 != nil {
			t.Fatalf("%s %q is not host:port", what, a)
		}
		out = append(out, server{what, h, int32(n)})
	}
	return out
}

// serviceNamespace is the namespace of an in-cluster Service name (name.ns.svc[.cluster.local],
// or a pod's name.service.ns.svc), or "" for a name outside the cluster.
func serviceNamespace(host string) string {
	parts := strings.Split(strings.TrimSuffix(host, ".cluster.local"), ".")
	if len(parts) < 3 || parts[len(parts)-1] != "svc" {
		return ""
	}
	return parts[len(parts)-2]
}

func checkEgress(t *testing.T, policies []*networkingv1.NetworkPolicy, env map[string]string) {
	targets := append(servers(t, "SEGSTREAM_KAFKA", env["SEGSTREAM_KAFKA"]), servers(t, "SEGSTREAM_REDIS", env["SEGSTREAM_REDIS"])...)
	allowedPorts := map[int32]bool{53: true}
	for _, s := range targets {
		allowedPorts[s.port] = true
	}
	restricted := false
	for _, np := range policies {
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			continue
		}
		restricted = true
		for _, rule := range np.Spec.Egress {
			if len(rule.To) == 0 {
				t.Errorf("NetworkPolicy %s: an egress rule without to admits every destination", np.Name)
			}
			if len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s: an egress rule without ports admits every port", np.Name)
			}
			for _, p := range rule.Ports {
				if p.Port == nil || !allowedPorts[p.Port.IntVal] {
					t.Errorf("NetworkPolicy %s: egress to port %v, which is neither DNS, Kafka nor Redis", np.Name, p.Port)
				}
			}
		}
	}
	if !restricted {
		t.Fatal("no NetworkPolicy restricts egress")
	}
	// DNS, then every Kafka broker and Redis node the ConfigMap names, at its namespace and port.
	egressTo := func(port int32, proto corev1.Protocol, peerOK func(networkingv1.NetworkPolicyPeer) bool) bool {
		for _, np := range policies {
			for _, rule := range np.Spec.Egress {
				portOK := false
				for _, p := range rule.Ports {
					portOK = portOK || (p.Port != nil && p.Port.IntVal == port && (p.Protocol == nil || *p.Protocol == proto))
				}
				if portOK && slices.ContainsFunc(rule.To, peerOK) {
					return true
				}
			}
		}
		return false
	}
	kubeDNS := func(p networkingv1.NetworkPolicyPeer) bool {
		return admits(t, p, policies[0].Namespace, "kube-system", labels.Set{"k8s-app": "kube-dns"})
	}
	if !egressTo(53, corev1.ProtocolUDP, kubeDNS) || !egressTo(53, corev1.ProtocolTCP, kubeDNS) {
		t.Error("no egress to kube-dns on port 53 (UDP and TCP)")
	}
	for _, s := range targets {
		ns := serviceNamespace(s.host)
		ok := egressTo(s.port, corev1.ProtocolTCP, func(p networkingv1.NetworkPolicyPeer) bool {
			if ns == "" {
				return p.IPBlock != nil // outside the cluster: only an address block can name it
			}
			return p.IPBlock == nil && admits(t, p, policies[0].Namespace, ns, labels.Set{})
		})
		if !ok {
			where := "namespace " + ns
			if ns == "" {
				where = "an ipBlock"
			}
			t.Errorf("%s %s:%d: no egress rule admits it (want port %d to %s)", s.what, s.host, s.port, s.port, where)
		}
	}
}

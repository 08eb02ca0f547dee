package k8s

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// roles are the binaries deployed; a role whose cmd/ directory does not exist yet is skipped.
var roles = []string{"ingest", "scorer", "retrainer"}

// cliFlag is one flag as a binary's -h prints it.
type cliFlag struct {
	Name, Type, Default, Usage string
}

func (f cliFlag) env() string {
	return "SEGSTREAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")) // internal/app/cli.EnvName
}

var (
	defaultRE = regexp.MustCompile(` \(default (.*)\)$`)
	envRE     = regexp.MustCompile(` \(env SEGSTREAM_[A-Z0-9_]+\)`)
)

// roleFlags runs `go run ./cmd/<role> -h` in the root module and parses the flag package's usage.
func roleFlags(t *testing.T, role string) []cliFlag {
	t.Helper()
	cmd := exec.Command("go", "run", "./cmd/"+role, "-h")
	cmd.Dir = repoRoot
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SEGSTREAM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // -h exits non-zero after printing the usage
	var flags []cliFlag
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			name, typ, _ := strings.Cut(strings.TrimPrefix(line, "  -"), " ")
			flags = append(flags, cliFlag{Name: name, Type: typ})
		case strings.HasPrefix(line, "    \t") && len(flags) > 0:
			f := &flags[len(flags)-1]
			f.Usage = strings.TrimSpace(f.Usage + " " + strings.TrimSpace(line))
		}
	}
	for i := range flags {
		if m := defaultRE.FindStringSubmatch(flags[i].Usage); m != nil {
			flags[i].Default = m[1]
			flags[i].Usage = strings.TrimSuffix(flags[i].Usage, m[0])
		}
		flags[i].Usage = envRE.ReplaceAllString(flags[i].Usage, "")
		if flags[i].Type == "" {
			flags[i].Type = "bool"
		}
	}
	if len(flags) == 0 {
		t.Fatalf("go run ./cmd/%s -h printed no flags:\n%s", role, out.String())
	}
	return flags
}

func flagTable(flags []cliFlag) string {
	var b strings.Builder
	b.WriteString("| flag | environment | type | default | meaning |\n|---|---|---|---|---|\n")
	for _, f := range flags {
		def := f.Default
		if def != "" {
			def = "`" + strings.Trim(def, `"`) + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", f.Name, f.env(), f.Type, def,
			strings.ReplaceAll(f.Usage, "|", `\|`))
	}
	return b.String()
}

// TestConfigReference keeps docs/operations.md's flag tables equal to what the binaries accept
// (-update rewrites them), and checks that every ConfigMap key is the environment fallback of a
// flag some role has.
func TestConfigReference(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	docPath := filepath.Join(repoRoot, "docs", "operations.md")
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	envs := map[string]bool{}
	for _, role := range roles {
		if _, err := os.Stat(filepath.Join(repoRoot, "cmd", role)); err != nil {
			t.Logf("cmd/%s does not exist yet: its flags are not checked", role)
			continue
		}
		flags := roleFlags(t, role)
		for _, f := range flags {
			envs[f.env()] = true
		}
		begin := fmt.Sprintf("<!-- BEGIN generated flags of %s: cd deploy/k8s && go test -run TestConfigReference -update -->\n", role)
		end := fmt.Sprintf("<!-- END generated flags of %s -->", role)
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Errorf("docs/operations.md has no generated flag table for %s: add the lines\n%s%s", role, begin, end)
			continue
		}
		want := flagTable(flags)
		if got := doc[i+len(begin) : j]; got != want {
			if *update {
				doc = doc[:i+len(begin)] + want + doc[j:]
			} else {
				t.Errorf("docs/operations.md: the flags of %s changed; run go test -run TestConfigReference -update\nwant:\n%s", role, want)
			}
		}
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range kustomizations {
		r := render(t, dir)
		for name, cm := range r.configMaps {
			for k := range cm.Data {
				if !envs[k] {
					t.Errorf("%s: ConfigMap %s sets %s, which no role's flag reads (unknown SEGSTREAM_ variables are ignored silently)", dir, name, k)
				}
			}
		}
	}
}

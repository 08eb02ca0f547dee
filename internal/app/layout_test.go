package app_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/segstream/segstream/"

// layers is the table in doc.go: the layer of each room, by path prefix (the longest wins).
var layers = map[string]int{
	"models/": 0, "stream/jsonscan": 0,
	"stream": 10, "redisx": 10, "promx": 10, "apix": 10, "embedded/": 11,
	"datasets": 20, "features": 21, "registry": 21,
	"ingest": 30, "retrainer": 30, "scorer": 31,
	"analysis":     40,
	"internal/app": 50, "internal/demo": 51,
	"cmd/":     60,
	"testkit/": -1, // test-only: see below
}

// room is the prefix from layers that rel falls under; packages in one room may import each
// other (Go forbids cycles), and a room imports only rooms below it.
func room(rel string) (string, int, bool) {
	best := ""
	for p := range layers {
		if (rel == strings.TrimSuffix(p, "/") || strings.HasPrefix(rel, p) || strings.HasPrefix(rel, p+"/")) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		return "", 0, false
	}
	return best, layers[best], true
}

type pkg struct {
	ImportPath   string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T, args ...string) map[string]pkg {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// TestLayout checks the layering doc.go states: no package imports a room above its own, only
// tests import testkit, and no package of the data path (stream, features, models, ingest,
// scorer, retrainer, registry) reaches anything under internal/, in its build or its tests,
// directly or through another package.
func TestLayout(t *testing.T) {
	pkgs := listPackages(t, module+"...")
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	for path, p := range pkgs {
		rel := strings.TrimPrefix(path, module)
		from, fromLayer, ok := room(rel)
		if !ok {
			t.Errorf("%s is in no room of the layout; add it to doc.go and layers", rel)
			continue
		}
		check := func(imports []string, test bool) {
			for _, imp := range imports {
				if !strings.HasPrefix(imp, module) {
					continue
				}
				irel := strings.TrimPrefix(imp, module)
				to, toLayer, ok := room(irel)
				switch {
				case !ok:
					t.Errorf("%s imports %s, which is in no room", rel, irel)
				case to == "testkit/" && !test && from != "testkit/":
					t.Errorf("%s imports the test harness %s outside its tests", rel, irel)
				case to == "testkit/" || from == to:
				case from == "testkit/" && toLayer <= 31:
				case toLayer >= fromLayer:
					t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only below its room", rel, fromLayer, irel, toLayer)
				}
			}
		}
		check(p.Imports, false)
		check(append(append([]string{}, p.TestImports...), p.XTestImports...), true)
	}

	// Nothing on the data path reaches internal/, even through a test's harness.
	for path, p := range pkgs {
		rel := strings.TrimPrefix(path, module)
		if _, layer, _ := room(rel); layer < 0 || layer > 31 {
			continue
		}
		reach := append(append(append([]string{}, p.Deps...), p.TestImports...), p.XTestImports...)
		for _, imp := range append(p.TestImports, p.XTestImports...) {
			if q, ok := pkgs[imp]; ok {
				reach = append(reach, q.Deps...)
			}
		}
		for _, d := range reach {
			if strings.HasPrefix(d, module+"internal/") {
				t.Errorf("%s reaches %s: internal/ is the program's wiring, above the data path", rel, strings.TrimPrefix(d, module))
			}
		}
	}
}

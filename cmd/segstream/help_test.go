package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/testkit/testenv"
)

// TestHelpConventions: --help and help list the verbs (exit 0, stdout); VERB --help lists its
// sub-verbs; VERB SUB --help prints the flags; a bad sub-verb or a stray argument is a usage
// error (exit 2) that names what to do.
func TestHelpConventions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  []string // in stdout
		err  string   // in stderr
	}{
		{[]string{"--help"}, 0, []string{"analyze", "bundle", "replay", "With no verb"}, ""},
		{[]string{"help"}, 0, []string{"export"}, ""},
		{[]string{"analyze", "--help"}, 0, []string{"clv", "segmentation", "brand-choice"}, ""},
		{[]string{"bundle", "-h"}, 0, []string{"build", "publish", "show"}, ""},
		{[]string{"analyze", "rfm", "--help"}, 0, []string{"usage of segstream analyze rfm", "-as-of"}, ""},
		{[]string{"bundle", "show", "--help"}, 0, []string{"[BUNDLE.json]", "-redis"}, ""},
		{[]string{"analyze"}, 2, nil, "needs a sub-verb: one of brand-choice"},
		{[]string{"bench", "nope"}, 2, nil, `unknown sub-verb "nope": one of ingest, retrain`},
		{[]string{"analyze", "clv", "stray"}, 2, nil, `unexpected argument "stray"`},
		{[]string{"export", "features", "--nope"}, 2, nil, "--help lists the flags"},
		{[]string{"nope"}, 2, nil, `unknown verb "nope"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.out {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if !strings.Contains(stderr, tc.err) {
				t.Errorf("stderr %q lacks %q", stderr, tc.err)
			}
		})
	}
}

// TestDemoFlagErrors: a bad --replay names the unknown preset and the known ones.
func TestDemoFlagErrors(t *testing.T) {
	code, _, stderr := runCLI(t, "demo", "--replay", "foo=/nope")
	if code != 2 || !strings.Contains(stderr, `unknown preset "foo": one of online-retail`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "demo", "--replay", "online-retail")
	if code != 2 || !strings.Contains(stderr, "give PRESET=PATH") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestHelpExampleRunsFromTheDataDirectory: the data file the segmentation help names, given as
// it shows it, is found under SEGSTREAM_DATA; one found nowhere fails at run time (exit 1) with
// where else it was looked for.
func TestHelpExampleRunsFromTheDataDirectory(t *testing.T) {
	testenv.DataFile(t, "customer_analytics_365/segmentation data.csv")
	t.Setenv("SEGSTREAM_DATA", testenv.DataDir(t))
	_, help, _ := runCLI(t, "analyze", "segmentation", "--help")
	if !strings.Contains(help, `"customer_analytics_365/segmentation data.csv"`) || !strings.Contains(help, "$SEGSTREAM_DATA") {
		t.Fatalf("the help does not give the example path and where it is looked for:\n%s", help)
	}
	if code, stdout, stderr := runCLI(t, "analyze", "segmentation", "--file", "customer_analytics_365/segmentation data.csv", "--json"); code != 0 || !strings.Contains(stdout, `"by_k"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr := runCLI(t, "analyze", "segmentation", "--file", "nowhere.csv")
	if code != 1 || !strings.Contains(stderr, "also looked for under "+testenv.DataDir(t)) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestCompletion: the bash script completes verbs, sub-verbs and a leaf's flags in a real bash;
// zsh gets the same through bashcompinit; another shell is a usage error.
func TestCompletion(t *testing.T) {
	code, script, stderr := runCLI(t, "completion", "bash")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "segstream.bash")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]string{
		`segstream an`:                        "analyze",
		`segstream analyze se`:                "segmentation",
		`segstream analyze segmentation --se`: "--seed",
		`segstream bench ""`:                  "ingest retrain",
		`segstream analyze network --edges x`: "", // a flag's value: files
		`segstream completion ""`:             "bash zsh",
	} {
		out, err := exec.Command(bash, "-c", `source "$1"; eval "COMP_WORDS=($2)"; COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _segstream; echo "${COMPREPLY[*]}"`, "-", f, line).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("%s: completed %q (%v), want %q", line, strings.TrimSpace(string(out)), err, want)
		}
	}
	if code, zsh, _ := runCLI(t, "completion", "zsh"); code != 0 || !strings.Contains(zsh, "bashcompinit") || !strings.Contains(zsh, "complete -o default -F _segstream segstream") {
		t.Errorf("zsh script (exit %d):\n%.300s", code, zsh)
	}
	if code, _, stderr := runCLI(t, "completion", "fish"); code != 2 || !strings.Contains(stderr, "segstream completion zsh") {
		t.Errorf("fish: exit %d, %q", code, stderr)
	}
}

// TestHelpExamplesRun runs the example every analyze verb's help shows, as printed, from the
// repository root with SEGSTREAM_DATA unset (the data under ../shared/data, as in this
// workspace): each exits 0.
func TestHelpExamplesRun(t *testing.T) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "..", "shared", "data")); err != nil {
		t.Skipf("no data directory beside the repository: %v", err)
	}
	t.Setenv("SEGSTREAM_DATA", "")
	t.Chdir(root)
	for _, name := range sortedNames(verbs["analyze"].subs) {
		c := verbs["analyze"].subs[name]
		if c.example == "" {
			t.Errorf("analyze %s: no example in its help", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			args := shellWords(t, c.example)
			if args[0] != "segstream" {
				t.Fatalf("example %q does not start with segstream", c.example)
			}
			if code, _, stderr := runCLI(t, args[1:]...); code != 0 {
				t.Fatalf("%s: exit %d: %s", c.example, code, stderr)
			}
		})
	}
}

// shellWords splits a command line as sh would for plain words and double-quoted ones.
func shellWords(t *testing.T, line string) []string {
	var out []string
	var w strings.Builder
	quoted, in := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if in {
		out = append(out, w.String())
	}
	return out
}

package main

import (
	"strings"
	"testing"
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

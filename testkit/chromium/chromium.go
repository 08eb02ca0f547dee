// Package chromium finds Debian's headless Chromium for the tests that render pages in it
// (the scorer's dashboard, the retrainer's report).
package chromium

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Path finds Debian's chromium. CI must run the browser tests (scripts/test-deps.sh installs
// it), so a missing browser fails there, or wherever SEGSTREAM_REQUIRE_BROWSER is set, instead
// of passing silently; elsewhere the test is skipped.
func Path(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("SEGSTREAM_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium not found on PATH and CI or SEGSTREAM_REQUIRE_BROWSER is set: run scripts/test-deps.sh")
		}
		t.Skip("chromium not found on PATH: run scripts/test-deps.sh (apt-get install chromium) to run the browser test")
	}
	return p
}

// Headless is the flags a test run needs: no sandbox (tests run as root in containers), no
// GPU, nothing that reaches the network on its own, a throwaway profile, and console messages
// on stderr so that tests can look for errors.
func Headless(profileDir string) []string {
	return []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0", "--user-data-dir=" + profileDir}
}

// DumpDOM loads url in headless Chromium (found by Path), lets the page's timers run for
// budget of virtual time and returns the DOM it then holds, and the browser's console log
// (stderr). It fails the test when the browser does not finish within 30 s.
func DumpDOM(t testing.TB, ctx context.Context, url string, budget time.Duration) (dom, console string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := append(Headless(t.TempDir()), "--virtual-time-budget="+strconv.FormatInt(budget.Milliseconds(), 10), "--dump-dom", url)
	cmd := exec.CommandContext(ctx, Path(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

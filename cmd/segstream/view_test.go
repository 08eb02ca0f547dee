package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/testkit/testenv"
)

// TestDemoTerminalView runs the demo in a 100×30 tmux pane, as a person would in a terminal:
// the live view fits the pane, is redrawn in place (the pane's scrollback does not grow), shows
// the model, the segments as bars, the segment changes and the refit, and q stops the demo with
// exit status 0 and the terminal restored.
func TestDemoTerminalView(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux not found on PATH and CI is set: run scripts/test-deps.sh")
		}
		t.Skip("tmux not found on PATH: run scripts/test-deps.sh (apt-get install tmux)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	socket := filepath.Join(dir, "tmux.sock") // a server of its own, whatever else runs
	exitFile := filepath.Join(dir, "exit")
	api := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := fmt.Sprintf("SEGSTREAM_TEST_MAIN=1 %q demo --data-dir %q --api %s --http 127.0.0.1:%d --customers 300 --history 2160h --rate 5000 --bootstrap-after 100; echo $? > %q; sleep 60",
		self, filepath.Join(dir, "data"), api, testenv.FreePort(t), exitFile)
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-S", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tm("-f", "/dev/null", "new-session", "-d", "-s", "demo", "-x", "100", "-y", "30", "env TERM=xterm-256color sh -c "+strconv.Quote(cmd))
	t.Cleanup(func() { exec.Command(tmux, "-S", socket, "kill-server").Run() })

	var screen string
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(screen, "promoted (") || !strings.Contains(screen, "█") {
		if time.Now().After(deadline) {
			t.Fatalf("no model and segments on the screen within 2 minutes:\n%s", screen)
		}
		time.Sleep(time.Second)
		screen = tm("capture-pane", "-p", "-t", "demo")
	}
	history := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(tm("display-message", "-p", "-t", "demo", "#{history_size}")))
		return n
	}
	before := history()
	time.Sleep(5 * time.Second) // five redraws
	screen = tm("capture-pane", "-p", "-t", "demo")
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	for i, l := range lines {
		if w := len([]rune(l)); w > 100 {
			t.Errorf("line %d is %d columns: %q", i, w, l)
		}
	}
	if len(lines) > 30 {
		t.Errorf("%d lines in a 30-line pane", len(lines))
	}
	for _, want := range []string{"segstream demo · up", "dashboard http://" + api + "/", "events ingested", "consumer lag", "model            v1,",
		"SEGMENTS (live sizes)", "LATEST SEGMENT CHANGES", "REFITS"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
	if after := history(); after > before {
		t.Errorf("the pane's scrollback grew from %d to %d lines in 5 s: the view scrolls instead of redrawing", before, after)
	}
	t.Logf("screen:\n%s", screen)

	tm("send-keys", "-t", "demo", "q")
	deadline = time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(exitFile)
		if err == nil {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Fatalf("the demo exited with %s after q", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not stop within 30 s of q:\n%s", tm("capture-pane", "-p", "-t", "demo"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The terminal is restored: the lines printed before the view are back, and the view's are gone.
	if after := tm("capture-pane", "-p", "-t", "demo"); !strings.Contains(after, "stopped cleanly") || strings.Contains(after, "SEGMENTS (live sizes)") {
		t.Errorf("after q the pane shows:\n%s", after)
	}
}

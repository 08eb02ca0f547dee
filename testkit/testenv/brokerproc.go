package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segstream/segstream/embedded/devbroker"
)

// brokerEnv carries a broker child's settings: listen address, data directory, partitions.
const brokerEnv = "SEGSTREAM_TESTENV_BROKER"

// ServeBrokerIfAsked turns the test binary into a broker process when StartBrokerProcess
// started it; call it first thing in TestMain. Otherwise it returns at once.
func ServeBrokerIfAsked() {
	spec := os.Getenv(brokerEnv)
	if spec == "" {
		return
	}
	f := strings.SplitN(spec, "|", 3)
	if len(f) != 3 {
		fmt.Fprintf(os.Stderr, "%s=%q: want listen|data-dir|partitions\n", brokerEnv, spec)
		os.Exit(2)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: partitions %q: %v\n", brokerEnv, f[2], err)
		os.Exit(2)
	}
	b, err := devbroker.Start(devbroker.Options{Listen: f[0], DataDir: f[1], Partitions: int32(n)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	b.Close()
	os.Exit(0)
}

// StartBrokerProcess runs the broker in a child process (the test binary again, which must
// call ServeBrokerIfAsked from TestMain) instead of in the test's own, as production runs Kafka
// apart from ingest and the scorer: in-process, the broker's stored records are the larger
// part of the test's heap, and every garbage collection of ingest and the scorer marks them.
// Stop and Restart work as for StartBroker; Dev is nil.
func StartBrokerProcess(t testing.TB, partitions int32) *Broker {
	t.Helper()
	o := devbroker.Options{Listen: "127.0.0.1:" + strconv.Itoa(FreePort(t)), DataDir: t.TempDir(), Partitions: partitions}
	b := &Broker{t: t, opts: o, Address: o.Listen, process: true}
	b.start()
	t.Cleanup(b.Stop)
	return b
}

func (b *Broker) startProcess() {
	b.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", brokerEnv, b.opts.Listen, b.opts.DataDir, b.opts.Partitions))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("starting broker process: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := dialTCP(b.opts.Listen); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			b.t.Fatalf("broker process exited at start (does TestMain call testenv.ServeBrokerIfAsked?)")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b.t.Fatalf("broker process not listening on %s after 30s", b.opts.Listen)
		}
	}
	b.cmd, b.exited = cmd, exited
}

// Kill ends a broker process (StartBrokerProcess) with SIGKILL, as a crash would: nothing is
// flushed or closed, and what it had handed to its data directory is all a Start finds. It
// returns an error when the process was not running or did not die of the SIGKILL. It does not
// call t.Fatal, so a test may call it from any goroutine (a fault hook).
func (b *Broker) Kill() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.process {
		return fmt.Errorf("broker on %s runs in the test's process: Kill needs StartBrokerProcess", b.Address)
	}
	if b.cmd == nil {
		return fmt.Errorf("broker on %s is not running", b.Address)
	}
	cmd := b.cmd
	b.cmd = nil
	_ = cmd.Process.Kill()
	<-b.exited
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("broker process ended with %v, not by SIGKILL", cmd.ProcessState)
	}
	return nil
}

// Start starts a stopped or killed broker again on its address and data directory.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.process && b.cmd != nil || !b.process && b.b != nil {
		return
	}
	b.start()
}

func (b *Broker) stopProcess() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
}

func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

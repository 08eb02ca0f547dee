// Package redisproc runs a redis-server child process: for tests (which kill and restart it),
// for benchmarks, and for the all-in-one demo when redis-server is installed.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Available reports whether redis-server is on PATH.
func Available() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// ListpackHashes are the server arguments docs/operations.md advises for segstream's Redis: hashes
// with values up to 1 KB stored as listpacks, so a score hash (a 400-700-byte score JSON among
// seven fields) takes about a third less memory than as a hash table, for the same Redis CPU
// (scorer's BenchmarkWriteLive). The demo's and the benchmarks' servers take them; the tests'
// keep Redis's defaults, as an operator who has not read the advice has them. The name is the
// one before Redis 7, which Redis 7 keeps as an alias of hash-max-listpack-value, so any
// redis-server takes it.
var ListpackHashes = []string{"--hash-max-ziplist-value", "1024"}

// Options configure a server.
type Options struct {
	Port  int      // 0 picks a free one
	Dir   string   // working directory (AOF, RDB); default a new temp dir
	Extra []string // more server arguments, e.g. "--appendonly", "yes"
}

// Proc is a redis-server child.
type Proc struct {
	Addr string
	o    Options

	mu  sync.Mutex
	cmd *exec.Cmd
	tmp string
}

// Start starts redis-server bound to 127.0.0.1 and waits until it answers PING.
func Start(ctx context.Context, o Options) (*Proc, error) {
	if !Available() {
		return nil, errors.New("redis-server is not on PATH (Debian: apt-get install -y redis-server)")
	}
	p := &Proc{o: o}
	if p.o.Dir == "" {
		d, err := os.MkdirTemp("", "segstream-redis-")
		if err != nil {
			return nil, fmt.Errorf("creating redis dir: %w", err)
		}
		p.o.Dir, p.tmp = d, d
	}
	if p.o.Port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		p.o.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	p.Addr = "127.0.0.1:" + strconv.Itoa(p.o.Port)
	return p, p.Restart(ctx)
}

// Restart starts the server again on the same port and directory if it is not running.
func (p *Proc) Restart(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	args := []string{"--port", strconv.Itoa(p.o.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", p.o.Dir,
		"--protected-mode", "no", "--loglevel", "warning"}
	cmd := exec.Command("redis-server", append(args, p.o.Extra...)...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	p.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis-server on %s did not answer PING: %w", p.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (p *Proc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Signal sends sig to the server if it is running: SIGSTOP and SIGCONT freeze and thaw it,
// as a stalled machine would.
func (p *Proc) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return errors.New("redis-server is not running")
	}
	return p.cmd.Process.Signal(sig)
}

// Close kills the server and removes a directory Start created.
func (p *Proc) Close() {
	p.Kill()
	if p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}

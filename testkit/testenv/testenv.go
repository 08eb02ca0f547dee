// Package testenv gives tests real servers: a redis-server child on a free port that a test can
// kill and restart, an in-process Kafka-protocol broker that keeps its log across restarts, and
// the path of the shared data sets.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/embedded/devbroker"
	"github.com/segstream/segstream/embedded/redisproc"
)

// DataDir is the folder of real data sets: $SEGSTREAM_DATA, or ../shared/data beside the
// module root.
func DataDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SEGSTREAM_DATA"); d != "" {
		return d
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("finding module root: %v", err)
	}
	return filepath.Join(root, "..", "shared", "data")
}

// DataFile returns the path of a file under DataDir and skips the test only when the data
// folder is absent altogether (a clone without shared/ beside it); a missing file in a present
// folder fails the test.
func DataFile(t testing.TB, rel string) string {
	t.Helper()
	dir := DataDir(t)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("data sets not found at %s (set SEGSTREAM_DATA): %v", dir, err)
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("data file missing: %v", err)
	}
	return p
}

// ModuleRoot is the directory holding go.mod, found from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RedisServer is a redis-server child process owned by one test.
type RedisServer struct {
	t    testing.TB
	Addr string
	p    *redisproc.Proc
}

// StartRedis starts redis-server on a free port with persistence off unless extra server
// arguments turn it on (for example "--appendonly", "yes", "--appendfsync", "always", so a
// killed server comes back with every acknowledged write); it is killed at cleanup.
func StartRedis(t testing.TB, extra ...string) *RedisServer {
	t.Helper()
	if !redisproc.Available() {
		t.Fatalf("redis-server is not on PATH: run the README's test command (make test), which installs it, or apt-get install -y redis-server")
	}
	p, err := redisproc.Start(context.Background(), redisproc.Options{Dir: t.TempDir(), Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &RedisServer{t: t, Addr: p.Addr, p: p}
}

// Start restarts a killed server on the same port and directory.
func (r *RedisServer) Start() {
	r.t.Helper()
	if err := r.p.Restart(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// Kill stops the server with SIGKILL; without AOF its data is lost, as in a crash.
func (r *RedisServer) Kill() { r.p.Kill() }

// Client returns a client for the server, closed at cleanup.
func (r *RedisServer) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// Broker is an in-process kfake broker with a data directory, so Restart keeps records and
// committed offsets.
type Broker struct {
	t       testing.TB
	opts    devbroker.Options
	mu      sync.Mutex
	b       *devbroker.Broker
	Address string
	// process: the broker runs in a child process (StartBrokerProcess).
	process bool
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StartBroker starts a one-node broker on a free port with segstream's topics at the given
// partition count; it is closed at cleanup.
func StartBroker(t testing.TB, partitions int32) *Broker {
	t.Helper()
	o := devbroker.Options{
		Listen:     "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		DataDir:    t.TempDir(),
		Partitions: partitions,
	}
	b := &Broker{t: t, opts: o, Address: o.Listen}
	b.start()
	t.Cleanup(b.Stop)
	return b
}

func (b *Broker) start() {
	b.t.Helper()
	if b.process {
		b.startProcess()
		return
	}
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after a restart
		var br *devbroker.Broker
		br, err = devbroker.Start(b.opts)
		if err == nil {
			b.b = br
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("starting broker: %v", err)
}

// Stop closes the broker; Restart brings it back on the same address with its log.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.process {
		b.stopProcess()
		return
	}
	if b.b != nil {
		b.b.Close()
		b.b = nil
	}
}

// Restart stops and starts the broker on the same port and data directory.
func (b *Broker) Restart() {
	b.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start()
}

// Dev returns the running devbroker.
func (b *Broker) Dev() *devbroker.Broker {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b
}

// ReadLines is a small helper for tests that read text fixtures.
func ReadLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	return out, sc.Err()
}

func init() {
	// go-redis logs every failed dial; tests that kill Redis on purpose would drown in it.
	redis.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// DocumentedIngestACL is the Redis ACL rule list docs/operations.md tells operators to give
// ingest, so a test can run under exactly what the documentation grants.
func DocumentedIngestACL(t testing.TB) []string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("Redis ACL for segstream needs the commands\\s+it uses on its keys only: `([^`]+)`").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/operations.md no longer states the Redis ACL segstream needs")
	}
	return strings.Fields(string(m[1]))
}

// ACLClient creates the Redis user name with rules (nothing else granted) on r and returns a
// client that logs in as it.
func (r *RedisServer) ACLClient(t testing.TB, name string, rules []string) *redis.Client {
	t.Helper()
	admin := r.Client()
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">pw"}
	for _, rule := range rules {
		args = append(args, rule)
	}
	if err := admin.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER %s %v: %v", name, rules, err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Username: name, Password: "pw"})
	t.Cleanup(func() { c.Close() })
	return c
}

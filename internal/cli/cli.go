// Package cli is the flag plumbing every segstream binary shares: server addresses named the same
// way everywhere (--kafka, --redis, --http), SEGSTREAM_ environment fallbacks, and validation that
// stops a program at start with a message that says what to fix.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
)

// EnvPrefix is prepended to a flag's upper-cased name (dashes as underscores) to find its
// environment fallback: --kafka is SEGSTREAM_KAFKA, --features-topic is SEGSTREAM_FEATURES_TOPIC.
const EnvPrefix = "SEGSTREAM_"

// EnvName is the environment variable that stands in for the named flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then fills every flag not given on the command line from its
// environment variable. Flags win over the environment, which wins over defaults.
func Parse(fs *flag.FlagSet, args []string) error {
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nEvery flag can also be set by the environment: --batch-size is %s. Flags win.\n", EnvName("batch-size"))
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("environment %s=%q: %w", EnvName(f.Name), v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Servers are the addresses every binary takes the same way.
type Servers struct {
	Kafka string // comma-separated host:port list
	Redis string // host:port or redis:// / rediss:// URL
	HTTP  string // host:port for /metrics, health and APIs
}

// Register adds --kafka, --redis and --http to fs.
func (s *Servers) Register(fs *flag.FlagSet, defaultHTTP string) {
	fs.StringVar(&s.Kafka, "kafka", "127.0.0.1:9092", "Kafka bootstrap brokers, host:port[,host:port...] (env SEGSTREAM_KAFKA)")
	fs.StringVar(&s.Redis, "redis", "127.0.0.1:6379", "Redis address host:port or redis://[user:pass@]host:port/db URL; rediss:// for TLS (env SEGSTREAM_REDIS)")
	fs.StringVar(&s.HTTP, "http", defaultHTTP, "listen address for /metrics, /healthz, /readyz (env SEGSTREAM_HTTP)")
}

// KafkaBrokers validates --kafka and splits it into broker addresses.
func KafkaBrokers(list string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(list, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			return nil, fmt.Errorf("--kafka: %q is not host:port (example: --kafka 10.0.0.1:9092,10.0.0.2:9092): %w", b, err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("--kafka is empty: give at least one broker as host:port")
	}
	return out, nil
}

// RedisOptions turns --redis into client options: a bare host:port or a redis:// URL.
func RedisOptions(addr string) (*redis.Options, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, errors.New("--redis is empty: give host:port or a redis:// URL")
	}
	if strings.Contains(addr, "://") {
		o, err := redis.ParseURL(addr)
		if err != nil {
			return nil, fmt.Errorf("--redis: %q is not a valid redis:// URL: %w", addr, err)
		}
		return o, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("--redis: %q is not host:port or a redis:// URL: %w", addr, err)
	}
	return &redis.Options{Addr: addr}, nil
}

// CheckListen validates a --http style listen address.
func CheckListen(name, addr string) error {
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--%s: %q is not host:port (example: --%s 127.0.0.1:8080): %w", name, addr, name, err)
	}
	return nil
}

// Package cli is the flag plumbing every segstream binary shares: server addresses named the same
// way everywhere (--kafka, --redis, --http), SEGSTREAM_ environment fallbacks, and validation that
// stops a program at start with a message that says what to fix.
package cli

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/internal/app/ops"
	"github.com/segstream/segstream/stream"
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
		example := ""
		fs.VisitAll(func(f *flag.Flag) {
			if example == "" {
				example = f.Name
			}
		})
		if example != "" {
			fmt.Fprintf(out, "\nEvery flag can also be set by the environment: --%s is %s. Flags win.\n", example, EnvName(example))
			if fs.Lookup("file") != nil || fs.Lookup("edges") != nil {
				fmt.Fprintln(out, "An input file not found as given is looked for under $SEGSTREAM_DATA (default ../shared/data).")
			}
		}
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
	HTTP  string // host:port for /metrics, /healthz and /readyz (the operator port)

	// API is host:port of the API listener (the scorer's read API and dashboard, the
	// retrainer's endpoints), apart from HTTP so that /metrics and the probes never face API
	// clients; empty serves no API. Roles without an API do not register it.
	API string
	// APIMaxConns caps the API's open connections; APIRate and APIBurst are each client
	// address's request rate (0 disables it) and burst.
	APIMaxConns int
	APIRate     float64
	APIBurst    int

	KafkaSecurity stream.SecurityConfig
	RedisAuth     RedisAuth
}

// RedisAuth is Redis ACL credentials and TLS given apart from the address: a Redis Cluster's
// address list has no room for them, and secrets are better kept out of URLs.
type RedisAuth struct {
	Username, Password        string
	TLS                       bool
	CAFile, CertFile, KeyFile string
}

// Register adds --kafka, --redis and --http, and the Kafka and Redis security flags, to fs.
func (s *Servers) Register(fs *flag.FlagSet, defaultHTTP string) {
	fs.StringVar(&s.Kafka, "kafka", "127.0.0.1:9092", "Kafka bootstrap brokers, host:port[,host:port...] (env SEGSTREAM_KAFKA)")
	fs.StringVar(&s.Redis, "redis", "127.0.0.1:6379", "Redis address host:port or redis://[user:pass@]host:port/db URL; rediss:// for TLS; host:port,host:port,... for Redis Cluster (env SEGSTREAM_REDIS)")
	fs.StringVar(&s.HTTP, "http", defaultHTTP, "listen address for /metrics, /healthz, /readyz (env SEGSTREAM_HTTP)")
	RegisterKafkaSecurity(fs, &s.KafkaSecurity)
	r := &s.RedisAuth
	fs.StringVar(&r.Username, "redis-username", "", "Redis ACL user (also for Redis Cluster); overrides a user in a redis:// URL")
	fs.StringVar(&r.Password, "redis-password", "", "Redis password; prefer the environment (SEGSTREAM_REDIS_PASSWORD) to the command line")
	fs.BoolVar(&r.TLS, "redis-tls", false, "connect to Redis over TLS (the system roots, plus --redis-tls-ca-file); also for Redis Cluster")
	fs.StringVar(&r.CAFile, "redis-tls-ca-file", "", "PEM CA certificate(s) to trust for Redis, besides the system roots (implies --redis-tls)")
	fs.StringVar(&r.CertFile, "redis-tls-cert-file", "", "PEM client certificate for mutual TLS with Redis (with --redis-tls-key-file)")
	fs.StringVar(&r.KeyFile, "redis-tls-key-file", "", "PEM private key of --redis-tls-cert-file")
}

// RegisterAPI adds --api and the API's limits (--api-max-conns, --api-rate, --api-burst) to fs,
// for the roles that serve an API.
func (s *Servers) RegisterAPI(fs *flag.FlagSet, defaultAPI string) {
	fs.StringVar(&s.API, "api", defaultAPI, "listen address for the API (the scorer's /v1/ and dashboard, the retrainer's /v1/retrain and reports), apart from --http (env SEGSTREAM_API); empty serves no API")
	fs.IntVar(&s.APIMaxConns, "api-max-conns", ops.DefaultAPIMaxConns, "most connections the API holds open; more are closed at once and counted")
	fs.Float64Var(&s.APIRate, "api-rate", ops.DefaultRatePerSecond, "requests per second each client address may send the API on average (0 disables the limit); beyond it, 429 with Retry-After")
	fs.IntVar(&s.APIBurst, "api-burst", ops.DefaultRateBurst, "requests a client address may send the API at once before --api-rate applies")
}

// CheckServers validates --http, --api and the API's limits.
func (s *Servers) CheckServers() error {
	if err := CheckListen("http", s.HTTP); err != nil {
		return err
	}
	if err := CheckListen("api", s.API); err != nil {
		return err
	}
	if s.API == "" {
		return nil
	}
	if s.API == s.HTTP {
		return fmt.Errorf("--api %q is --http's address: give the API a port of its own, so /metrics and the probes stay apart from API clients", s.API)
	}
	if s.APIMaxConns < 1 {
		return fmt.Errorf("--api-max-conns %d: give at least 1", s.APIMaxConns)
	}
	if s.APIRate < 0 {
		return fmt.Errorf("--api-rate %v: give requests per second, or 0 to disable the limit", s.APIRate)
	}
	if s.APIRate > 0 && s.APIBurst < 1 {
		return fmt.Errorf("--api-burst %d: give at least 1 request", s.APIBurst)
	}
	return nil
}

// RegisterKafkaSecurity adds the Kafka TLS and SASL flags to fs, for tools that take --kafka
// without the other servers.
func RegisterKafkaSecurity(fs *flag.FlagSet, k *stream.SecurityConfig) {
	fs.BoolVar(&k.TLS, "kafka-tls", false, "connect to Kafka over TLS (the system roots, plus --kafka-tls-ca-file)")
	fs.StringVar(&k.CAFile, "kafka-tls-ca-file", "", "PEM CA certificate(s) to trust for Kafka, besides the system roots (implies --kafka-tls)")
	fs.StringVar(&k.CertFile, "kafka-tls-cert-file", "", "PEM client certificate for mutual TLS with Kafka (with --kafka-tls-key-file)")
	fs.StringVar(&k.KeyFile, "kafka-tls-key-file", "", "PEM private key of --kafka-tls-cert-file")
	fs.StringVar(&k.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism for Kafka: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	fs.StringVar(&k.Username, "kafka-sasl-username", "", "SASL user name for Kafka")
	fs.StringVar(&k.Password, "kafka-sasl-password", "", "SASL password for Kafka; prefer the environment (SEGSTREAM_KAFKA_SASL_PASSWORD) to the command line")
}

// Cluster validates --kafka and the Kafka security flags.
func (s *Servers) Cluster() (stream.Cluster, error) {
	brokers, err := KafkaBrokers(s.Kafka)
	if err != nil {
		return stream.Cluster{}, err
	}
	sec, err := s.KafkaSecurity.Build()
	if err != nil {
		return stream.Cluster{}, err
	}
	return stream.Cluster{Brokers: brokers, Security: sec}, nil
}

// Apply sets the credentials and TLS of a on a client's options.
func (a RedisAuth) Apply(username, password *string, tlsConf **tls.Config) error {
	if a.Username != "" {
		*username = a.Username
	}
	if a.Password != "" {
		*password = a.Password
	}
	if a.TLS || a.CAFile != "" || a.CertFile != "" || a.KeyFile != "" {
		t, err := stream.TLSConfig("redis", a.CAFile, a.CertFile, a.KeyFile)
		if err != nil {
			return err
		}
		*tlsConf = t
	}
	return nil
}

// List splits a comma-separated flag value into its elements, trimmed of spaces, leaving out
// empty ones (a trailing comma, or ", ," between two).
func List(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// KafkaBrokers validates --kafka and splits it into broker addresses.
func KafkaBrokers(list string) ([]string, error) {
	out := List(list)
	for _, b := range out {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return nil, fmt.Errorf("--kafka: %q is not host:port (example: --kafka 10.0.0.1:9092,10.0.0.2:9092): %w", b, err)
		}
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

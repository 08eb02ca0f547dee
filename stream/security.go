package stream

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Security is how every Kafka client of a process authenticates and encrypts. The zero value
// (and a nil *Security) is plaintext without SASL.
type Security struct {
	TLS  *tls.Config
	SASL sasl.Mechanism
	// Config is what Build made this from, for clients other than kafka-go's.
	Config SecurityConfig
}

// SecurityConfig is what the flags say; Build turns it into a Security.
type SecurityConfig struct {
	TLS                       bool
	CAFile, CertFile, KeyFile string
	// SASLMechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism, Username, Password string
}

// Build validates c: unreadable files, a certificate without its key, an unknown mechanism or
// a mechanism without credentials are errors that say which flag to fix.
func (c SecurityConfig) Build() (*Security, error) {
	s := &Security{Config: c}
	if c.TLS || c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" {
		t, err := tlsConfig("kafka", c.CAFile, c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		s.TLS = t
	}
	m := strings.ToUpper(strings.TrimSpace(c.SASLMechanism))
	if m == "" {
		if c.Username != "" || c.Password != "" {
			return nil, errors.New("--kafka-sasl-username/--kafka-sasl-password are set without --kafka-sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return s, nil
	}
	if c.Username == "" || c.Password == "" {
		return nil, fmt.Errorf("--kafka-sasl-mechanism %s needs --kafka-sasl-username and --kafka-sasl-password (env SEGSTREAM_KAFKA_SASL_PASSWORD)", m)
	}
	switch m {
	case "PLAIN":
		s.SASL = plain.Mechanism{Username: c.Username, Password: c.Password}
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		alg := scram.SHA256
		if m == "SCRAM-SHA-512" {
			alg = scram.SHA512
		}
		mech, err := scram.Mechanism(alg, c.Username, c.Password)
		if err != nil {
			return nil, fmt.Errorf("--kafka-sasl-mechanism %s: %w", m, err)
		}
		s.SASL = mech
	default:
		return nil, fmt.Errorf("--kafka-sasl-mechanism %q: give PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	return s, nil
}

// TLSConfig builds a client TLS configuration: the system roots plus caFile when given, and a
// client certificate for mutual TLS when certFile and keyFile are. what names the flag prefix
// for error messages ("kafka", "redis").
func TLSConfig(what, caFile, certFile, keyFile string) (*tls.Config, error) {
	return tlsConfig(what, caFile, certFile, keyFile)
}

func tlsConfig(what, caFile, certFile, keyFile string) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--%s-tls-ca-file: %w", what, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--%s-tls-ca-file %s: no PEM certificate in it", what, caFile)
		}
		t.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("--%s-tls-cert-file and --%s-tls-key-file go together (mutual TLS)", what, what)
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--%s-tls-cert-file/--%s-tls-key-file: %w", what, what, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// Dialer is a kafka-go dialer with s's TLS and SASL, for readers and leader connections. Its
// connections read through a 64 KiB buffer (bufferedConn).
func (s *Security) Dialer() *kafka.Dialer {
	d := &kafka.Dialer{Timeout: 10 * time.Second, DialFunc: dialBuffered}
	if s != nil {
		d.TLS, d.SASLMechanism = s.TLS, s.SASL
	}
	return d
}

// readBuffer is the read buffer of a Kafka connection. kafka-go reads a connection through a
// bufio.Reader of 4 KiB, so a consumer's fetch responses of up to a MiB (records of a few
// hundred bytes, each read on its own) cost one read(2) every 4 KiB: 7% of the CPU of `segstream
// bench ingest` went to those syscalls.
const readBuffer = 64 << 10

// bufferedConn is a connection whose reads go through a larger buffer than kafka-go's own.
// Deadlines and writes are the connection's: a read served from the buffer never blocks.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// dialBuffered dials as kafka-go's default dialer (dual stack, keep-alives) and buffers reads.
func dialBuffered(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBuffer)}, nil
}

// Transport is a kafka-go transport with s's TLS and SASL, for writers and the admin client;
// nil when s is plaintext, so kafka-go's default transport (and its connection pool) is used.
func (s *Security) Transport() kafka.RoundTripper {
	if s == nil || (s.TLS == nil && s.SASL == nil) {
		return nil
	}
	return &kafka.Transport{TLS: s.TLS, SASL: s.SASL, DialTimeout: 10 * time.Second,
		Dial: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext}
}

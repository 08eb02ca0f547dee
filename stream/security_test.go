package stream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestSecurityAgainstKfake produces and consumes through a broker that requires TLS and
// SCRAM-SHA-256, and checks that plaintext and wrong credentials are refused.
func TestSecurityAgainstKfake(t *testing.T) {
	serverTLS, ca := testenv.SelfSignedTLS(t)
	c := testenv.StartKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "secure"), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "segstream", "s3cret"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(t, 30*time.Second)

	sec, err := stream.SecurityConfig{TLS: true, CAFile: ca, SASLMechanism: "scram-sha-256", Username: "segstream", Password: "s3cret"}.Build()
	if err != nil {
		t.Fatal(err)
	}
	w := stream.NewWriter(brokers, "secure", stream.WriterOptions{Security: sec})
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err != nil {
		t.Fatalf("producing over TLS with SCRAM: %v", err)
	}
	p := stream.NewProducer(brokers, stream.ProducerOptions{Compression: kafka.Snappy, Security: sec})
	defer p.Close()
	if err := p.Produce(ctx, []kafka.Message{{Topic: "secure", Key: []byte("k"), Value: []byte("again")}}); err != nil {
		t.Fatalf("producing with stream.Producer over TLS with SCRAM: %v", err)
	}
	offs, err := stream.Cluster{Brokers: brokers, Security: sec}.LogOffsets(ctx, "secure")
	if err != nil || offs[0].End != 2 {
		t.Fatalf("log offsets over TLS with SCRAM: %v %v", offs, err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "secure", Partition: 0, Dialer: sec.Dialer(), MaxWait: 200 * time.Millisecond})
	defer r.Close()
	for _, want := range []string{"hello", "again"} {
		m, err := r.ReadMessage(ctx)
		if err != nil || string(m.Value) != want {
			t.Fatalf("consuming over TLS with SCRAM: %q %v, want %q", m.Value, err, want)
		}
	}

	// The lanes' consumer-group reader (franz-go's client) over the same TLS and SCRAM, and its
	// commit: a second reader of the group starts after what the first committed.
	gr, err := stream.NewGroupReader(stream.GroupReaderOptions{Brokers: brokers, Security: sec, Group: "g", Topic: "secure"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var first kafka.Message
	for len(got) < 2 {
		if err := gr.Fetch(ctx, func(_ int, msgs []kafka.Message) bool {
			for _, m := range msgs {
				if got = append(got, string(m.Value)); len(got) == 1 {
					first = m
				}
			}
			return true
		}); err != nil {
			t.Fatalf("group reader over TLS with SCRAM: %v", err)
		}
	}
	if err := gr.Commit(ctx, first); err != nil {
		t.Fatalf("committing over TLS with SCRAM: %v", err)
	}
	gr.Close()
	if strings.Join(got, ",") != "hello,again" {
		t.Fatalf("group reader read %q", got)
	}
	gr, err = stream.NewGroupReader(stream.GroupReaderOptions{Brokers: brokers, Security: sec, Group: "g", Topic: "secure"})
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Close()
	if err := gr.Fetch(ctx, func(_ int, msgs []kafka.Message) bool {
		for _, m := range msgs {
			got = append(got, string(m.Value))
		}
		return true
	}); err != nil || got[2] != "again" {
		t.Fatalf("after committing the first record the group read %q, %v; want it to resume at the second", got, err)
	}

	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	defer cancelShort()
	bad, _ := stream.SecurityConfig{TLS: true, CAFile: ca, SASLMechanism: "SCRAM-SHA-256", Username: "segstream", Password: "wrong"}.Build()
	if _, err := (stream.Cluster{Brokers: brokers, Security: bad}).LogOffsets(short, "secure"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := (stream.Cluster{Brokers: brokers}).LogOffsets(short, "secure"); err == nil {
		t.Fatal("plaintext accepted by a TLS listener")
	}
}

func TestSecurityConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c    stream.SecurityConfig
		want string
	}{
		{stream.SecurityConfig{SASLMechanism: "GSSAPI", Username: "u", Password: "p"}, "--kafka-sasl-mechanism"},
		{stream.SecurityConfig{SASLMechanism: "PLAIN", Username: "u"}, "--kafka-sasl-password"},
		{stream.SecurityConfig{Username: "u", Password: "p"}, "without --kafka-sasl-mechanism"},
		{stream.SecurityConfig{CAFile: "/nonexistent/ca.crt"}, "--kafka-tls-ca-file"},
		{stream.SecurityConfig{CertFile: "/x.crt"}, "go together"},
	} {
		if _, err := tc.c.Build(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.c, err, tc.want)
		}
	}
	s, err := stream.SecurityConfig{}.Build()
	if err != nil || s.TLS != nil || s.SASL != nil || s.Transport() != nil {
		t.Fatalf("empty config: %+v %v", s, err)
	}
}

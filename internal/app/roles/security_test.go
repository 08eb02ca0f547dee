package roles

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestIngestOverTLSAndSCRAM runs the ingest role from its command line against a broker that
// requires TLS and SCRAM-SHA-512: the flags reach the consumer, the producers and the lag
// reader, and an event becomes features in Redis.
func TestIngestOverTLSAndSCRAM(t *testing.T) {
	serverTLS, ca := testenv.SelfSignedTLS(t)
	c := testenv.StartKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, stream.AllTopics...), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "segstream", "pw"))
	srv := testenv.StartRedis(t)
	broker := c.ListenAddrs()[0]
	t.Setenv("SEGSTREAM_KAFKA_SASL_PASSWORD", "pw") // the secret through the environment, as in Kubernetes
	cfg, err := Ingest().Parse([]string{"--kafka", broker, "--redis", srv.Addr, "--http", "127.0.0.1:0",
		"--kafka-tls-ca-file", ca, "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "segstream"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, time.Minute)
	stop := testenv.Go(t, ctx, "ingest", func(ctx context.Context) error { return cfg.Run(ctx, cfg.Servers, cfg.Log) })

	sec, err := cfg.Servers.KafkaSecurity.Build()
	if err != nil {
		t.Fatal(err)
	}
	w := stream.NewWriter([]string{broker}, stream.DefaultEventsTopic, stream.WriterOptions{Security: sec})
	defer w.Close()
	ev := stream.Event{EventID: "e1", Type: stream.Purchase, CustomerID: "alice", TS: time.Now().UTC().Add(-time.Hour), Amount: 12.5}
	b, _ := json.Marshal(ev)
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("alice"), Value: b}); err != nil {
		t.Fatal(err)
	}
	st := features.NewStore(srv.Client(), features.Config{})
	for {
		got, ok, err := st.Get(ctx, "alice")
		if err == nil && ok && got.Monetary == 12.5 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the event never reached Redis through the secured broker")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A wrong password is refused at the broker, so the role cannot start consuming.
	if _, err := Ingest().Parse([]string{"--kafka-sasl-mechanism", "SCRAM-SHA-512"}); err == nil {
		t.Fatal("a SASL mechanism without credentials passed validation")
	}
	stop()
}

// TestRedisACLFlags: --redis-username/--redis-password reach the client (an ACL user on a
// real redis-server), and without them the server refuses.
func TestRedisACLFlags(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	admin := srv.Client()
	if err := admin.Do(ctx, "ACL", "SETUSER", "segstream", "on", ">s3cret", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	_ = admin.Do(ctx, "ACL", "SETUSER", "default", "off").Err() // disconnects admin itself
	rdb, err := NewRedisAuth(srv.Addr, cli.RedisAuth{Username: "segstream", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("with the ACL user: %v", err)
	}
	anon, _ := NewRedis(srv.Addr)
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Fatal("the server answered a client without credentials")
	}
}

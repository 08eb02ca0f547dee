// Package devbroker runs an in-process Kafka-protocol broker (franz-go's kfake) for development,
// tests and the all-in-one demo: segstream's topics pre-created, an optional data directory so a
// restart keeps the log and committed offsets, and retention so memory stays bounded.
package devbroker

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/segstream/segstream/stream"
)

// Options configure a development broker.
type Options struct {
	// Listen is host:port; port 0 picks a free one. Default 127.0.0.1:0.
	Listen string
	// DataDir keeps topics, records and group offsets across restarts when set.
	DataDir string
	// Partitions per topic. Default 6.
	Partitions int32
	// Topics to pre-create. Default stream.AllTopics.
	Topics []string
	// Retention bounds what the broker keeps in memory. Default 24h.
	Retention time.Duration
}

// Broker is a running development broker.
type Broker struct {
	cluster *kfake.Cluster
	addrs   []string
}

// Start starts a single-node broker.
func Start(o Options) (*Broker, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Partitions <= 0 {
		o.Partitions = 6
	}
	if o.Topics == nil {
		o.Topics = stream.AllTopics
	}
	if o.Retention <= 0 {
		o.Retention = 24 * time.Hour
	}
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker listen address %q is not host:port: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("broker listen port %q is not a port number", portStr)
	}
	if port == 0 {
		// kfake needs a concrete port to advertise; reserve one.
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.SeedTopics(o.Partitions, o.Topics...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(o.Partitions)),
		kfake.BrokerConfigs(map[string]string{
			"log.retention.ms": strconv.FormatInt(o.Retention.Milliseconds(), 10),
		}),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting kfake broker on %s: %w", o.Listen, err)
	}
	return &Broker{cluster: c, addrs: c.ListenAddrs()}, nil
}

// Addrs are the broker's bootstrap addresses.
func (b *Broker) Addrs() []string { return b.addrs }

// Cluster exposes the kfake cluster, for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker; with a DataDir its state is flushed for the next Start.
func (b *Broker) Close() { b.cluster.Close() }

package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"time"

	"github.com/segstream/segstream/embedded/devbroker"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/stream"
)

func init() {
	register("broker", "run a development Kafka-protocol broker (kfake) until interrupted", broker)
}

func broker(fs *flag.FlagSet) runFunc {
	listen := fs.String("listen", "127.0.0.1:9092", "host:port to listen on; port 0 picks a free one (env SEGSTREAM_LISTEN)")
	dataDir := fs.String("data-dir", "", "directory that keeps topics, records and committed offsets across restarts; empty keeps everything in memory only")
	partitions := fs.Int("partitions", 6, "partitions of each pre-created topic")
	retention := fs.Duration("retention", 24*time.Hour, "how long records are kept (the broker holds them in memory)")
	return func(ctx context.Context, _ io.Writer) error {
		if err := cli.CheckListen("listen", *listen); err != nil || *listen == "" {
			return badUsage("--listen: give host:port, e.g. --listen 127.0.0.1:9092 (%v)", err)
		}
		if *partitions < 1 || *partitions > 1000 {
			return badUsage("--partitions %d: give 1 to 1000", *partitions)
		}
		if *retention <= 0 {
			return badUsage("--retention %s: give a positive duration, e.g. 24h", *retention)
		}
		b, err := devbroker.Start(devbroker.Options{
			Listen:     *listen,
			DataDir:    *dataDir,
			Partitions: int32(*partitions),
			Retention:  *retention,
		})
		if err != nil {
			return err
		}
		slog.Info("broker listening", "addrs", b.Addrs(), "topics", stream.AllTopics,
			"partitions", *partitions, "data_dir", *dataDir, "retention", *retention)
		if *dataDir == "" {
			slog.Warn("no --data-dir: topics, records and group offsets are lost when the broker stops")
		}
		<-ctx.Done()
		slog.Info("broker stopping")
		b.Close()
		return nil
	}
}

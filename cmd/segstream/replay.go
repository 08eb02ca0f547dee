package main

import (
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/internal/demo/replay"
	"github.com/segstream/segstream/stream"
)

func init() {
	register("replay", "publish a real data set to Kafka as v1 events (--preset, --file)", replayCmd)
}

func replayCmd(fs *flag.FlagSet) runFunc {
	var o replay.Options
	names := make([]string, len(datasets.Presets))
	for i, p := range datasets.Presets {
		names[i] = string(p)
	}
	kafkaAddrs := fs.String("kafka", "127.0.0.1:9092", "Kafka bootstrap brokers, host:port[,host:port...] (env SEGSTREAM_KAFKA)")
	var sec stream.SecurityConfig
	cli.RegisterKafkaSecurity(fs, &sec)
	preset := fs.String("preset", "", "data-set format: "+strings.Join(names, ", ")+" (required)")
	fs.StringVar(&o.File, "file", "", "the data file, plain or .gz (required)")
	fs.StringVar(&o.Topic, "topic", stream.DefaultEventsTopic, "topic to publish to")
	fs.Float64Var(&o.Rate, "rate", 0, "events per second; 0 publishes as fast as the broker takes them")
	fs.BoolVar(&o.Wait, "wait", false, "after publishing, wait until --group has committed everything published")
	fs.StringVar(&o.Group, "group", stream.DefaultIngestGroup, "consumer group --wait waits for")
	fs.DurationVar(&o.WaitTimeout, "wait-timeout", 5*time.Minute, "how long --wait waits before failing")
	return func(ctx context.Context, stdout io.Writer) error {
		var err error
		if o.Brokers, err = cli.KafkaBrokers(*kafkaAddrs); err != nil {
			return badUsage("%v", err)
		}
		if o.Security, err = sec.Build(); err != nil {
			return badUsage("%v", err)
		}
		if *preset == "" {
			return badUsage("--preset is required: one of %s", strings.Join(names, ", "))
		}
		if o.Preset, err = datasets.ParsePreset(*preset); err != nil {
			return badUsage("--preset: %v", err)
		}
		if o.File == "" {
			return badUsage("--file is required: the data set to replay, e.g. --file '../shared/data/online_retail/Online Retail.csv.gz'")
		}
		if fi, err := os.Stat(o.File); err != nil {
			return badUsage("--file: %v", err)
		} else if fi.IsDir() {
			return badUsage("--file %s is a directory: give the data file itself", o.File)
		}
		if o.Topic == "" {
			return badUsage("--topic is empty")
		}
		if o.Rate < 0 {
			return badUsage("--rate %v: give events per second, or 0 for no limit", o.Rate)
		}
		if o.Wait && o.Group == "" {
			return badUsage("--group is empty: --wait needs the consumer group to wait for")
		}
		if o.WaitTimeout <= 0 {
			return badUsage("--wait-timeout %s: give a positive duration", o.WaitTimeout)
		}
		return replay.Run(ctx, o, stdout)
	}
}

package roles

import (
	"flag"
	"testing"

	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/stream"
)

func TestIngestSampleFlags(t *testing.T) {
	cases := []struct {
		args    []string
		env     string // SEGSTREAM_SAMPLES, "" for unset
		want    string // the options' SamplesTopic, "-" for NoSamples
		wantErr bool
	}{
		{nil, "", stream.DefaultSamplesTopic, false},
		{[]string{"--samples-topic", "train"}, "", "train", false},
		{[]string{"--samples=false"}, "", "-", false},
		{nil, "false", "-", false},
		{[]string{"--samples=true"}, "false", stream.DefaultSamplesTopic, false}, // flags win
		{[]string{"--samples-topic", "-"}, "", "", true},
	}
	for _, tc := range cases {
		t.Run("", func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("SEGSTREAM_SAMPLES", tc.env)
			}
			o, err := ingestOptions(t, tc.args)
			got := o.SamplesTopic
			if o.NoSamples {
				got = "-"
			}
			if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
				t.Errorf("%v env %q: samples topic %q, %v; want %q", tc.args, tc.env, got, err, tc.want)
			}
		})
	}
}

func TestIngestWaitReplicasFlag(t *testing.T) {
	cases := []struct {
		args    []string
		env     string // SEGSTREAM_REDIS_WAIT_REPLICAS, "" for unset
		want    int
		wantErr bool
	}{
		{nil, "", 0, false},
		{[]string{"--redis-wait-replicas", "1"}, "", 1, false},
		{nil, "2", 2, false},
		{[]string{"--redis-wait-replicas", "-1"}, "", 0, true},
	}
	for _, tc := range cases {
		t.Run("", func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("SEGSTREAM_REDIS_WAIT_REPLICAS", tc.env)
			}
			o, err := ingestOptions(t, tc.args)
			if (err != nil) != tc.wantErr || (err == nil && o.WaitReplicas != tc.want) {
				t.Errorf("%v env %q: wait replicas %d, %v; want %d", tc.args, tc.env, o.WaitReplicas, err, tc.want)
			}
		})
	}
}

// ingestOptions parses args (and the environment) as the ingest role does and validates them.
func ingestOptions(t *testing.T, args []string) (ingest.Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var f IngestFlags
	f.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		t.Fatal(err)
	}
	return f.Options([]string{"127.0.0.1:9092"})
}

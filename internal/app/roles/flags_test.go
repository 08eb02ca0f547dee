package roles

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/retrainer"
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

func TestIngestFeaturesFormatFlag(t *testing.T) {
	for arg, want := range map[string]features.RecordFormat{"": features.BinaryRecords, "binary": features.BinaryRecords, "json": features.JSONRecords, "avro": 0} {
		var args []string
		if arg != "" {
			args = []string{"--features-format", arg}
		}
		o, err := ingestOptions(t, args)
		if arg == "avro" {
			if err == nil || !strings.Contains(err.Error(), "--features-format") || !strings.Contains(err.Error(), "binary or json") {
				t.Errorf("--features-format avro: %v, want an error naming the flag and its values", err)
			}
			continue
		}
		if err != nil || o.Features.RecordFormat != want {
			t.Errorf("--features-format %q: %v, %v; want %v", arg, o.Features.RecordFormat, err, want)
		}
	}
}

func TestIngestSamplesShareFlag(t *testing.T) {
	for arg, want := range map[string]float64{"": 1, "1": 1, "0.05": 0.05, "0": -1, "1.5": -1, "-0.1": -1, "NaN": -1} {
		var args []string
		if arg != "" {
			args = []string{"--samples-share", arg}
		}
		o, err := ingestOptions(t, args)
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), "--samples-share") || !strings.Contains(err.Error(), "(0, 1]") {
				t.Errorf("--samples-share %s: %v, want an error naming the flag and its range", arg, err)
			}
			continue
		}
		if err != nil || o.Features.SampleShare != want {
			t.Errorf("--samples-share %q: %v, %v; want %v", arg, o.Features.SampleShare, err, want)
		}
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

func TestScorerFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string // "" for valid
	}{
		{nil, ""},
		{[]string{"--windows", "30,x"}, "--windows"},
		{[]string{"--sweep-rate", "0"}, "--sweep-rate"},
		{[]string{"--model-poll", "1ms"}, "--model-poll"},
		{[]string{"--scorer-batch-size", "0"}, "--scorer-batch-size"},
		{[]string{"--features-topic", "-"}, "--features-topic"},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var f ScorerFlags
		f.Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		_, err := f.Options([]string{"127.0.0.1:9092"})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: %v, want an error about %q", tc.args, err, tc.want)
		}
	}
	// In the all-in-one binary ingest registers --windows and --features-topic first; the
	// scorer reads the shared values.
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	var in IngestFlags
	in.Register(fs)
	var sc ScorerFlags
	sc.Register(fs)
	if err := fs.Parse([]string{"--windows", "7,30", "--features-topic", "feats"}); err != nil {
		t.Fatal(err)
	}
	o, err := sc.Options([]string{"127.0.0.1:9092"})
	if err != nil || o.Topic != "feats" || len(o.Features.Windows) != 2 {
		t.Fatalf("shared flags: %+v, %v", o, err)
	}
}

// TestRetrainerGateRequire: --gate-require takes the six criteria's names into the gates and
// refuses any other name, saying which it takes.
func TestRetrainerGateRequire(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string
		err   string
	}{
		{"", nil, ""},
		{"substantial, stable", []string{"substantial", "stable"}, ""},
		{"stabel", nil, `"stabel" is not a criterion`},
	} {
		o, err := retrainerOptions(t, "--gate-require", tc.value)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("--gate-require %q: error %v, want one containing %q", tc.value, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("--gate-require %q: %v", tc.value, err)
		}
		if !slices.Equal(o.Gates.Require, tc.want) {
			t.Errorf("--gate-require %q: gates require %v, want %v", tc.value, o.Gates.Require, tc.want)
		}
	}
}

// retrainerOptions parses the retrainer's flags args (without samples, so no broker) into its
// options.
func retrainerOptions(t *testing.T, args ...string) (retrainer.Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var f RetrainerFlags
	f.Register(fs)
	if err := fs.Parse(append(args, "--samples-topic", "-")); err != nil {
		t.Fatal(err)
	}
	return f.Options(nil)
}

// TestRetrainerContactAttributes: --contact-attributes and --accessible-share reach the
// retrainer's options, and a name or share it cannot use is refused at start, saying why.
func TestRetrainerContactAttributes(t *testing.T) {
	o, err := retrainerOptions(t, "--contact-attributes", "email_opt_in, sms_opt_in", "--accessible-share", "0.6")
	if err != nil || !slices.Equal(o.ContactAttributes, []string{"email_opt_in", "sms_opt_in"}) || o.AccessibleShare != 0.6 {
		t.Fatalf("options %v, %v, error %v", o.ContactAttributes, o.AccessibleShare, err)
	}
	if o, err := retrainerOptions(t); err != nil || o.ContactAttributes != nil || o.AccessibleShare != 0.5 {
		t.Errorf("defaults: %v, %v, error %v", o.ContactAttributes, o.AccessibleShare, err)
	}
	for args, want := range map[[2]string]string{
		{"--contact-attributes", "email,email"}:           `"email" named twice`,
		{"--contact-attributes", strings.Repeat("x", 65)}: "1 to 64 bytes",
		{"--accessible-share", "1.5"}:                     "--accessible-share 1.5: give a share in (0, 1]",
		{"--accessible-share", "-0.1"}:                    "--accessible-share -0.1",
	} {
		if _, err := retrainerOptions(t, args[0], args[1]); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s %s: error %v, want one containing %q", args[0], args[1], err, want)
		}
	}
}

// TestRetrainerSegmentSearch: --segment-search and its budget reach the retrainer's options;
// a negative budget is refused at start.
func TestRetrainerSegmentSearch(t *testing.T) {
	if o, err := retrainerOptions(t); err != nil || o.Search || o.SearchBudget != retrainer.DefaultSearchBudget {
		t.Errorf("defaults: search %v, budget %v, error %v", o.Search, o.SearchBudget, err)
	}
	if o, err := retrainerOptions(t, "--segment-search", "--segment-search-budget", "10s"); err != nil || !o.Search || o.SearchBudget != 10*time.Second {
		t.Errorf("search %v, budget %v, error %v", o.Search, o.SearchBudget, err)
	}
	if _, err := retrainerOptions(t, "--segment-search-budget", "-1s"); err == nil || !strings.Contains(err.Error(), "--segment-search-budget -1s") {
		t.Errorf("negative budget: error %v", err)
	}
}

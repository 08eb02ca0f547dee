package roles

import (
	"flag"
	"strings"
	"testing"
)

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

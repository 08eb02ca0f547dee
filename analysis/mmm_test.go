package analysis

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/models/mmm"
)

var updateMMM = flag.Bool("update-mmm", false, "rewrite cmd/segstream/testdata/mmm_weekly.csv from the simulator")

const mmmExample = "../cmd/segstream/testdata/mmm_weekly.csv"

// mmmExampleCSV is the example file: three years of weeks from mmm.Simulate (seed 1, six
// channels, one control), spend to the cent.
func mmmExampleCSV(t *testing.T) []byte {
	d, _, err := mmm.Simulate(mmm.SimOptions{Seed: 1, Periods: 156, Channels: 6, Controls: 1})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"tv", "search", "social", "display", "radio", "email"}
	var b bytes.Buffer
	b.WriteString("period,revenue")
	for _, n := range names {
		b.WriteString(",spend_" + n)
	}
	b.WriteString(",price_index\n")
	day := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
	for i, y := range d.Revenue {
		fmt.Fprintf(&b, "%s,%.2f", day.AddDate(0, 0, 7*i).Format(time.DateOnly), y)
		for c := range names {
			fmt.Fprintf(&b, ",%.2f", d.Spend[c][i])
		}
		fmt.Fprintf(&b, ",%.4f\n", d.Control[0][i])
	}
	return b.Bytes()
}

// TestMMMExampleFile: the committed example is what the simulator draws (-update-mmm
// rewrites it).
func TestMMMExampleFile(t *testing.T) {
	want := mmmExampleCSV(t)
	if *updateMMM {
		if err := os.WriteFile(mmmExample, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(mmmExample)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the simulator's draw: run go test ./analysis/ -run MMMExampleFile -update-mmm", mmmExample)
	}
}

// TestMMMReport: the example file loads (weekly: a 52.18-period season), fits with intervals
// and a holdout, and an allocation spends exactly the budget; the JSON is byte-identical on a
// second run with the same seed; the text names every channel.
func TestMMMReport(t *testing.T) {
	o := MMMOptions{File: mmmExample, Seed: 1, Bootstrap: 10, Holdout: 13, Budget: 60000, Bounds: "tv=1000:20000"}
	var out [2][]byte
	for i := range out {
		rep, err := MMM(o)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteJSON(&b, rep); err != nil {
			t.Fatal(err)
		}
		out[i] = b.Bytes()
		if i > 0 {
			continue
		}
		if rep.Periods != 156 || len(rep.Channels) != 6 || rep.CV == nil || rep.Channels[0].Intervals == nil || len(rep.Weekly) != 156 {
			t.Fatalf("report: %d periods, %d channels, cv %v", rep.Periods, len(rep.Channels), rep.CV)
		}
		if math.Abs(rep.Model.Spec.Period-52.18) > 0.01 {
			t.Errorf("season of %v periods from weekly dates", rep.Model.Spec.Period)
		}
		spent := 0.0
		for _, v := range rep.Allocation.Spend {
			spent += v
		}
		if math.Abs(spent-o.Budget) > 1e-9*o.Budget || rep.Allocation.Spend["tv"] < 1000-1e-9 {
			t.Errorf("allocation spends %v of %v, tv %v", spent, o.Budget, rep.Allocation.Spend["tv"])
		}
		var text bytes.Buffer
		if err := rep.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"search", "email", "allocation of 60000.00", "held out"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("the text lacks %q:\n%s", want, text.String())
			}
		}
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("two runs with the same seed print different JSON")
	}
}

// TestMMMBadFiles: a file without the needed columns, with unsorted periods or with a bad
// number is refused with the line and what to do.
func TestMMMBadFiles(t *testing.T) {
	for body, want := range map[string]string{
		"period,sales,spend_tv\n2024-01-01,1,2\n":                                 "needs period, revenue and at least one spend_",
		"period,revenue,spend_tv\n2024-01-08,1,2\n2024-01-01,1,2\n":               "line 3: period 2024-01-01 does not follow 2024-01-08",
		"period,revenue,spend_tv\n2024-01-01,1,x\n":                               "line 2, column spend_tv",
		"period,revenue,spend_tv\n01/01/2024,1,2\n":                               "not a date YYYY-MM-DD",
		"period,revenue,spend_tv\n2024-01-01,1,-2\n2024-01-08,1,2\n":              "spend must be ≥ 0",
		"period,revenue,spend_tv,spend_tv2\n2024-01-01,1,0,1\n2024-01-08,1,0,2\n": "never spends",
	} {
		_, err := readMMM(strings.NewReader(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

package shoppers

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/segstream/segstream/stream"
)

// TestInteractions: interactions are valid v1 events, mostly inside the planted circles, and
// switching them on leaves every other event as it was.
func TestInteractions(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	plain, with := New(7, 500, start), New(7, 500, start)
	with.Interactions = 0.3
	var a, b []stream.Event
	for len(a) < 5000 {
		a = plain.Next(a)
	}
	for n := 0; n < 5000; {
		before := len(b)
		b = with.Next(b)
		for _, ev := range b[before:] {
			if ev.Type != stream.Interaction {
				n++
			}
		}
	}
	dec := stream.Decoder{Now: func() time.Time { return start.AddDate(10, 0, 0) }}
	var others []stream.Event
	inCircle, total := 0, 0
	for _, ev := range b {
		if ev.Type != stream.Interaction {
			others = append(others, ev)
			continue
		}
		total++
		raw, _ := json.Marshal(ev)
		var got stream.Event
		if err := dec.Decode(raw, &got); err != nil {
			t.Fatalf("interaction %s is not a valid event: %v", raw, err)
		}
		from, _ := strconv.Atoi(ev.CustomerID[1:])
		to, _ := strconv.Atoi(ev.TargetCustomerID[1:])
		if from/CircleSize == to/CircleSize {
			inCircle++
		}
	}
	if share := float64(inCircle) / float64(total); total < 500 || share < 0.85 {
		t.Errorf("%d interactions, %.2f inside the circles; want hundreds, about 0.9", total, share)
	}
	if !reflect.DeepEqual(others[:len(a)], a) {
		t.Error("switching interactions on changed the other events")
	}
}

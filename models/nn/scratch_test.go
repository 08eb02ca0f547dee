package nn

import (
	"os"
	"testing"
	"time"

	"github.com/segstream/segstream/internal/testenv"
	"github.com/segstream/segstream/models/metrics"
)

func TestScratch(t *testing.T) {
	f, _ := os.Open(testenv.DataFile(t, "audiobooks/Audiobooks_data.csv"))
	d, err := ReadAudiobooks(f)
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 5; seed++ {
		s := PrepareCourse(d, seed)
		t0 := time.Now()
		m, h, err := Train(s.Train.X, s.Train.Y, s.Val.X, s.Val.Y, Config{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		p := m.PredictProba(s.Test.X)
		b, _ := metrics.Evaluate(s.Test.Y, p)
		t.Logf("seed %d %v epochs %d best %d %+v", seed, time.Since(t0), h.Epochs, h.BestEpoch, b)
	}
}

package nn

import "testing"

// BenchmarkTrainMLP trains the 50-50 network for exactly 50 epochs on the Audiobooks training
// split, without validation, so that scripts/bench/clv_conversion.py can time
// scikit-learn's MLPClassifier(max_iter=50) on the same rows and the same work.
func BenchmarkTrainMLP(b *testing.B) {
	s := PrepareCourse(audiobooks(b), 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Train(s.Train.X, s.Train.Y, nil, nil, Config{Seed: 1, MaxEpochs: 50}); err != nil {
			b.Fatal(err)
		}
	}
}

var sink float64

// BenchmarkProb scores one row: the scorer's hot path, 0 allocs/op.
func BenchmarkProb(b *testing.B) {
	s := PrepareCourse(audiobooks(b), 1)
	m, _, err := Train(s.Train.X, s.Train.Y, nil, nil, Config{Seed: 1, MaxEpochs: 1})
	if err != nil {
		b.Fatal(err)
	}
	scratch := make([]float64, m.ScratchLen())
	x := s.Test.X.RawRowView(0)
	b.ReportAllocs()
	for b.Loop() {
		sink += m.Prob(x, scratch)
	}
}

package segment

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestValidityKnownValues(t *testing.T) {
	// 1-D points 0,1 | 10,11 | 30: every index follows by hand from its definition.
	x := mat.NewDense(5, 1, []float64{0, 1, 10, 11, 30})
	labels := []int{0, 0, 1, 1, 2}
	// Silhouette per row, b = nearest other cluster's mean distance.
	s0 := (10.5 - 1) / 10.5
	s1 := (9.5 - 1) / 9.5
	s2 := (9.5 - 1) / 9.5
	s3 := (10.5 - 1) / 10.5
	wantSil := (s0 + s1 + s2 + s3 + 0) / 5 // a singleton scores 0
	// Calinski-Harabasz: centroids 0.5, 10.5, 30; mean 10.4.
	extra := 2*sq(0.5-10.4) + 2*sq(10.5-10.4) + sq(30-10.4)
	intra := 4 * 0.25
	wantCH := extra * (5 - 3) / (intra * (3 - 1))
	// Davies-Bouldin: spreads 0.5, 0.5, 0; centroid distances 10, 29.5, 19.5.
	wantDB := (math.Max(1/10.0, 0.5/29.5) + math.Max(1/10.0, 0.5/19.5) + math.Max(0.5/29.5, 0.5/19.5)) / 3

	for _, tc := range []struct {
		name string
		f    func(*mat.Dense, []int) (float64, error)
		want float64
	}{
		{"silhouette", Silhouette, wantSil},
		{"calinski-harabasz", CalinskiHarabasz, wantCH},
		{"davies-bouldin", DaviesBouldin, wantDB},
		{"inertia", func(x *mat.Dense, l []int) (float64, error) { return Inertia(x, Centroids(x, l, 3), l) }, intra},
	} {
		got, err := tc.f(x, labels)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if math.Abs(got-tc.want) > 1e-12*math.Max(1, math.Abs(tc.want)) {
			t.Errorf("%s = %.15g, want %.15g", tc.name, got, tc.want)
		}
	}
}

func sq(v float64) float64 { return v * v }

func TestValidityErrors(t *testing.T) {
	x := mat.NewDense(3, 1, []float64{1, 2, 3})
	for _, tc := range []struct {
		name   string
		labels []int
	}{
		{"one cluster", []int{0, 0, 0}},
		{"all singletons", []int{0, 1, 2}},
		{"short", []int{0, 1}},
		{"negative", []int{0, -1, 1}},
	} {
		for _, f := range []func(*mat.Dense, []int) (float64, error){Silhouette, CalinskiHarabasz, DaviesBouldin} {
			if _, err := f(x, tc.labels); !errors.Is(err, ErrInput) {
				t.Errorf("%s: err %v, want ErrInput", tc.name, err)
			}
		}
	}
}

func TestSilhouetteSampled(t *testing.T) {
	x, truth := blobs(17, fourCorners, 500, 2)
	exact, err := Silhouette(x, truth)
	if err != nil {
		t.Fatal(err)
	}
	full, err := SilhouetteSampled(x, truth, 5000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if full != exact {
		t.Errorf("sample ≥ n gives %v, exact %v", full, exact)
	}
	a, err := SilhouetteSampled(x, truth, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SilhouetteSampled(x, truth, 500, 1)
	if a != b {
		t.Errorf("same seed: %v and %v", a, b)
	}
	if math.Abs(a-exact) > 0.02 {
		t.Errorf("sampled %v, exact %v: off by more than 0.02", a, exact)
	}
}

func TestChooseK(t *testing.T) {
	x, _ := blobs(18, [][]float64{{0, 0}, {8, 0}, {0, 8}}, 150, 0.8)
	for _, sample := range []int{0, 200} {
		ch, err := ChooseK(x, ChooseKOptions{KMin: 2, KMax: 7, KMeans: KMeansOptions{Seed: 4, NInit: 4}, SilhouetteSample: sample})
		if err != nil {
			t.Fatal(err)
		}
		if ch.Best != 3 || ch.Elbow != 3 {
			t.Errorf("sample %d: best %d elbow %d, want 3 and 3 (scores %+v)", sample, ch.Best, ch.Elbow, ch.Scores)
		}
		if len(ch.Scores) != 6 || ch.Scores[0].K != 2 {
			t.Errorf("scores %+v: want k=2..7", ch.Scores)
		}
		for i := 1; i < len(ch.Scores); i++ {
			if ch.Scores[i].WCSS > ch.Scores[i-1].WCSS {
				t.Errorf("WCSS rises from k=%d to k=%d", ch.Scores[i-1].K, ch.Scores[i].K)
			}
		}
	}
	if _, err := ChooseK(x, ChooseKOptions{KMin: 1, KMax: 3}); !errors.Is(err, ErrInput) {
		t.Errorf("KMin 1: err %v, want ErrInput", err)
	}
}

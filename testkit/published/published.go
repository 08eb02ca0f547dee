// Package published reads back, for tests, the bundle a registry serves.
package published

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/registry"
)

// Current decodes the registry's current bundle in rdb (the default key prefix); no current
// bundle, or one that does not decode, fails the test.
func Current(t testing.TB, rdb redis.UniversalClient) *bundle.Bundle {
	t.Helper()
	ctx := context.Background()
	reg := registry.New(rdb, "")
	v, err := reg.Current(ctx)
	if err != nil || v == 0 {
		t.Fatalf("no current bundle (%d): %v", v, err)
	}
	raw, err := reg.Get(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Labels compiles b as the scorer does and labels rows 0..n-1 of the per-customer columns
// with its segment ids; a bundle that does not compile, or columns it cannot label, fail the
// test.
func Labels(t testing.TB, b *bundle.Bundle, cols map[string][]float64, n int) (*bundle.Compiled, []int) {
	t.Helper()
	c, err := bundle.Compile(b, bundle.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels, err := c.AssignColumns(cols, n)
	if err != nil {
		t.Fatal(err)
	}
	return c, labels
}

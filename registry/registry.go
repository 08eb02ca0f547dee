// Package registry keeps model bundles in Redis: every published bundle under its version, a
// `current` pointer that moves atomically, and an announcement on a channel at every move, so
// scorers can subscribe (fast) and poll (in case a message was missed).
//
// # Keys
//
// Keys are under the deployment's key prefix (features.Config.Prefix, default "seg", so one ACL
// key pattern covers the features and the registry) and share the hash tag {bundle}, so the
// pointer move (a Lua script that checks the bundle exists, sets the pointer and publishes)
// works on Redis Cluster:
//
//	<prefix>:{bundle}:v:<version>   the gzip JSON bundle (see models/bundle)
//	<prefix>:{bundle}:current       the current version, a decimal number
//	<prefix>:{bundle}:seq           the highest version handed out by NextVersion
//
// Moves are announced on the channel <prefix>:bundle:current with the new version as the
// message.
//
// Versions before 0.2 kept the registry under the fixed prefix "segstream"; a registry with no
// current pointer of its own adopts such a one (copies its bundles, sequence and pointer, in
// that order) the first time Current is asked, so an upgrade keeps serving the same model.
package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/redisx"
)

// legacyPrefix is where versions before 0.2 kept the registry.
const legacyPrefix = "segstream"

// Channel is where pointer moves are announced under prefix.
func Channel(prefix string) string { return prefix + ":bundle:current" }

func (r *Registry) keyCurrent() string { return r.prefix + ":{bundle}:current" }
func (r *Registry) keySeq() string     { return r.prefix + ":{bundle}:seq" }

// BundleKey is the key of one version's bundle under prefix.
func BundleKey(prefix string, version uint64) string {
	return prefix + ":{bundle}:v:" + strconv.FormatUint(version, 10)
}

// ErrNoCurrent means no bundle was ever activated.
var ErrNoCurrent = errors.New("registry: no current bundle")

// ErrNotFound means the requested version is not stored.
var ErrNotFound = errors.New("registry: bundle version not found")

// Registry is the bundle store over a Redis client (single node or cluster).
type Registry struct {
	rdb    redis.UniversalClient
	prefix string
}

// New returns a registry over rdb under the key prefix ("" is redisx.DefaultPrefix, the feature
// store's default).
func New(rdb redis.UniversalClient, prefix string) *Registry {
	return &Registry{rdb: rdb, prefix: cmp.Or(prefix, redisx.DefaultPrefix)}
}

// moveScript sets the pointer only to a stored bundle and announces the move in the same
// atomic step, so no subscriber ever hears of a version it cannot load.
var moveScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return redis.error_reply('NOTFOUND bundle ' .. ARGV[1] .. ' is not stored') end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1`)

// Put stores raw bundle bytes under version without looking at them. A version is written
// once: storing different bytes under an existing version fails. Publish is the checked way.
func (r *Registry) Put(ctx context.Context, version uint64, raw []byte) error {
	ok, err := r.rdb.SetNX(ctx, BundleKey(r.prefix, version), raw, 0).Result()
	if err != nil {
		return fmt.Errorf("storing bundle %d: %w", version, err)
	}
	if !ok {
		cur, err := r.rdb.Get(ctx, BundleKey(r.prefix, version)).Bytes()
		if err != nil {
			return fmt.Errorf("reading stored bundle %d: %w", version, err)
		}
		if string(cur) != string(raw) {
			return fmt.Errorf("bundle version %d is already stored with other content: give the new bundle a new version", version)
		}
	}
	// Keep seq at or above every stored version, so NextVersion never hands out a used one.
	if _, err := redisx.Raise(ctx, r.rdb, r.keySeq(), int64(version)); err != nil {
		return fmt.Errorf("advancing the version sequence: %w", err)
	}
	return nil
}

// Activate moves the current pointer to version (which must be stored) and announces it.
func (r *Registry) Activate(ctx context.Context, version uint64) error {
	v := strconv.FormatUint(version, 10)
	if err := moveScript.Run(ctx, r.rdb, []string{r.keyCurrent(), BundleKey(r.prefix, version)}, v, Channel(r.prefix)).Err(); err != nil {
		if redis.HasErrorPrefix(err, "NOTFOUND") {
			return fmt.Errorf("%w: %d", ErrNotFound, version)
		}
		return fmt.Errorf("moving the current pointer to %d: %w", version, err)
	}
	return nil
}

// Publish validates b, stores it and makes it current. A bundle with version 0 is given the
// next version first (and sealed again; the version is outside the checksum).
func (r *Registry) Publish(ctx context.Context, b *bundle.Bundle) (uint64, error) {
	if b.Version == 0 {
		v, err := r.NextVersion(ctx)
		if err != nil {
			return 0, err
		}
		b.Version = v
	}
	if err := b.Validate(); err != nil {
		return 0, fmt.Errorf("refusing to publish bundle %d: %w", b.Version, err)
	}
	raw, err := b.Encode()
	if err != nil {
		return 0, err
	}
	if err := r.Put(ctx, b.Version, raw); err != nil {
		return 0, err
	}
	return b.Version, r.Activate(ctx, b.Version)
}

// NextVersion hands out a version number no bundle has used.
func (r *Registry) NextVersion(ctx context.Context) (uint64, error) {
	v, err := r.rdb.Incr(ctx, r.keySeq()).Uint64()
	if err != nil {
		return 0, fmt.Errorf("allocating a bundle version: %w", err)
	}
	return v, nil
}

// Current returns the current version.
func (r *Registry) Current(ctx context.Context) (uint64, error) {
	v, err := r.rdb.Get(ctx, r.keyCurrent()).Uint64()
	if errors.Is(err, redis.Nil) && r.prefix != legacyPrefix {
		v, err = r.adoptLegacy(ctx)
	}
	if errors.Is(err, redis.Nil) {
		return 0, ErrNoCurrent
	}
	if err != nil {
		return 0, fmt.Errorf("reading the current bundle version: %w", err)
	}
	return v, nil
}

// adoptLegacy copies a registry kept under the legacy prefix: every stored version up to its
// sequence, then the sequence, then the current pointer (last, so the pointer never names a
// bundle that is not there). It returns the adopted current version, or redis.Nil when there
// is no legacy registry. Copies are SETNX and Raise, so two processes adopting at once agree.
func (r *Registry) adoptLegacy(ctx context.Context) (uint64, error) {
	old := &Registry{rdb: r.rdb, prefix: legacyPrefix}
	cur, err := r.rdb.Get(ctx, old.keyCurrent()).Uint64()
	if err != nil {
		return 0, err
	}
	seq, err := r.rdb.Get(ctx, old.keySeq()).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	for v := uint64(1); v <= max(seq, cur); v++ {
		raw, err := old.Get(ctx, v)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := r.rdb.SetNX(ctx, BundleKey(r.prefix, v), raw, 0).Err(); err != nil {
			return 0, fmt.Errorf("adopting bundle %d: %w", v, err)
		}
	}
	if _, err := redisx.Raise(ctx, r.rdb, r.keySeq(), int64(max(seq, cur))); err != nil {
		return 0, err
	}
	if err := r.rdb.SetNX(ctx, r.keyCurrent(), cur, 0).Err(); err != nil {
		return 0, err
	}
	return r.rdb.Get(ctx, r.keyCurrent()).Uint64()
}

// Get returns the stored bytes of version.
func (r *Registry) Get(ctx context.Context, version uint64) ([]byte, error) {
	raw, err := r.rdb.Get(ctx, BundleKey(r.prefix, version)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, version)
	}
	if err != nil {
		return nil, fmt.Errorf("reading bundle %d: %w", version, err)
	}
	return raw, nil
}

// Subscribe returns the announced versions until ctx ends. Messages that are not versions
// are dropped; a dropped connection is re-established by go-redis, and what was announced in
// between is caught by polling Current.
func (r *Registry) Subscribe(ctx context.Context) <-chan uint64 {
	out := make(chan uint64, 1)
	ps := r.rdb.Subscribe(ctx, Channel(r.prefix))
	go func() {
		defer close(out)
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				v, err := strconv.ParseUint(m.Payload, 10, 64)
				if err != nil {
					continue
				}
				// Keep only the newest announcement if the reader is slow.
				select {
				case out <- v:
				default:
					select {
					case <-out:
					default:
					}
					out <- v
				}
			}
		}
	}()
	return out
}

// PublishFile publishes the bundle file at path (as written by Encode): decoded, validated,
// stored and made current.
func PublishFile(ctx context.Context, r *Registry, path string) (uint64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	b, err := bundle.Decode(raw)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return r.Publish(ctx, b)
}

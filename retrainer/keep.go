package retrainer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/registry"
)

// keptFile is the name, in ReportDir, of the copy of the registry's current bundle.
const keptFile = "current-bundle.json.gz"

// keptBundle is the registry's current bundle as the retrainer last saw it.
type keptBundle struct {
	mu      sync.Mutex
	version uint64
	raw     []byte
}

func (k *keptBundle) get() (uint64, []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.version, k.raw
}

func (k *keptBundle) set(v uint64, raw []byte) {
	k.mu.Lock()
	k.version, k.raw = v, raw
	k.mu.Unlock()
}

// loadKept reads the copy a previous run left in ReportDir, if any: a retrainer restarted
// after Redis lost the registry can still publish it again.
func (r *Retrainer) loadKept() {
	if r.o.ReportDir == "" {
		return
	}
	raw, err := os.ReadFile(filepath.Join(r.o.ReportDir, keptFile))
	if err != nil {
		return
	}
	b, err := bundle.Decode(raw)
	if err != nil {
		r.log.Warn("the kept copy of the current bundle does not decode; ignoring it", "file", keptFile, "err", err)
		return
	}
	r.kept.set(b.Version, raw)
}

// keepCurrent keeps a copy of the registry's current bundle outside Redis, and publishes the
// copy again when the registry has none (Redis lost it): scorers started after the loss then
// find a model without anyone publishing by hand. Scorers that kept running never stopped
// serving theirs. It runs on the leader at every lease renewal.
func (r *Retrainer) keepCurrent(ctx context.Context) {
	v, err := r.reg.Current(ctx)
	kv, raw := r.kept.get()
	switch {
	case errors.Is(err, registry.ErrNoCurrent):
		if raw == nil || r.epoch.Lost() != nil {
			return // nothing to restore, or wait until the store is whole
		}
		if err := r.reg.Put(ctx, kv, raw); err != nil {
			r.log.Warn("publishing the kept bundle again", "version", kv, "err", err)
			return
		}
		if err := r.reg.Activate(ctx, kv); err != nil {
			r.log.Warn("publishing the kept bundle again", "version", kv, "err", err)
			return
		}
		r.m.restored.Inc()
		r.log.Warn("the model registry was empty: published the kept copy of the last current bundle again", "version", kv)
	case err != nil:
		return
	case v != kv:
		b, err := r.reg.Get(ctx, v)
		if err != nil {
			return
		}
		r.kept.set(v, b)
		if r.o.ReportDir != "" {
			if err := writeAtomic(filepath.Join(r.o.ReportDir, keptFile), b); err != nil {
				r.log.Warn("keeping a copy of the current bundle", "dir", r.o.ReportDir, "err", err)
			}
		}
	}
}

// writeAtomic writes data to path through a temporary file and a rename, so a crash leaves the
// old file or the new one, never half of one.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

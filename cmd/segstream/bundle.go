package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/registry"
)

func init() {
	register("bundle", "build, publish and show model bundles (bundle build|publish|show ...)", nil)
	// build and publish are the retrainer's fit and publish (internal/app/roles), one flag set
	// each for both binaries.
	registerRaw("bundle build", "fit a bundle on an exported features CSV, behind the gates, with its report", func(_ context.Context, args []string, stdout io.Writer) error {
		j, err := roles.ParseFit("bundle build", args)
		if err != nil {
			return usageError{err}
		}
		return j.Run(stdout)
	})
	registerRaw("bundle publish", "store a bundle in the registry and make it current", func(ctx context.Context, args []string, stdout io.Writer) error {
		j, err := roles.ParsePublish("bundle publish", args)
		if err != nil {
			return usageError{err}
		}
		return j.Run(ctx, stdout)
	})
	register("bundle show", "print a bundle's version, features, scorecard and segments", bundleShow).args = "[BUNDLE.json]"
}

func bundleShow(fs *flag.FlagSet) runFunc {
	addr := fs.String("redis", "", "read the current (or --version) bundle from this Redis instead of a file")
	version := fs.Uint64("version", 0, "with --redis: this version instead of the current one")
	full := fs.Bool("json", false, "print the whole bundle as JSON")
	return func(ctx context.Context, stdout io.Writer) error {
		var raw []byte
		var err error
		switch {
		case *addr != "":
			rdb, err := roles.NewRedis(*addr)
			if err != nil {
				return usageError{err}
			}
			defer rdb.Close()
			reg := registry.New(rdb)
			v := *version
			if v == 0 {
				if v, err = reg.Current(ctx); err != nil {
					return err
				}
			}
			if raw, err = reg.Get(ctx, v); err != nil {
				return err
			}
		case fs.NArg() == 1:
			if raw, err = os.ReadFile(fs.Arg(0)); err != nil {
				return err
			}
		default:
			return badUsage("bundle show needs a bundle file or --redis ADDR")
		}
		b, err := bundle.Decode(raw)
		if err != nil {
			return err
		}
		verr := b.Validate()
		if *full {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(b); err != nil {
				return err
			}
			return verr
		}
		p := &b.Payload
		fmt.Fprintf(stdout, "version %d  created %s  schema %d  sha256 %s\n", b.Version, b.Created.Format(time.RFC3339), b.SchemaVersion, b.SHA256)
		names := make([]string, len(p.Features))
		for i, f := range p.Features {
			names[i] = f.Name
			if f.Transform != "" {
				names[i] = f.Transform + "(" + f.Name + ")"
			}
		}
		fmt.Fprintf(stdout, "features: %s\n", strings.Join(names, ", "))
		fmt.Fprintf(stdout, "scorecard: %d rows, k=%d, silhouette %.3f, Calinski-Harabasz %.1f, Davies-Bouldin %.3f, smallest share %.1f%%\n",
			p.Scorecard.Rows, p.Scorecard.K, p.Scorecard.Silhouette, p.Scorecard.CalinskiHarabasz, p.Scorecard.DaviesBouldin, 100*p.Scorecard.MinShare)
		for _, s := range p.Segmentation.Segments {
			fmt.Fprintf(stdout, "  segment %d %-45q %5.1f%%\n", s.ID, s.Name, 100*s.Share)
		}
		fmt.Fprintf(stdout, "models: rfm %v, conversion %v, clv %v, purchase %v\n", p.RFM != nil, p.Conversion != nil, p.CLV != nil, p.Purchase != nil)
		for _, n := range p.Scorecard.Notes {
			fmt.Fprintln(stdout, "  note:", n)
		}
		if verr != nil {
			return fmt.Errorf("the bundle does not validate: %w", verr)
		}
		fmt.Fprintln(stdout, "valid")
		return nil
	}
}

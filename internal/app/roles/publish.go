package roles

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/registry"
)

// PublishFile publishes the bundle file at path to the registry in the Redis at addr and makes
// it current: `retrainer publish` and `segstream bundle publish`.
func PublishFile(ctx context.Context, addr, path string) (uint64, error) {
	rdb, err := NewRedis(addr)
	if err != nil {
		return 0, err
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return registry.PublishFile(ctx, registry.New(rdb, ""), path)
}

// PublishJob is a parsed publish verb: store a bundle file in the Redis registry and make it
// current.
type PublishJob struct {
	addr, path string
}

// ParsePublish parses the publish verb's flags: --redis ADDR BUNDLE. Its errors are usage errors.
func ParsePublish(name string, args []string) (*PublishJob, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	j := &PublishJob{}
	fs.StringVar(&j.addr, "redis", "127.0.0.1:6379", "Redis address (env SEGSTREAM_REDIS)")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, fmt.Errorf("needs one bundle file: %s --redis ADDR BUNDLE", name)
	}
	j.path = fs.Arg(0)
	return j, nil
}

// Run publishes the bundle and prints its version.
func (j *PublishJob) Run(ctx context.Context, stdout io.Writer) error {
	v, err := PublishFile(ctx, j.addr, j.path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published bundle version %d; it is now current\n", v)
	return nil
}

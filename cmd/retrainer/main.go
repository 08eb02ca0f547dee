// Command retrainer refits segstream's models on the live data and publishes them when they
// pass the quality gates. With no verb it runs the service (schedule, drift, manual trigger,
// one active replica by a lease in Redis). The verbs are the offline bootstrap:
//
//	retrainer fit --features PATH.csv [--samples PATH.csv] [--current BUNDLE] --out BUNDLE
//	retrainer publish --redis ADDR BUNDLE
//
// They are the same verbs as `segstream bundle build` and `segstream bundle publish`
// (internal/app/roles: ParseFit, ParsePublish).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/segstream/segstream/internal/app/roles"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "fit" || os.Args[1] == "publish") {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		var err error
		if os.Args[1] == "fit" {
			err = fit(os.Args[2:], os.Stdout)
		} else {
			err = publish(ctx, os.Args[2:], os.Stdout)
		}
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "retrainer %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	roles.Main(roles.Retrainer())
}

// fit is `retrainer fit`, the same verb as `segstream bundle build`.
func fit(args []string, stdout io.Writer) error {
	j, err := roles.ParseFit("retrainer fit", args)
	if err != nil {
		return err
	}
	return j.Run(stdout)
}

// publish is `retrainer publish`, the same verb as `segstream bundle publish`.
func publish(ctx context.Context, args []string, stdout io.Writer) error {
	j, err := roles.ParsePublish("retrainer publish", args)
	if err != nil {
		return err
	}
	return j.Run(ctx, stdout)
}

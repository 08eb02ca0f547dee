package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// analyzeVerbs are the `segstream analyze` sub-verbs; each lives in an analyze_*.go file and
// registers itself in init.
var analyzeVerbs = map[string]verb{}

func registerAnalyze(name, summary string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	if _, dup := analyzeVerbs[name]; dup {
		panic("segstream: analyze verb registered twice: " + name)
	}
	analyzeVerbs[name] = verb{summary: summary, run: run}
}

func init() {
	register("analyze", "run a model on a CSV file and print the fit (--json for JSON)", runAnalyze)
}

func runAnalyze(ctx context.Context, args []string, stdout io.Writer) error {
	names := make([]string, 0, len(analyzeVerbs))
	for n := range analyzeVerbs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return badUsage("analyze needs a sub-verb: one of %s", strings.Join(names, ", "))
	}
	v, ok := analyzeVerbs[args[0]]
	if !ok {
		return badUsage("unknown analysis %q: one of %s", args[0], strings.Join(names, ", "))
	}
	if err := v.run(ctx, args[1:], stdout); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

func init() {
	register("completion", `print a shell completion script for bash or zsh: eval "$(segstream completion bash)"`, completionCmd).args = "bash|zsh"
}

func completionCmd(fs *flag.FlagSet) runFunc {
	return func(_ context.Context, stdout io.Writer) error {
		shell := fs.Arg(0)
		switch shell {
		case "bash":
			_, err := io.WriteString(stdout, bashCompletion())
			return err
		case "zsh":
			// zsh runs bash completion functions through bashcompinit.
			_, err := io.WriteString(stdout, "#compdef segstream\nautoload -U +X bashcompinit && bashcompinit\n"+bashCompletion())
			return err
		}
		return badUsage("give the shell: segstream completion bash, or segstream completion zsh (got %q)", shell)
	}
}

// completionWords maps each command path ("" for the top, "analyze", "analyze clv") to what
// may follow it: its sub-verbs, or a leaf's flags.
func completionWords() map[string][]string {
	out := map[string][]string{}
	var walk func(path string, m map[string]*command)
	walk = func(path string, m map[string]*command) {
		names := sortedNames(m)
		out[path] = append(out[path], names...)
		for _, n := range names {
			c := m[n]
			p := strings.TrimSpace(path + " " + n)
			switch {
			case c.subs != nil:
				walk(p, c.subs)
			case c.flags != nil:
				fs := flag.NewFlagSet(p, flag.ContinueOnError)
				c.flags(fs)
				fs.VisitAll(func(f *flag.Flag) { out[p] = append(out[p], "--"+f.Name) })
				if c.args == "bash|zsh" {
					out[p] = append(out[p], "bash", "zsh")
				}
			}
		}
	}
	walk("", verbs)
	return out
}

// bashCompletion is a bash completion function for the command tree: verbs, sub-verbs and
// each leaf's flags; a flag's value falls back to file names (complete -o default).
func bashCompletion() string {
	words := completionWords()
	paths := make([]string, 0, len(words))
	for p := range words {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	b.WriteString(`# segstream completion for bash (and zsh through bashcompinit):
#   eval "$(segstream completion bash)"
_segstream() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" path="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    [[ $w == -* ]] && break
    path="${path:+$path }$w"
  done
  # The word after a flag is most likely its value: leave it to file completion.
  if [[ $prev == -* && $prev != *=* && $cur != -* ]]; then
    COMPREPLY=()
    return
  fi
  local words=""
  case "$path" in
`)
	for _, p := range paths {
		fmt.Fprintf(&b, "    %q) words=%q ;;\n", p, strings.Join(words[p], " "))
	}
	b.WriteString(`  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _segstream segstream
`)
	return b.String()
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"
)

// manCmd is the hidden sbx __man: the man page sbx.1, in roff, made from
// the model --help prints (make man writes it).
type manCmd struct{}

func (manCmd) Run() error {
	app, err := fullModel()
	if err != nil {
		return err
	}
	writeMan(os.Stdout, app)
	return nil
}

// writeMan writes the man page: a synopsis, the description, and each
// command that is not hidden with its arguments and flags, grouped as
// --help groups them.
func writeMan(w io.Writer, app *kong.Application) {
	fmt.Fprintf(w, ".TH SBX 1 \"\" \"sbx %s\" \"User Commands\"\n", roff(readBuildInfo().Version))
	fmt.Fprintf(w, ".SH NAME\nsbx \\- a rootless sandbox: run a command in new namespaces as an ordinary user\n")
	fmt.Fprintf(w, ".SH SYNOPSIS\n")
	for _, n := range app.Children {
		if n.Hidden {
			continue
		}
		fmt.Fprintf(w, ".B sbx %s\n%s\n.br\n", roff(n.Name), roff(strings.TrimSpace(n.Summary()[len(n.Name):])))
	}
	fmt.Fprintf(w, ".B sbx\n\\-\\-version | \\-\\-help\n")
	fmt.Fprintf(w, ".SH DESCRIPTION\n%s\n", roffText(app.Help))
	fmt.Fprintf(w, ".PP\nThe README of sbx describes each behaviour at length.\n")
	fmt.Fprintf(w, ".SH OPTIONS\n")
	writeManFlags(w, app.Flags)
	if app.HelpFlag != nil && !containsFlag(app.Flags, app.HelpFlag) {
		writeManFlags(w, []*kong.Flag{app.HelpFlag})
	}
	fmt.Fprintf(w, ".SH COMMANDS\n")
	for _, n := range app.Children {
		if n.Hidden {
			continue
		}
		fmt.Fprintf(w, ".SS \"sbx %s\"\n%s\n", roff(n.Summary()), roffText(n.Help))
		for _, p := range n.Positional {
			fmt.Fprintf(w, ".TP\n.I %s\n%s\n", roff(strings.ToUpper(p.Name)), roffText(p.Help))
		}
		// The flags without a group, then each group's, as --help
		// lists them.
		var keys []string
		groups := map[string][]*kong.Flag{}
		titles := map[string]*kong.Group{}
		for _, f := range n.Flags {
			key := ""
			if f.Group != nil {
				key = f.Group.Key
			}
			if _, ok := groups[key]; !ok {
				keys = append(keys, key)
				titles[key] = f.Group
			}
			groups[key] = append(groups[key], f)
		}
		for _, key := range keys {
			if g := titles[key]; g != nil {
				fmt.Fprintf(w, ".PP\n.I %s\n", roff(g.Title))
				if g.Description != "" {
					fmt.Fprintf(w, "\\(em %s\n", roffText(g.Description))
				}
			}
			writeManFlags(w, groups[key])
		}
	}
	fmt.Fprintf(w, ".SH EXIT STATUS\nThe command's own exit code; 125 when sbx itself fails or refuses its input, "+
		"126 when the command cannot be executed, 127 when it is not found, 128+N when signal N ended it.\n")
	fmt.Fprintf(w, ".SH SEE ALSO\n.BR bwrap (1),\n.BR podman-run (1),\n.BR user_namespaces (7)\n")
}

func writeManFlags(w io.Writer, flags []*kong.Flag) {
	for _, f := range flags {
		if f.Hidden {
			continue
		}
		fmt.Fprintf(w, ".TP\n.B %s\n%s\n", roff(f.String()), roffText(f.Help))
	}
}

func containsFlag(flags []*kong.Flag, f *kong.Flag) bool {
	for _, g := range flags {
		if g.Name == f.Name {
			return true
		}
	}
	return false
}

// roff escapes text for a roff line: backslashes and hyphens.
func roff(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}

// roffText escapes a paragraph: roff, and no line may start with a dot or
// a quote (a request); blank lines become paragraph breaks.
func roffText(s string) string {
	var out []string
	for _, l := range strings.Split(roff(s), "\n") {
		switch {
		case strings.TrimSpace(l) == "":
			out = append(out, ".PP")
		case l[0] == '.' || l[0] == '\'':
			out = append(out, `\&`+l)
		default:
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/sbx-sandbox/sbx/profile"
)

// profileCmd is sbx profile: what the profiles of sbx run --profile are.
type profileCmd struct {
	Show profileShowCmd `cmd:"" help:"Print the flags a profile expands to, one per line."`
	List profileListCmd `cmd:"" help:"List the profiles sbx run --profile finds, and where each is from."`
}

type profileShowCmd struct {
	Name string `arg:"" name:"profile" help:"The profile: a name, or a path (with a /)."`
}

func (c *profileShowCmd) Run() error {
	flags, err := newFinder().Expand(c.Name)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, f := range flags {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	_, err = os.Stdout.WriteString(b.String())
	return err
}

type profileListCmd struct{}

func (c *profileListCmd) Run() error {
	list, err := newFinder().List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tFROM")
	for _, e := range list {
		fmt.Fprintf(w, "%s\t%s\n", e.Name, e.From)
	}
	return w.Flush()
}

func newFinder() *profile.Finder {
	return profile.New(runFlagSpec, os.Getenv)
}

// runFlag is what the profiles and expandProfiles need to know of a flag
// of sbx run.
type runFlag struct {
	long       string
	takesValue bool
}

// runFlags maps each flag of sbx run, by its long name and by its short
// one, read from runCmd's tags (TestRunFlags checks them against kong's
// model).
var runFlags = sync.OnceValue(func() map[string]runFlag {
	m := map[string]runFlag{}
	t := reflect.TypeFor[runCmd]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("name")
		if !ok {
			continue
		}
		if _, isArg := f.Tag.Lookup("arg"); isArg {
			continue
		}
		rf := runFlag{long: name, takesValue: f.Type.Kind() != reflect.Bool}
		m[name] = rf
		if s := f.Tag.Get("short"); s != "" {
			m[s] = rf
		}
	}
	return m
})

// runFlagSpec is runFlags as a profile.Spec.
func runFlagSpec(name string) (string, bool, bool) {
	f, ok := runFlags()[name]
	return f.long, f.takesValue, ok
}

// expandProfiles replaces the --profile flags of an sbx run command line
// by the flags their profiles hold, put right after "run", in the order
// of the --profile flags: the flags given on the command line come after
// them, so that a flag of one value given there wins (kong keeps the last
// value), one that repeats adds to the profile's, and the view operations
// of the command line apply after, over, the profile's. Other command
// lines, and those that ask for help, are returned as they are.
func expandProfiles(args []string) ([]string, error) {
	if len(args) == 0 || args[0] != "run" || asksHelp(args) || !mentionsProfile(args) {
		return args, nil
	}
	names, rest, err := profileArgs(args[1:])
	if err != nil || len(names) == 0 {
		return args, err
	}
	finder := newFinder()
	out := []string{"run"}
	for _, name := range names {
		flags, err := finder.Expand(name)
		if err != nil {
			return nil, err
		}
		for _, f := range flags {
			out = append(out, f.Arg())
		}
	}
	return append(out, rest...), nil
}

// mentionsProfile reports whether an argument before "--" starts with
// --profile: only then is the command line looked at more closely.
func mentionsProfile(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if strings.HasPrefix(a, "--profile") {
			return true
		}
	}
	return false
}

// profileArgs takes the values of the --profile flags out of the
// arguments of sbx run, reading them as kong does: flags up to "--" or
// the first argument that is no flag (the command), the value of a flag
// that takes one after it or after =, short flags grouped (-dt, -eKEY=V).
func profileArgs(args []string) (names, rest []string, err error) {
	flags := runFlags()
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-" || !strings.HasPrefix(a, "-"):
			return names, append(rest, args[i:]...), nil
		case a == "--profile" || strings.HasPrefix(a, "--profile="):
			name, hasValue := strings.CutPrefix(a, "--profile=")
			if !hasValue {
				if i+1 >= len(args) || args[i+1] == "--" {
					return nil, nil, fmt.Errorf("--profile needs a profile's name (sbx profile list)")
				}
				i++
				name = args[i]
			}
			names = append(names, name)
			continue
		case valueFollows(a, flags) && i+1 < len(args):
			rest = append(rest, a, args[i+1])
			i++
			continue
		}
		rest = append(rest, a)
	}
	return names, rest, nil
}

// valueFollows reports whether the flag argument a takes the next
// argument as its value: --NAME of a flag that takes one, or -abX where X
// is the first short flag that takes one.
func valueFollows(a string, flags map[string]runFlag) bool {
	if long, ok := strings.CutPrefix(a, "--"); ok {
		f, ok := flags[long]
		return ok && f.takesValue
	}
	for j := 1; j < len(a); j++ {
		if f, ok := flags[a[j:j+1]]; ok && f.takesValue {
			return j+1 == len(a)
		}
	}
	return false
}

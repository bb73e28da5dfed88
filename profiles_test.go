package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/sbx-sandbox/sbx/desktop"
	"github.com/sbx-sandbox/sbx/network"
	"github.com/sbx-sandbox/sbx/sandbox"
)

// runFlags, read from runCmd's tags, is what kong's model of sbx run
// holds: every flag by its long and short name, and whether it takes a
// value.
func TestRunFlags(t *testing.T) {
	var c cli
	parser, err := newParser(&c)
	if err != nil {
		t.Fatal(err)
	}
	var run *kong.Node
	for _, n := range parser.Model.Children {
		if n.Name == "run" {
			run = n
		}
	}
	if run == nil {
		t.Fatal("no run command in the model")
	}
	want := map[string]runFlag{}
	for _, f := range run.Flags {
		rf := runFlag{long: f.Name, takesValue: !f.IsBool()}
		want[f.Name] = rf
		if f.Short != 0 {
			want[string(f.Short)] = rf
		}
	}
	if got := runFlags(); !reflect.DeepEqual(got, want) {
		t.Errorf("runFlags() = %v\nkong's model: %v", got, want)
	}
}

// profileArgs finds the --profile flags where kong would, and nowhere
// else: not in the value of another flag, not in the command.
func TestProfileArgs(t *testing.T) {
	for _, c := range []struct {
		args, names, rest []string
	}{
		{[]string{"--profile", "a", "--", "x"}, []string{"a"}, []string{"--", "x"}},
		{[]string{"--profile=a", "--profile", "b", "-d"}, []string{"a", "b"}, []string{"-d"}},
		{[]string{"--hostname", "--profile", "--", "x"}, nil, []string{"--hostname", "--profile", "--", "x"}},
		{[]string{"-e", "--profile", "--profile", "p"}, []string{"p"}, []string{"-e", "--profile"}},
		{[]string{"-de", "--profile", "--profile=p"}, []string{"p"}, []string{"-de", "--profile"}},
		{[]string{"-eA=1", "--profile", "p"}, []string{"p"}, []string{"-eA=1"}},
		{[]string{"--memory-swap", "-1", "--profile", "p", "true", "--profile", "q"}, []string{"p"}, []string{"--memory-swap", "-1", "true", "--profile", "q"}},
		{[]string{"--", "--profile", "p"}, nil, []string{"--", "--profile", "p"}},
		{[]string{"--ro-cwd", "--profile", "p", "sh"}, []string{"p"}, []string{"--ro-cwd", "sh"}},
	} {
		names, rest, err := profileArgs(c.args)
		if err != nil || !slices.Equal(names, c.names) || !slices.Equal(rest, c.rest) {
			t.Errorf("profileArgs(%q) = %q, %q, %v; want %q, %q", c.args, names, rest, err, c.names, c.rest)
		}
	}
	if _, _, err := profileArgs([]string{"-d", "--profile"}); err == nil {
		t.Error("--profile without a name: no error")
	}
}

// What a profile holds, kong parses first: the command line's flag of one
// value wins, its repeated flags add, and its view operations come after
// the profile's.
func TestExpandProfiles(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", "/home/u")
	dir := filepath.Join(cfg, "sbx", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("p", "# a profile\n--hostname fromprofile\n--tmpfs /mnt\n--env A=1\n\n-e B=2\n--ro-bind-try ~/Documents\n--memory-swap=-1\n--ro-cwd\n")
	write("q", "--profile p\n--bind /srv\n")
	for _, c := range []struct {
		args     []string
		hostname string
		env      []string
		view     []sandbox.ViewOp
		command  []string
	}{
		{[]string{"run", "--profile", "p", "--", "true"}, "fromprofile", []string{"A=1", "B=2"},
			[]sandbox.ViewOp{{Kind: "tmpfs", Arg: "/mnt"}, {Kind: "ro-bind-try", Arg: "/home/u/Documents"}}, []string{"--", "true"}},
		{[]string{"run", "--hostname", "mine", "-e", "C=3", "--tmpfs", "/mnt/x", "--profile=p", "--", "true"}, "mine", []string{"A=1", "B=2", "C=3"},
			[]sandbox.ViewOp{{Kind: "tmpfs", Arg: "/mnt"}, {Kind: "ro-bind-try", Arg: "/home/u/Documents"}, {Kind: "tmpfs", Arg: "/mnt/x"}}, []string{"--", "true"}},
		{[]string{"run", "--profile", "q", "--hide", "/srv/a", "sh", "--profile", "x"}, "fromprofile", []string{"A=1", "B=2"},
			[]sandbox.ViewOp{{Kind: "tmpfs", Arg: "/mnt"}, {Kind: "ro-bind-try", Arg: "/home/u/Documents"}, {Kind: "bind", Arg: "/srv"}, {Kind: "hide", Arg: "/srv/a"}},
			[]string{"sh", "--profile", "x"}},
	} {
		args, err := expandProfiles(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		recordedView = nil
		kctx, err := parse(args)
		if err != nil {
			t.Errorf("%q: expanded to %q: %v", c.args, args, err)
			continue
		}
		r := kctx.Selected().Target.Addr().Interface().(*runCmd)
		if r.Hostname != c.hostname || !slices.Equal(r.Env, c.env) || !reflect.DeepEqual(recordedView, c.view) ||
			!slices.Equal(r.Command, c.command) || !r.ROCwd || string(r.MemorySwap) != "-1" || len(r.Profiles) != 0 {
			t.Errorf("%q: expanded to %q: hostname %q, env %q, view %v, command %q, ro-cwd %v, memory-swap %q, profiles %q; want %q, %q, %v, %q",
				c.args, args, r.Hostname, r.Env, recordedView, r.Command, r.ROCwd, r.MemorySwap, r.Profiles, c.hostname, c.env, c.view, c.command)
		}
	}
	recordedView = nil
	// Not sbx run, help, no --profile: the command line is left alone.
	for _, args := range [][]string{{"exec", "--profile", "p"}, {"run", "--help", "--profile", "p"}, {"run", "--", "--profile", "p"}} {
		if got, err := expandProfiles(args); err != nil || !slices.Equal(got, args) {
			t.Errorf("%q: expanded to %q, %v", args, got, err)
		}
	}
	if _, err := expandProfiles([]string{"run", "--profile", "nope", "--", "true"}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("an unknown profile: %v; want an error naming %s", err, dir)
	}
}

// Each shipped profile expands to flags kong accepts, with values sbx
// run's own checks accept.
func TestShippedProfilesParse(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", "/home/u")
	list, err := newFinder().List()
	if err != nil || len(list) == 0 {
		t.Fatalf("no profiles listed: %v", err)
	}
	for _, e := range list {
		args, err := expandProfiles([]string{"run", "--profile", e.Name, "--", "true"})
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		recordedView = nil
		kctx, err := parse(args)
		if err != nil {
			t.Errorf("%s: %q: %v", e.Name, args, err)
			continue
		}
		r := kctx.Selected().Target.Addr().Interface().(*runCmd)
		for _, s := range r.Shares {
			if _, err := desktop.Parse(s); err != nil {
				t.Errorf("%s: %v", e.Name, err)
			}
		}
		if _, err := network.Parse(network.Options{Mode: r.Net}); err != nil {
			t.Errorf("%s: %v", e.Name, err)
		}
	}
	recordedView = nil
}

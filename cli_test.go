package main

import (
	"reflect"
	"slices"
	"testing"

	"github.com/sbx-sandbox/sbx/state"
)

// The names commandField knows a command by are those of the full model.
func TestCommandNames(t *testing.T) {
	var c cli
	parser, err := newParser(&c)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range parser.Model.Children {
		for _, name := range append([]string{n.Name}, n.Aliases...) {
			f, ok := commandField([]string{name})
			if !ok {
				t.Errorf("command %q: no field of cli found", name)
				continue
			}
			if got := commandNames(f); !slices.Contains(got, name) {
				t.Errorf("command %q: field %s has names %q", name, f.Name, got)
			}
		}
	}
	for _, args := range [][]string{nil, {"bogus"}, {"--help"}, {"-h", "run"}, {"Run"}, {"--", "run"}} {
		if _, ok := commandField(args); ok {
			t.Errorf("%q: taken for a command", args)
		}
	}
}

func TestAsksHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "--help"}, true},
		{[]string{"run", "-h"}, true},
		{[]string{"run", "-th", "--", "sh"}, true},
		{[]string{"run", "--help=true"}, true},
		{[]string{"run", "--hostname", "h", "--", "sh"}, false},
		{[]string{"run", "--", "ls", "--help"}, false},
		{[]string{"run", "--", "-h"}, false},
		{[]string{"version"}, false},
	} {
		if got := asksHelp(c.args); got != c.want {
			t.Errorf("asksHelp(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// What the model of one command accepts, the full model parses alike: the
// same command, the same values, the same view in the same order.
func TestParseOneAsFull(t *testing.T) {
	for _, args := range [][]string{
		{"version"},
		{"run", "--", "true"},
		{"run"},
		{"run", "true"},
		{"run", "--map", "single", "--", "true"},
		{"run", "--map=single", "-d", "--name", "x", "-e", "A=1", "-eB", "--clearenv", "-w", "/tmp", "--", "sh", "-c", "x"},
		{"run", "--uid", "0", "--gid", "0", "--hostname", "box", "--", "id"},
		{"run", "--tmpfs", "/mnt", "--ro-bind", "/usr:/mnt/a", "--bind", "/tmp", "--dir", "/mnt/b", "--symlink", "a:/mnt/c", "--hide", "/etc/shadow", "--", "true"},
		{"run", "--cap-add", "NET_RAW", "--cap-drop", "ALL", "--seccomp", "unconfined", "--seccomp-allow", "io_uring,vsock", "--ulimit", "nofile=10", "--preserve-fds", "2", "--landlock", "--", "true"},
		{"run", "--rootfs", "/", "--rootfs-rw", "--no-cwd", "-t", "--log-size-max", "1m", "--", "true"},
		{"run", "--", "--help"},
		{"run", "--bogus"},
		{"exec", "box", "--", "true"},
		{"exec", "box", "true"},
		{"exec", "-e", "A=1", "-w", "/", "--uid", "1", "-t", "--preserve-fds", "1", "box", "--", "sh"},
		{"exec", "version"},
		{"ps"},
		{"ps", "--json"},
		{"state", "box"},
		{"kill", "box"},
		{"kill", "box", "KILL"},
		{"rm", "-f", "box"},
		{"check", "--json"},
		{"run", "--map", "auto", "--", "true"},
		{"run", "--map", "weird", "--", "true"}, // refused by Run
		{"run", "--ulimit", "as=512m", "--", "true"},
		{"help"},
		{"help", "run"},
		{"completion", "bash"},
		{"__man"},
		{"profile", "list"},
		{"profile", "show", "browser"},
		{"run", "--profile", "p", "--", "true"}, // not expanded here: refused by Run
	} {
		recordedView = nil
		one, ok := parseOne(args)
		if !ok {
			t.Errorf("%q: not parsed by the model of its command", args)
			continue
		}
		oneView := recordedView
		recordedView = nil
		var c cli
		parser, err := newParser(&c)
		if err != nil {
			t.Fatal(err)
		}
		full, err := parser.Parse(args)
		if err != nil {
			t.Errorf("%q: the model of its command accepts it, the full model answers %v", args, err)
			continue
		}
		if one.Command() != full.Command() {
			t.Errorf("%q: command %q, by the full model %q", args, one.Command(), full.Command())
		}
		a, b := one.Selected().Target.Interface(), full.Selected().Target.Interface()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q: parsed as %+v, by the full model as %+v", args, a, b)
		}
		if !reflect.DeepEqual(oneView, recordedView) {
			t.Errorf("%q: view %v, by the full model %v", args, oneView, recordedView)
		}
	}
	recordedView = nil
}

// What the model of one command refuses, or would answer with help, is
// left to the full model.
func TestParseOneDeclines(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"bogus"},
		{"--map", "single", "run"},
		{"run", "--help"},
		{"run", "-h"},
		{"run", "--uid", "x", "--", "true"},
		{"run", "--tmpfs", "/a", "--ro-bind"},
		{"exec"},
		{"state"},
		{"version", "extra"},
		{"ps", "--bogus"},
		{"completion"},
		{"completion", "tcsh"},
		{"version", "-V"},
		{"profile"},
		{"profile", "show"},
	} {
		recordedView = nil
		if _, ok := parseOne(args); ok {
			t.Errorf("%q: parsed by the model of one command", args)
		}
		if recordedView != nil {
			t.Errorf("%q: view %v left over", args, recordedView)
		}
	}
}

// What kong costs sbx run and sbx version before they run: the full model,
// and the model of the command alone.
func BenchmarkParse(b *testing.B) {
	for _, args := range [][]string{{"run", "--map", "single", "--", "true"}, {"version"}} {
		b.Run(args[0]+"/full", func(b *testing.B) {
			for b.Loop() {
				recordedView = nil
				var c cli
				parser, err := newParser(&c)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := parser.Parse(args); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(args[0]+"/one", func(b *testing.B) {
			for b.Loop() {
				recordedView = nil
				if _, ok := parseOne(args); !ok {
					b.Fatal("not parsed")
				}
			}
		})
	}
}

// sbx kill's arguments: -s names the signal; without it, a last argument
// of several that is no sandbox's name is the signal.
func TestKillArgs(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	for _, name := range []string{"a", "b", "TERM"} {
		if err := state.Create(name); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args  []string
		flag  string
		names []string
		sig   string
	}{
		{[]string{"a"}, "", []string{"a"}, "TERM"},
		{[]string{"a", "KILL"}, "", []string{"a"}, "KILL"},
		{[]string{"a", "9"}, "", []string{"a"}, "9"},
		{[]string{"a", "b"}, "", []string{"a", "b"}, "TERM"},
		{[]string{"a", "b", "HUP"}, "", []string{"a", "b"}, "HUP"},
		{[]string{"a", "TERM"}, "", []string{"a", "TERM"}, "TERM"}, // a sandbox named TERM
		{[]string{"a", "FOO"}, "", []string{"a"}, "FOO"},           // a bad signal, refused later
		{[]string{"a", "KILL"}, "HUP", []string{"a", "KILL"}, "HUP"},
		{[]string{"KILL"}, "", []string{"KILL"}, "TERM"},
	} {
		names, sig := killArgs(c.args, c.flag)
		if !slices.Equal(names, c.names) || sig != c.sig {
			t.Errorf("killArgs(%q, %q) = %q, %q; want %q, %q", c.args, c.flag, names, sig, c.names, c.sig)
		}
	}
}

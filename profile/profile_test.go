package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// spec is a few flags of sbx run, as the profiles see them.
func spec(name string) (string, bool, bool) {
	flags := map[string]bool{"hostname": true, "env": true, "tmpfs": true, "ro-bind-try": true, "bind": true,
		"no-cwd": false, "profile": true, "memory-swap": true}
	switch name {
	case "e":
		name = "env"
	case "d":
		return "detach", false, true
	}
	v, ok := flags[name]
	return name, v, ok
}

func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		text string
		want Flag
		err  string
	}{
		{"--hostname box", Flag{"hostname", "box", true}, ""},
		{"--hostname=box", Flag{"hostname", "box", true}, ""},
		{"--hostname \t box  ", Flag{"hostname", "box", true}, ""},
		{"--env A=a b  c", Flag{"env", "A=a b  c", true}, ""},
		{"--env=A=\"q\" # not a comment", Flag{"env", `A="q" # not a comment`, true}, ""},
		{"-e A=1", Flag{"env", "A=1", true}, ""},
		{"--memory-swap -1", Flag{"memory-swap", "-1", true}, ""},
		{"--no-cwd", Flag{"no-cwd", "", false}, ""},
		{"-d", Flag{"detach", "", false}, ""},
		{"--", Flag{}, "-- cannot be in a profile"},
		{"--bogus x", Flag{}, "--bogus is not a flag of sbx run"},
		{"-x", Flag{}, "-x is not a flag of sbx run"},
		{"hostname box", Flag{}, "is not a flag"},
		{"-eA=1", Flag{}, "is not a flag"},
		{"--hostname", Flag{}, "--hostname needs a value"},
		{"--hostname=", Flag{}, "--hostname needs a value"},
		{"--no-cwd yes", Flag{}, "--no-cwd takes no value"},
		{"--no-cwd=", Flag{}, "--no-cwd takes no value"},
	} {
		l, err := parseLine(c.text, spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one saying %q", c.text, err, c.err)
			}
			continue
		}
		if got := (Flag{l.name, l.value, l.hasValue}); err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.text, got, err, c.want)
		}
	}
}

func TestExpandValue(t *testing.T) {
	env := map[string]string{"HOME": "/home/u/", "XDG_DATA_HOME": "/data", "XDG_CACHE_HOME": "relative", "XDG_RUNTIME_DIR": "/run/user/1", "OTHER": "x"}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct{ in, want, err string }{
		{"plain/path", "plain/path", ""},
		{"~", "/home/u", ""},
		{"~/Documents", "/home/u/Documents", ""},
		{"~/src:~/src", "/home/u/src:/home/u/src", ""},
		{"/a/~/b", "/a/~/b", ""},
		{"~user/x", "~user/x", ""},
		{"a~", "a~", ""},
		{"$HOME/x", "/home/u/x", ""},
		{"${HOME}x", "/home/ux", ""},
		{"$XDG_CONFIG_HOME/app", "/home/u/.config/app", ""},
		{"$XDG_DATA_HOME/app", "/data/app", ""},
		{"$XDG_CACHE_HOME", "/home/u/.cache", ""},
		{"${XDG_STATE_HOME}", "/home/u/.local/state", ""},
		{"$XDG_RUNTIME_DIR/w", "/run/user/1/w", ""},
		{"cost: $$5 and $ alone", "cost: $5 and $ alone", ""},
		{"$OTHER", "", "$OTHER: a profile expands only"},
		{"${OTHER}", "", "$OTHER: a profile expands only"},
		{"${HOME", "", "without its }"},
	} {
		got, err := expandValue(c.in, getenv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %q, %v; want an error saying %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	noHome := func(k string) string { return "" }
	for _, in := range []string{"~", "$HOME", "$XDG_CONFIG_HOME", "$XDG_RUNTIME_DIR"} {
		if got, err := expandValue(in, noHome); err == nil {
			t.Errorf("%q without HOME nor XDG_RUNTIME_DIR: %q, no error", in, got)
		}
	}
}

// finder makes a Finder over two directories (the user's, then the
// system's) and a few shipped profiles.
func finder(t *testing.T) (*Finder, string, string) {
	t.Helper()
	user, system := t.TempDir(), t.TempDir()
	shipped := fstest.MapFS{
		"base":   {Data: []byte("--hostname shipped\n")},
		"shadow": {Data: []byte("--hostname shipped-shadow\n")},
		"top":    {Data: []byte("--profile base\n--no-cwd\n")},
	}
	env := map[string]string{"HOME": "/home/u"}
	return &Finder{Dirs: []string{user, system}, Shipped: shipped, Getenv: func(k string) string { return env[k] }, Spec: spec}, user, system
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFinder(t *testing.T) {
	f, user, system := finder(t)
	writeFile(t, filepath.Join(user, "shadow"), "--hostname user\n")
	writeFile(t, filepath.Join(system, "shadow"), "--hostname system\n")
	writeFile(t, filepath.Join(system, "sys"), "--hostname system\n--tmpfs ~/x\n")
	writeFile(t, filepath.Join(user, "inc"), "--env A=1\n--profile sub/p\n--profile top\n--env B=2\n")
	writeFile(t, filepath.Join(user, "sub", "p"), "--profile ./q\n")
	writeFile(t, filepath.Join(user, "sub", "q"), "--tmpfs /q\n")
	writeFile(t, filepath.Join(user, ".hidden"), "--no-cwd\n")
	for _, c := range []struct {
		name string
		want []Flag
	}{
		{"shadow", []Flag{{"hostname", "user", true}}},
		{"sys", []Flag{{"hostname", "system", true}, {"tmpfs", "/home/u/x", true}}},
		{"base", []Flag{{"hostname", "shipped", true}}},
		{"top", []Flag{{"hostname", "shipped", true}, {"no-cwd", "", false}}},
		{"inc", []Flag{{"env", "A=1", true}, {"tmpfs", "/q", true}, {"hostname", "shipped", true}, {"no-cwd", "", false}, {"env", "B=2", true}}},
		{filepath.Join(user, "sub", "q"), []Flag{{"tmpfs", "/q", true}}},
	} {
		got, err := f.Expand(c.name)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Expand(%q) = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	list, err := f.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Name+" "+e.From.String())
	}
	want := []string{"base shipped", "inc " + filepath.Join(user, "inc"), "shadow " + filepath.Join(user, "shadow"),
		"sys " + filepath.Join(system, "sys"), "top shipped"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() = %q, want %q", got, want)
	}
}

// Each bad profile is one error naming the file and its line.
func TestFinderErrors(t *testing.T) {
	f, user, _ := finder(t)
	writeFile(t, filepath.Join(user, "self"), "--no-cwd\n--profile self\n")
	writeFile(t, filepath.Join(user, "loop1"), "--profile loop2\n")
	writeFile(t, filepath.Join(user, "loop2"), "--profile loop1\n")
	writeFile(t, filepath.Join(user, "bad"), "# fine\n--no-cwd\n\n--bogus\n")
	writeFile(t, filepath.Join(user, "cmd"), "--no-cwd\n--\n")
	writeFile(t, filepath.Join(user, "var"), "--tmpfs $SECRET/x\n")
	writeFile(t, filepath.Join(user, "incbad"), "--no-cwd\n--profile bad\n")
	writeFile(t, filepath.Join(user, "missing"), "--profile nowhere\n")
	for i := 0; i <= MaxDepth; i++ {
		writeFile(t, filepath.Join(user, "deep"+string(rune('0'+i))), "--profile deep"+string(rune('0'+i+1))+"\n")
	}
	for _, c := range []struct{ name, want string }{
		{"self", "profile " + filepath.Join(user, "self") + " includes itself"},
		{"loop1", "includes itself"},
		{"bad", "profile " + filepath.Join(user, "bad") + ", line 4: --bogus is not a flag of sbx run"},
		{"cmd", "profile " + filepath.Join(user, "cmd") + ", line 2: -- cannot be in a profile"},
		{"var", ", line 1: --tmpfs: $SECRET: a profile expands only"},
		{"incbad", "profile " + filepath.Join(user, "incbad") + ", line 2: profile " + filepath.Join(user, "bad") + ", line 4: --bogus"},
		{"missing", ", line 1: profile \"nowhere\" not found: looked in " + user},
		{"deep0", "nest more than 8 deep"},
		{"nope", "profile \"nope\" not found: looked in " + strings.Join(f.Dirs, ", ") + ", and among the shipped ones (base, shadow, top)"},
		{".hidden", "not a profile's name"},
		{"./nowhere", "profile ./nowhere: stat"},
		{user, "is not a regular file"},
	} {
		_, err := f.Expand(c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Expand(%q): %v; want one line saying %q", c.name, err, c.want)
		}
	}
}

// The shipped profiles parse, with every flag of theirs known to spec's
// caller (sbx checks them against sbx run's flags in its own tests).
func TestShippedNames(t *testing.T) {
	f := &Finder{Shipped: Shipped()}
	if got, want := f.shippedNames(), []string{"browser", "document-viewer", "untrusted-cli"}; !reflect.DeepEqual(got, want) {
		t.Errorf("shipped profiles %q, want %q", got, want)
	}
}

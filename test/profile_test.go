package test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// profileHome is a caller's home for the profile tests: HOME (with
// ~/.config/sbx/profiles), XDG_RUNTIME_DIR, and the environment that
// names them (without XDG_CONFIG_HOME, so the default applies).
type profileHome struct {
	home, runtime, profiles string
	env                     []string
}

func newProfileHome(t *testing.T) *profileHome {
	t.Helper()
	h := &profileHome{home: testDir(t), runtime: testDir(t)}
	h.profiles = filepath.Join(h.home, ".config", "sbx", "profiles")
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "WAYLAND_DISPLAY":
			continue
		}
		h.env = append(h.env, kv)
	}
	h.env = append(h.env, "HOME="+h.home, "XDG_RUNTIME_DIR="+h.runtime)
	return h
}

// profile writes the caller's profile name.
func (h *profileHome) profile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(h.profiles, name)
	writeTree(t, path, text)
	return path
}

// sbx runs sbx in dir ("": a fresh one) with the home's environment and
// extra settings.
func (h *profileHome) sbx(t *testing.T, dir string, extra []string, args ...string) result {
	t.Helper()
	return invocation{args: args, dir: dir, env: append(append([]string(nil), h.env...), extra...)}.run(t)
}

// A profile of the caller's applies, the command line's flags win over
// it, add to it, and their view operations apply after its own.
func TestProfileUser(t *testing.T) {
	t.Parallel()
	h := newProfileHome(t)
	writeTree(t, filepath.Join(h.home, "data", "f"), "hello\n")
	h.profile(t, "mine", `# the caller's own profile
--hostname fromprofile
--tmpfs /mnt
--ro-bind-try ~/data:/mnt/data
--ro-bind-try ~/absent:/mnt/absent

-e A=profile
`)
	script := `hostname; cat /mnt/data/f 2>/dev/null || echo no-data; echo "A=$A B=$B"`
	for _, c := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"applies", []string{"--profile", "mine"}, "fromprofile\nhello\nA=profile B=\n"},
		{"the command line wins after", []string{"--profile", "mine", "--hostname", "cli", "-e", "A=cli"}, "cli\nhello\nA=cli B=\n"},
		{"the command line wins before", []string{"--hostname", "cli", "-e", "B=cli", "--profile=mine"}, "cli\nhello\nA=profile B=cli\n"},
		{"view after the profile's", []string{"--tmpfs", "/mnt/data", "--profile", "mine"}, "fromprofile\nno-data\nA=profile B=\n"},
		{"XDG_CONFIG_HOME", []string{"--profile", "mine"}, ""},
		{"a path", []string{"--profile", filepath.Join(h.profiles, "mine")}, "fromprofile\nhello\nA=profile B=\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			if c.name == "XDG_CONFIG_HOME" {
				// Another config directory: the profile of ~/.config is
				// not looked for.
				extra = []string{"XDG_CONFIG_HOME=" + testDir(t)}
				r := h.sbx(t, "", extra, append(append([]string{"run"}, c.flags...), "--", "sh", "-c", script)...)
				expectBadInput(t, r, "profile \"mine\" not found", strings.TrimPrefix(extra[0], "XDG_CONFIG_HOME=")+"/sbx/profiles")
				return
			}
			r := h.sbx(t, "", extra, append(append([]string{"run"}, c.flags...), "--", "sh", "-c", script)...)
			if got := r.ok(t); got != c.want {
				t.Errorf("want %q:\n%s", c.want, r)
			}
		})
	}
	// A profile of the caller's shadows the shipped one of that name.
	t.Run("shadows shipped", func(t *testing.T) {
		path := h.profile(t, "untrusted-cli", "--hostname shadowed\n")
		r := h.sbx(t, "", nil, "run", "--profile", "untrusted-cli", "--", "hostname")
		if got := r.ok(t); got != "shadowed\n" {
			t.Errorf("want the caller's untrusted-cli (hostname shadowed):\n%s", r)
		}
		r = h.sbx(t, "", nil, "profile", "list")
		if !strings.Contains(r.ok(t), "untrusted-cli    "+path+"\n") || !strings.Contains(r.stdout, "browser          shipped\n") {
			t.Errorf("want untrusted-cli from %s and browser shipped:\n%s", path, r)
		}
	})
}

// A bad profile, or a bad --profile, is one line naming the profile (its
// file and line), exit 125, and no sandbox.
func TestProfileBadInput(t *testing.T) {
	t.Parallel()
	h := newProfileHome(t)
	bad := h.profile(t, "bad", "--no-cwd\n# fine\n--bogus-flag x\n")
	cmd := h.profile(t, "cmd", "--no-cwd\n--\n")
	h.profile(t, "inc", "--profile bad\n")
	loop := h.profile(t, "loop", "--no-cwd\n--profile loop\n")
	vars := h.profile(t, "vars", "--tmpfs $SECRET_DIR/x\n")
	value := h.profile(t, "value", "--no-cwd yes\n")
	marker := filepath.Join(testDir(t), "ran")
	for _, c := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"unknown", []string{"--profile", "nope"}, []string{`profile "nope" not found`, h.profiles, "/etc/sbx/profiles", "browser"}},
		{"unknown flag", []string{"--profile", "bad"}, []string{bad + ", line 3", "--bogus-flag is not a flag of sbx run"}},
		{"the command", []string{"--profile", "cmd"}, []string{cmd + ", line 2", "-- cannot be in a profile"}},
		{"included", []string{"--profile", "inc"}, []string{bad + ", line 3"}},
		{"itself", []string{"--profile", "loop"}, []string{loop, "includes itself"}},
		{"variable", []string{"--profile", "vars"}, []string{vars + ", line 1", "$SECRET_DIR"}},
		{"value", []string{"--profile", "value"}, []string{value + ", line 1", "--no-cwd takes no value"}},
		{"no name", []string{"--no-cwd", "--profile"}, []string{"--profile needs a profile's name"}},
		{"bad name", []string{"--profile", ".hidden"}, []string{"not a profile's name"}},
		{"not a file", []string{"--profile", h.profiles + "/"}, []string{"is not a regular file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.sbx(t, "", nil, append(append([]string{"run"}, c.args...), "--", "touch", marker)...)
			expectBadInput(t, r, c.mention...)
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the command ran:\n%s", r)
			}
		})
	}
	if r := h.sbx(t, "", nil, "ps"); len(lines(r.ok(t))) != 1 {
		t.Errorf("a sandbox is left:\n%s", r)
	}
	expectBadInput(t, h.sbx(t, "", nil, "profile", "show", "bad"), bad+", line 3")
	expectBadInput(t, h.sbx(t, "", nil, "profile", "show", "nope"), `profile "nope" not found`)
}

// sbx profile show prints the flags a profile expands to, one per line,
// ~ and the variables replaced, the profiles it includes in their place.
func TestProfileShow(t *testing.T) {
	t.Parallel()
	h := newProfileHome(t)
	h.profile(t, "base", "--hostname base\n")
	h.profile(t, "mine", "# mine\n--ro-bind-try ~/Documents\n--profile base\n--env=CACHE=$XDG_CACHE_HOME/x\n-e  RUN=${XDG_RUNTIME_DIR}\n--no-cwd\n--memory-swap -1\n")
	r := h.sbx(t, "", nil, "profile", "show", "mine")
	want := "--ro-bind-try " + h.home + "/Documents\n--hostname base\n--env CACHE=" + h.home + "/.cache/x\n--env RUN=" + h.runtime + "\n--no-cwd\n--memory-swap -1\n"
	if got := r.ok(t); got != want {
		t.Errorf("want:\n%s\ngot:\n%s", want, r)
	}
	r = h.sbx(t, "", nil, "profile", "show", "document-viewer")
	want = "--share wayland\n--net none\n--tmpfs " + h.home + "\n--ro-bind-try " + h.home + "/Documents\n--ro-bind-try " + h.home + "/Downloads\n--ro-bind .\n"
	if got := r.ok(t); got != want {
		t.Errorf("want:\n%s\ngot:\n%s", want, r)
	}
	r = h.sbx(t, "", nil, "profile", "list")
	want = "NAME             FROM\nbase             " + filepath.Join(h.profiles, "base") + "\nbrowser          shipped\ndocument-viewer  shipped\n" +
		"mine             " + filepath.Join(h.profiles, "mine") + "\nuntrusted-cli    shipped\n"
	if got := r.ok(t); got != want {
		t.Errorf("want:\n%s\ngot:\n%s", want, r)
	}
}

// Each shipped profile starts its program's stand-in, which finds what the
// profile promises: the Wayland display, the network or none, a private
// home with only what the profile shows of the caller's, read-only where
// it says so.
func TestProfileShipped(t *testing.T) {
	t.Parallel()
	h := newProfileHome(t)
	writeTree(t, filepath.Join(h.home, "secret"), "secret\n")
	writeTree(t, filepath.Join(h.home, "Documents", "doc"), "doc\n")
	writeTree(t, filepath.Join(h.home, "Downloads", "dl"), "dl\n")
	// A stand-in for the compositor: the share resolves to its socket.
	display := filepath.Join(h.runtime, "wayland-7")
	l, err := net.Listen("unix", display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// And for the sound server (the browser's).
	if err := os.MkdirAll(filepath.Join(h.runtime, "pulse"), 0o700); err != nil {
		t.Fatal(err)
	}
	pulse, err := net.Listen("unix", filepath.Join(h.runtime, "pulse", "native"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pulse.Close() })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// probe prints one fact per line: the display reached, the network
	// interfaces, what of the home shows, what is writable, the
	// environment's secret.
	probe := `w() { if (: >> "$1") 2>/dev/null; then echo "$2 writable"; else echo "$2 not-writable"; fi; }
		if [ -n "$WAYLAND_DISPLAY" ]; then SBX_TEST_TOOL=escape ` + self + ` connect "$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY"; else echo no-display; fi
		echo "net $(awk -F: 'NR > 2 { gsub(/ /, "", $1); printf "%s ", $1 }' /proc/net/dev)"
		for f in secret Documents/doc Downloads/dl; do if [ -e ~/$f ]; then echo "$f $(cat ~/$f)"; else echo "$f absent"; fi; done
		w ~/new home; w ~/Documents/new Documents; w ~/Downloads/new Downloads; w ./new cwd
		cat ./here 2>/dev/null || echo no-cwd
		echo "token ${SECRET_TOKEN:-unset} path ${PATH:+set}"
		unshare -U true 2>/dev/null && echo userns || echo no-userns`
	for _, c := range []struct {
		profile string
		flags   []string
		want    string
		written []string // what the stand-in wrote on the host, under the home or the working directory
	}{
		{"browser", nil, "connect ok\nnet lo NONLO\nsecret absent\nDocuments/doc absent\nDownloads/dl dl\n" +
			"home writable\nDocuments not-writable\nDownloads writable\ncwd not-writable\nno-cwd\ntoken t0ken path set\nuserns\n",
			[]string{"Downloads/new", ".local/share/sbx/homes/sh/new"}},
		{"document-viewer", nil, "connect ok\nnet lo \nsecret absent\nDocuments/doc doc\nDownloads/dl dl\n" +
			"home writable\nDocuments not-writable\nDownloads not-writable\ncwd not-writable\nhere\ntoken t0ken path set\nno-userns\n",
			nil},
		{"untrusted-cli", nil, "no-display\nnet lo \nsecret absent\nDocuments/doc absent\nDownloads/dl absent\n" +
			"home writable\nDocuments not-writable\nDownloads not-writable\ncwd not-writable\nhere\ntoken unset path set\nno-userns\n",
			nil},
		// What the profile's comment promises: --bind . on the command
		// line makes the working directory writable.
		{"untrusted-cli", []string{"--bind", "."}, "no-display\nnet lo \nsecret absent\nDocuments/doc absent\nDownloads/dl absent\n" +
			"home writable\nDocuments not-writable\nDownloads not-writable\ncwd writable\nhere\ntoken unset path set\nno-userns\n",
			[]string{"cwd/new"}},
	} {
		t.Run(c.profile+strings.Join(c.flags, ""), func(t *testing.T) {
			dir := testDir(t)
			writeTree(t, filepath.Join(dir, "here"), "here\n")
			args := append(append([]string{"run", "--profile", c.profile}, c.flags...), "--", "sh", "-c", probe)
			r := h.sbx(t, dir, []string{"WAYLAND_DISPLAY=wayland-7", "SECRET_TOKEN=t0ken"}, args...)
			got := r.ok(t)
			if c.profile == "browser" {
				// The user-mode network's interface: its name is the
				// helper's.
				if f := strings.Fields(strings.Split(got, "\n")[1]); len(f) == 3 && f[1] == "lo" {
					got = strings.Replace(got, "net lo "+f[2]+" ", "net lo NONLO", 1)
				}
			}
			if got != c.want {
				t.Errorf("want:\n%s\n%s", indent(c.want), r)
			}
			for _, f := range []string{"new", "Documents/new", "Downloads/new", "cwd/new", ".local/share/sbx/homes/sh/new"} {
				path := filepath.Join(h.home, f)
				if rest, ok := strings.CutPrefix(f, "cwd/"); ok {
					path = filepath.Join(dir, rest)
				}
				_, err := os.Stat(path)
				if want := slices.Contains(c.written, f); want != (err == nil) {
					t.Errorf("%s: on the host %v, want written: %v", path, err, want)
				}
				os.Remove(path)
			}
		})
	}
}

// bash completes --profile with the names sbx profile list shows, and sbx
// profile with its commands.
func TestProfileCompletion(t *testing.T) {
	t.Parallel()
	h := newProfileHome(t)
	h.profile(t, "mine", "--no-cwd\n")
	script := h.sbx(t, "", nil, "completion", "bash").ok(t)
	file := filepath.Join(testDir(t), "complete.bash")
	writeTree(t, file, script)
	probe := `. "$1"; for line in "sbx run --profile " "sbx run -d --profile b" "sbx prof" "sbx profile "; do
		read -ra COMP_WORDS <<<"$line"; [[ $line == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _sbx; echo "${COMPREPLY[*]}"; done`
	cmd := exec.Command("bash", "-c", probe, "bash", file)
	// sbx on PATH, as the completion calls it.
	cmd.Env = append(append([]string(nil), h.env...), "PATH="+filepath.Dir(sbxBinary(t))+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if want := "browser document-viewer mine untrusted-cli\nbrowser\nprofile\nshow list\n"; err != nil || string(out) != want {
		t.Errorf("bash offers %q (%v), want %q", out, err, want)
	}
}

// A bind that shows the whole home again after an operation that hid the
// home directory itself (a profile's --tmpfs ~ and --ro-bind ., run from
// the home) is refused: one line, 125, nothing run. Hiding what holds the
// home (--tmpfs /home) and binding the home is what it says, and runs.
func TestHomeCoverUndone(t *testing.T) {
	t.Parallel()
	h := newProfileHome(t)
	writeTree(t, filepath.Join(h.home, ".ssh", "id_ed25519"), "key\n")
	l, err := net.Listen("unix", filepath.Join(h.runtime, "wayland-home"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	marker := filepath.Join(testDir(t), "ran")
	for _, c := range []struct {
		name string
		dir  string
		args []string
		bad  []string // what the error line names; nil: it runs
	}{
		{"untrusted-cli from the home", h.home, []string{"--profile", "untrusted-cli"}, []string{"--ro-bind .", h.home, "--tmpfs " + h.home}},
		{"document-viewer from the home", h.home, []string{"--profile", "document-viewer"}, []string{"--ro-bind .", "--tmpfs " + h.home}},
		{"tmpfs then bind of the home", "", []string{"--tmpfs", h.home, "--ro-bind", h.home}, []string{"--ro-bind " + h.home, "--tmpfs " + h.home}},
		{"private home then bind of the home", "", []string{"--share", "home=" + testDir(t), "--bind", h.home}, []string{"--bind " + h.home, "--share home"}},
		{"untrusted-cli from below the home", filepath.Join(h.home, ".ssh"), []string{"--profile", "untrusted-cli"}, nil},
		{"tmpfs of what holds the home", "", []string{"--tmpfs", filepath.Dir(h.home), "--ro-bind", h.home}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{"run"}, c.args...), "--", "touch", marker)
			env := []string{"WAYLAND_DISPLAY=" + filepath.Join(h.runtime, "wayland-home")}
			if c.bad == nil {
				// The marker's directory bound last, over any cover.
				args = append(append(append([]string{"run", "-w", "/"}, c.args...), "--bind", filepath.Dir(marker)), "--", "touch", marker)
				r := h.sbx(t, c.dir, env, args...)
				r.ok(t)
				if _, err := os.Stat(marker); err != nil {
					t.Errorf("the command did not run:\n%s", r)
				}
				os.Remove(marker)
				return
			}
			r := h.sbx(t, c.dir, env, args...)
			expectBadInput(t, r, c.bad...)
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the command ran:\n%s", r)
				os.Remove(marker)
			}
		})
	}
}

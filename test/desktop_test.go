package test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of sbx run --share: each share against a real server the test
// starts as the test user (Xvfb, weston, pulseaudio), reached from inside
// with the share and out of reach without it, and nothing else of
// $XDG_RUNTIME_DIR or /tmp/.X11-unix in view. A missing server binary is
// a failure naming the package to install.

// desktopEnvVars are the variables the shares read: each test sets the
// ones it means, never the test user's own.
var desktopEnvVars = []string{"DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "PULSE_SERVER",
	"PULSE_COOKIE", "PULSE_CLIENTCONFIG", "PIPEWIRE_REMOTE", "DBUS_SESSION_BUS_ADDRESS"}

// desktopEnv is the test's environment without desktopEnvVars, plus set.
func desktopEnv(set ...string) []string { return envWith(desktopEnvVars, set...) }

// server is a process a test started, with its process group killed when
// the test ends.
type server struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

// startServer starts a server (args[0], installed by Debian package pkg)
// in a process group of its own, with env, and fds extra as 3, 4, ...
func startServer(t *testing.T, pkg string, env []string, extra []*os.File, args ...string) *server {
	t.Helper()
	path := requireTool(t, args[0], "install the Debian package "+pkg+" (`sudo apt-get install "+pkg+"`)")
	s := &server{cmd: exec.Command(path, args[1:]...), out: &bytes.Buffer{}}
	s.cmd.Env, s.cmd.ExtraFiles = env, extra
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", args[0], err)
	}
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return s
}

// serverStartBound bounds how long a server may take to listen: a bound,
// not a measure. Under TCG (scripts/vm-test.sh), with the other tests
// running beside it, Xvfb's start (its keymap compiled by xkbcomp) has
// taken more than 10 s.
const serverStartBound = 60 * time.Second

// waitSocket waits until path is a unix socket, failing the test with the
// server's output if it does not become one within serverStartBound.
func (s *server) waitSocket(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(serverStartBound); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, err := os.Stat(path); err == nil && st.Mode().Type() == os.ModeSocket {
			return
		}
	}
	t.Fatalf("%s made no socket %s within %v; its output:\n%s", s.cmd.Path, path, serverStartBound, indent(s.out.String()))
}

// xauth is one entry of an Xauthority file.
type xauth struct {
	family                      uint16
	address, number, name, data string
}

const (
	xFamilyLocal = 256
	xFamilyWild  = 65535
)

// xauthFile is entries in the Xauthority format.
func xauthFile(entries ...xauth) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		binary.Write(&b, binary.BigEndian, e.family)
		for _, f := range []string{e.address, e.number, e.name, e.data} {
			binary.Write(&b, binary.BigEndian, uint16(len(f)))
			b.WriteString(f)
		}
	}
	return b.Bytes()
}

// cookie is a fresh MIT-MAGIC-COOKIE-1.
func cookie(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startXvfb starts an Xvfb on a free display (-displayfd), with the
// cookies of authFile required when it is not "", and returns the
// display's number once it listens.
func startXvfb(t *testing.T, authFile string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	args := []string{"Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "640x480x24"}
	if authFile != "" {
		args = append(args, "-auth", authFile)
	}
	s := startServer(t, "xvfb", desktopEnv(), []*os.File{w}, args...)
	w.Close()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 16))
		got <- strings.TrimSpace(string(b))
	}()
	select {
	case n := <-got:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb gave no display number (%q); its output:\n%s", n, indent(s.out.String()))
		}
		s.waitSocket(t, "/tmp/.X11-unix/X"+n)
		return n
	case <-time.After(serverStartBound):
		t.Fatalf("Xvfb gave no display number within %v; its output:\n%s", serverStartBound, indent(s.out.String()))
	}
	return ""
}

// TestShareX11: --share x11 reaches the display of $DISPLAY, with the
// cookie it requires, and only that display: not another one running
// beside it (its socket is not in the sandbox, and the sandbox's network
// keeps the abstract sockets out of reach), and no display without the
// share. The Xauthority file inside holds that display's cookie alone,
// rewritten to match any hostname.
func TestShareX11(t *testing.T) {
	t.Parallel()
	requireTool(t, "xdpyinfo", "install the Debian package x11-utils (`sudo apt-get install x11-utils`)")
	dir := testDir(t)
	cookieA, cookieX, cookieC := cookie(t), cookie(t), cookie(t)
	const mit = "MIT-MAGIC-COOKIE-1"
	serverAuth := filepath.Join(dir, "server-auth")
	if err := os.WriteFile(serverAuth, xauthFile(xauth{xFamilyWild, "", "0", mit, cookieA}), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startXvfb(t, serverAuth) // needs cookieA
	b := startXvfb(t, "")         // needs nothing
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	other := strconv.Itoa(60000 + int(time.Now().UnixNano()%5000))
	clientAuth := filepath.Join(dir, "client-auth")
	if err := os.WriteFile(clientAuth, xauthFile(
		xauth{xFamilyLocal, "elsewhere.example", a, mit, cookieX}, // another machine's display :a
		xauth{xFamilyLocal, hostname, other, mit, cookieC},        // another display of this machine
		xauth{xFamilyLocal, hostname, a, mit, cookieA},
	), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongAuth := filepath.Join(dir, "wrong-auth")
	if err := os.WriteFile(wrongAuth, xauthFile(xauth{xFamilyLocal, hostname, other, mit, cookieC}), 0o600); err != nil {
		t.Fatal(err)
	}
	wantFile := hex.EncodeToString(xauthFile(xauth{xFamilyWild, "", a, mit, cookieA}))
	script := `if xdpyinfo >/dev/null 2>/tmp/err; then echo "reached $DISPLAY"; else echo "unreached $DISPLAY"; cat /tmp/err >&2; fi
		echo $(ls -A /tmp/.X11-unix 2>/dev/null)
		echo "$XAUTHORITY" $(od -An -tx1 -v /tmp/.sbx-xauthority 2>/dev/null | tr -d ' \n')`
	tests := []struct {
		name  string
		env   []string
		flags []string
		want  string
	}{
		{"shared", []string{"DISPLAY=:" + a, "XAUTHORITY=" + clientAuth}, []string{"--share", "x11"},
			"reached :" + a + "\nX" + a + "\n/tmp/.sbx-xauthority " + wantFile + "\n"},
		{"unix:N.S", []string{"DISPLAY=unix:" + a + ".0", "XAUTHORITY=" + clientAuth}, []string{"--share", "x11"},
			"reached :" + a + ".0\nX" + a + "\n/tmp/.sbx-xauthority " + wantFile + "\n"},
		{"another display inside", []string{"DISPLAY=:" + a, "XAUTHORITY=" + clientAuth}, []string{"--share", "x11", "--env", "DISPLAY=:" + b},
			"unreached :" + b + "\nX" + a + "\n/tmp/.sbx-xauthority " + wantFile + "\n"},
		{"not shared", []string{"DISPLAY=:" + a, "XAUTHORITY=" + clientAuth}, nil,
			"unreached :" + a + "\n\n" + clientAuth + "\n"},
		{"not shared, no cookie needed", []string{"DISPLAY=:" + b}, nil,
			"unreached :" + b + "\n\n\n"},
		{"a display without cookies", []string{"DISPLAY=:" + b, "XAUTHORITY=" + clientAuth}, []string{"--share", "x11"},
			"reached :" + b + "\nX" + b + "\n" + clientAuth + "\n"},
		{"no cookie for the display", []string{"DISPLAY=:" + a, "XAUTHORITY=" + wrongAuth}, []string{"--share", "x11"},
			"unreached :" + a + "\nX" + a + "\n" + wrongAuth + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, tt.flags...), "--", "sh", "-c", script)
			r := invocation{args: args, env: desktopEnv(tt.env...)}.run(t)
			if got := r.ok(t); got != tt.want {
				t.Errorf("want %q, got %q:\n%s", tt.want, got, r)
			}
		})
	}
	bad := []struct {
		name    string
		env     []string
		share   string
		mention []string
	}{
		{"no DISPLAY", nil, "x11", []string{"DISPLAY is not set"}},
		{"TCP display", []string{"DISPLAY=localhost:" + a}, "x11", []string{"DISPLAY=localhost:" + a, "only local displays"}},
		{"no server", []string{"DISPLAY=:" + other}, "x11", []string{"/tmp/.X11-unix/X" + other}},
		{"a value", []string{"DISPLAY=:" + a}, "x11=1", []string{"--share x11=1", "takes no value"}},
		{"not a display name", []string{"DISPLAY=:x"}, "x11", []string{"DISPLAY=:x"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := invocation{args: []string{"run", "--share", tt.share, "--", "true"}, env: desktopEnv(tt.env...)}.run(t)
			expectBadInput(t, r, tt.mention...)
		})
	}
}

// TestShareWayland: --share wayland reaches a headless weston through the
// socket of $WAYLAND_DISPLAY, which is all of $XDG_RUNTIME_DIR the
// sandbox sees; without the share, nothing reaches it.
func TestShareWayland(t *testing.T) {
	t.Parallel()
	requireTool(t, "wayland-info", "install the Debian package wayland-utils (`sudo apt-get install wayland-utils`)")
	dir := testDir(t)
	rt := filepath.Join(dir, "rt")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	decoys(t, rt)
	s := startServer(t, "weston", desktopEnv("XDG_RUNTIME_DIR="+rt), nil,
		"weston", "--backend=headless-backend.so", "--socket=wl-sbx", "--idle-time=0", "--no-config")
	s.waitSocket(t, filepath.Join(rt, "wl-sbx"))
	script := `if wayland-info >/dev/null 2>/tmp/err; then echo reached; else echo unreached; cat /tmp/err >&2; fi
		echo $(ls -A "$XDG_RUNTIME_DIR")`
	tests := []struct {
		name  string
		env   []string
		flags []string
		want  string
	}{
		{"shared", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wl-sbx"}, []string{"--share", "wayland"}, "reached\nwl-sbx\n"},
		{"absolute", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=" + filepath.Join(rt, "wl-sbx")}, []string{"--share", "wayland"}, "reached\nwl-sbx\n"},
		{"not shared", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wl-sbx"}, nil, "unreached\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, tt.flags...), "--", "sh", "-c", script)
			r := invocation{args: args, env: desktopEnv(tt.env...)}.run(t)
			if got := r.ok(t); got != tt.want {
				t.Errorf("want %q, got %q:\n%s", tt.want, got, r)
			}
		})
	}
	bad := []struct {
		name    string
		env     []string
		mention []string
	}{
		{"no WAYLAND_DISPLAY", []string{"XDG_RUNTIME_DIR=" + rt}, []string{"WAYLAND_DISPLAY is not set"}},
		{"no socket", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wl-none"}, []string{filepath.Join(rt, "wl-none")}},
		{"not a socket", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=secret"}, []string{"not a unix socket"}},
		{"no XDG_RUNTIME_DIR", []string{"WAYLAND_DISPLAY=wl-sbx"}, []string{"XDG_RUNTIME_DIR is not set"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := invocation{args: []string{"run", "--share", "wayland", "--", "true"}, env: desktopEnv(tt.env...)}.run(t)
			expectBadInput(t, r, tt.mention...)
		})
	}
}

// decoys puts what a share must not pass on into the runtime directory
// rt: a file and a listening socket.
func decoys(t *testing.T, rt string) {
	t.Helper()
	writeTree(t, filepath.Join(rt, "secret"), "not for the sandbox\n")
	l, err := net.Listen("unix", filepath.Join(rt, "other.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

// TestSharePulseAudio: --share pulseaudio reaches a PulseAudio server of
// the test user's (a null sink, its own runtime directory) through its
// socket alone: no cookie in the sandbox, where the client's $HOME is
// empty, and nothing else of $XDG_RUNTIME_DIR. The client may not spawn
// a server of its own (autospawn = no), so only the shared one answers.
func TestSharePulseAudio(t *testing.T) {
	t.Parallel()
	requireTool(t, "pactl", "install the Debian package pulseaudio-utils (`sudo apt-get install pulseaudio-utils`)")
	dir := testDir(t)
	rt, serverHome, clientHome := filepath.Join(dir, "rt"), filepath.Join(dir, "server-home"), filepath.Join(dir, "client-home")
	for _, d := range []string{rt, serverHome, clientHome} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	decoys(t, rt)
	clientConf := filepath.Join(dir, "client.conf")
	writeTree(t, clientConf, "autospawn = no\n")
	s := startServer(t, "pulseaudio", desktopEnv("XDG_RUNTIME_DIR="+rt, "HOME="+serverHome), nil,
		"pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
		"--load=module-native-protocol-unix", "--load=module-null-sink sink_name=sbxnull")
	socket := filepath.Join(rt, "pulse", "native")
	s.waitSocket(t, socket)
	script := `echo $(ls -A "$XDG_RUNTIME_DIR") / $(ls -A "$XDG_RUNTIME_DIR/pulse" 2>/dev/null) / $PULSE_COOKIE
		if timeout 10 pactl info >/tmp/out 2>/tmp/err; then grep -E '^(Server String|Default Sink):' /tmp/out; else echo unreached; cat /tmp/err >&2; fi`
	reached := "pulse / native /\nServer String: unix:" + socket + "\nDefault Sink: sbxnull\n"
	client := []string{"HOME=" + clientHome, "PULSE_CLIENTCONFIG=" + clientConf}
	tests := []struct {
		name  string
		env   []string
		flags []string
		want  string
	}{
		{"shared", []string{"XDG_RUNTIME_DIR=" + rt}, []string{"--share", "pulseaudio"}, reached},
		{"PULSE_SERVER", []string{"XDG_RUNTIME_DIR=" + rt, "PULSE_SERVER=unix:" + socket}, []string{"--share", "pulseaudio"}, reached},
		{"not shared", []string{"XDG_RUNTIME_DIR=" + rt}, nil, "/ /\nunreached\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, tt.flags...), "--", "sh", "-c", script)
			r := invocation{args: args, env: desktopEnv(append(client, tt.env...)...)}.run(t)
			if got := r.ok(t); got != tt.want {
				t.Errorf("want %q, got %q:\n%s\nthe server's output:\n%s", tt.want, got, r, indent(s.out.String()))
			}
		})
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name    string
		env     []string
		mention []string
	}{
		{"no server", []string{"XDG_RUNTIME_DIR=" + empty}, []string{filepath.Join(empty, "pulse", "native")}},
		{"nothing to go by", nil, []string{"neither PULSE_SERVER nor XDG_RUNTIME_DIR"}},
		{"TCP server", []string{"XDG_RUNTIME_DIR=" + rt, "PULSE_SERVER=tcp:localhost"}, []string{"PULSE_SERVER=tcp:localhost", "not a local socket"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := invocation{args: []string{"run", "--share", "pulseaudio", "--", "true"}, env: desktopEnv(tt.env...)}.run(t)
			expectBadInput(t, r, tt.mention...)
		})
	}
}

// TestSharePipeWire: --share pipewire reaches a PipeWire server of the
// test user's through the socket $PIPEWIRE_REMOTE names (default
// pipewire-0 in $XDG_RUNTIME_DIR), set inside to its path, and nothing
// else of that directory; without the share, nothing reaches it.
func TestSharePipeWire(t *testing.T) {
	t.Parallel()
	requireTool(t, "pw-cli", "install the Debian package pipewire-bin (`sudo apt-get install pipewire-bin`)")
	dir := testDir(t)
	rt := filepath.Join(dir, "rt")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	decoys(t, rt)
	s := startServer(t, "pipewire-bin", desktopEnv("XDG_RUNTIME_DIR="+rt, "HOME="+rt), nil, "pipewire")
	socket := filepath.Join(rt, "pipewire-0")
	s.waitSocket(t, socket)
	script := `echo "$PIPEWIRE_REMOTE" $(ls -A "$XDG_RUNTIME_DIR")
		if timeout 10 pw-cli info 0 2>/tmp/err | grep -q 'type: PipeWire:Interface:Core'; then echo reached; else echo unreached; cat /tmp/err >&2; fi`
	tests := []struct {
		name  string
		env   []string
		flags []string
		want  string
	}{
		{"default", []string{"XDG_RUNTIME_DIR=" + rt}, []string{"--share", "pipewire"}, socket + " pipewire-0\nreached\n"},
		{"a name", []string{"XDG_RUNTIME_DIR=" + rt, "PIPEWIRE_REMOTE=pipewire-0"}, []string{"--share", "pipewire"}, socket + " pipewire-0\nreached\n"},
		{"a path", []string{"XDG_RUNTIME_DIR=" + rt, "PIPEWIRE_REMOTE=" + socket}, []string{"--share", "pipewire"}, socket + " pipewire-0\nreached\n"},
		{"not shared", []string{"XDG_RUNTIME_DIR=" + rt}, nil, "\nunreached\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, tt.flags...), "--", "sh", "-c", script)
			r := invocation{args: args, env: desktopEnv(tt.env...)}.run(t)
			if got := r.ok(t); got != tt.want {
				t.Errorf("want %q, got %q:\n%s\nthe server's output:\n%s", tt.want, got, r, indent(s.out.String()))
			}
		})
	}
	bad := []struct {
		name    string
		env     []string
		mention []string
	}{
		{"no server", []string{"XDG_RUNTIME_DIR=" + dir}, []string{filepath.Join(dir, "pipewire-0")}},
		{"not a socket", []string{"XDG_RUNTIME_DIR=" + rt, "PIPEWIRE_REMOTE=secret"}, []string{"not a unix socket"}},
		{"a relative path", []string{"XDG_RUNTIME_DIR=" + rt, "PIPEWIRE_REMOTE=a/b"}, []string{"PIPEWIRE_REMOTE=a/b"}},
		{"no XDG_RUNTIME_DIR", nil, []string{"XDG_RUNTIME_DIR is not set"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := invocation{args: []string{"run", "--share", "pipewire", "--", "true"}, env: desktopEnv(tt.env...)}.run(t)
			expectBadInput(t, r, tt.mention...)
		})
	}
}

// TestShareGPU: --share gpu gives the sandbox the host's /dev/dri (and
// the NVIDIA nodes) as device nodes; on a host without render nodes (the
// test machines have none, and a user cannot make device nodes) it is one
// line naming what is missing.
func TestShareGPU(t *testing.T) {
	t.Parallel()
	renders, _ := filepath.Glob("/dev/dri/renderD*")
	nvidia, _ := filepath.Glob("/dev/nvidia*")
	if len(renders) == 0 && len(nvidia) == 0 {
		r := sbx(t, "run", "--share", "gpu", "--", "true")
		expectBadInput(t, r, "--share gpu", "no GPU render nodes in /dev/dri")
		return
	}
	nodes := append(renders, nvidia...)
	script := `for n in "$@"; do [ -c "$n" ] || [ -d "$n" ] && echo "$n"; done`
	r := sbx(t, append([]string{"run", "--share", "gpu", "--", "sh", "-c", script, "sh"}, nodes...)...)
	if got, want := r.ok(t), strings.Join(nodes, "\n")+"\n"; got != want {
		t.Errorf("want the GPU's nodes %q inside, got %q:\n%s", want, got, r)
	}
}

// TestShareHome: --share home gives the command a home of its own, kept
// between runs: ~/.local/share/sbx/homes/NAME (the --name, or the
// command's base name) or DIR, made 0700, bound at $HOME; the caller's
// home is out of view, but a working directory below it stays shared.
func TestShareHome(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	home := filepath.Join(dir, "home")
	writeTree(t, filepath.Join(home, "secret"), "the host's\n")
	writeTree(t, filepath.Join(home, "proj", "notes"), "project\n")
	env := desktopEnv("HOME=" + home)
	script := `echo "$HOME $(pwd)" $(ls -A "$HOME"); cat notes 2>/dev/null; echo run >>"$HOME/runs"; wc -l <"$HOME/runs"`
	homes := filepath.Join(home, ".local", "share", "sbx", "homes")
	name := "sbxhome" + token()
	t.Cleanup(func() { invocation{args: []string{"rm", name}, env: env}.run(t) })
	tests := []struct {
		name, cwd string
		flags     []string
		want      string
		at        string // where the home must be
	}{
		{"default", dir, []string{"--share", "home"}, home + " " + dir + "\n1\n", filepath.Join(homes, "sh")},
		{"again", dir, []string{"--share", "home"}, home + " " + dir + " runs\n2\n", filepath.Join(homes, "sh")},
		{"named", dir, []string{"--name", name, "--share", "home"}, home + " " + dir + "\n1\n", filepath.Join(homes, name)},
		{"a directory", dir, []string{"--share", "home=" + filepath.Join(dir, "apphome")}, home + " " + dir + "\n1\n", filepath.Join(dir, "apphome")},
		{"cwd below home", filepath.Join(home, "proj"), []string{"--share", "home"},
			home + " " + filepath.Join(home, "proj") + " proj runs\nproject\n3\n", filepath.Join(homes, "sh")},
		{"cwd is home", home, []string{"--share", "home"}, home + " " + home + " proj runs\n4\n", filepath.Join(homes, "sh")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, tt.flags...), "--", "sh", "-c", script)
			r := invocation{args: args, env: env, dir: tt.cwd}.run(t)
			if got := r.ok(t); got != tt.want {
				t.Errorf("want %q, got %q:\n%s", tt.want, got, r)
			}
			st, err := os.Stat(tt.at)
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("want the home %s, mode 0700: %v %v", tt.at, st.Mode(), err)
			}
			// The run that makes a default home says which, once; no
			// run says the working directory is bound read-only when
			// the private home takes its place.
			made := strings.Contains(r.stderr, "made the private home "+tt.at)
			if wantMade := tt.name == "default" || tt.name == "named"; made != wantMade {
				t.Errorf("a note that the private home %s was made: %v, want %v:\n%s", tt.at, made, wantMade, r)
			}
			if tt.cwd == home && strings.Contains(r.stderr, "bound read-only") {
				t.Errorf("a note that the home is bound read-only, which the private home replaces:\n%s", r)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(homes, "sh", "runs")); err != nil || string(b) != "run\nrun\nrun\nrun\n" {
		t.Errorf("the default home did not keep what the runs wrote: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(home, "runs")); err == nil {
		t.Errorf("a run wrote to the caller's home")
	}
	file := filepath.Join(dir, "file")
	writeTree(t, file, "")
	homeLink, dirLink := filepath.Join(dir, "homelink"), filepath.Join(dir, "dirlink")
	if err := os.Symlink(home, homeLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(home), dirLink); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name, value string
		env         []string
		mention     []string
	}{
		{"no HOME", "home", envWith(append(desktopEnvVars[:len(desktopEnvVars):len(desktopEnvVars)], "HOME")), []string{"HOME is not set"}},
		{"empty", "home=", env, []string{"--share home="}},
		{"a file", "home=" + file, env, []string{file, "not a directory"}},
		{"someone else's", "home=/etc", env, []string{"/etc", "not yours"}},
		{"the home itself", "home=" + home, env, []string{home, "your home"}},
		{"a link to the home", "home=" + homeLink, env, []string{homeLink, "symbolic link"}},
		{"the home through a linked parent", "home=" + filepath.Join(dirLink, filepath.Base(home)), env, []string{"your home"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := invocation{args: []string{"run", "--share", tt.value, "--", "true"}, env: tt.env}.run(t)
			expectBadInput(t, r, tt.mention...)
		})
	}
	// Named twice (a profile's, then the command line's), the last wins
	// and the first is not made.
	t.Run("the last wins", func(t *testing.T) {
		first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
		invocation{args: []string{"run", "--share", "home=" + first, "--share", "home=" + second, "--", "touch", filepath.Join(home, "x")}, env: env}.run(t).ok(t)
		if _, err := os.Stat(filepath.Join(second, "x")); err != nil {
			t.Errorf("the last home did not get the file: %v", err)
		}
		if _, err := os.Lstat(first); err == nil {
			t.Errorf("the first home was made")
		}
	})
	// A link planted at the default place (by a sandbox that could write
	// there) leads the next run nowhere: refused, the home untouched.
	t.Run("a planted default", func(t *testing.T) {
		planted := filepath.Join(homes, "planted")
		if err := os.Symlink(home, planted); err != nil {
			t.Fatal(err)
		}
		r := invocation{args: []string{"run", "--name", "planted", "--share", "home", "--", "touch", filepath.Join(home, "pwned")}, env: env}.run(t)
		expectBadInput(t, r, planted, "symbolic link")
		if _, err := os.Stat(filepath.Join(home, "pwned")); err == nil {
			t.Errorf("the run wrote to the caller's home through the planted link")
		}
	})
}

// TestCheckShares: sbx check has a line per share saying whether the
// caller's session offers it, and what it would give or what is missing.
func TestCheckShares(t *testing.T) {
	t.Parallel()
	a := startXvfb(t, "")
	dir := testDir(t)
	r := invocation{args: []string{"check", "--json"}, env: desktopEnv("DISPLAY=:"+a, "XDG_RUNTIME_DIR="+dir, "HOME="+dir)}.run(t)
	facts := parseCheckJSON(t, r)
	for _, w := range []factWant{
		{name: "share x11", status: "ok", detail: []string{"/tmp/.X11-unix/X" + a, "DISPLAY=:" + a}},
		{name: "share wayland", status: "warn", detail: []string{"WAYLAND_DISPLAY is not set"}, fix: []string{"WAYLAND_DISPLAY"}},
		{name: "share pulseaudio", status: "warn", detail: []string{filepath.Join(dir, "pulse", "native")}, fix: []string{"PULSE_SERVER"}},
		{name: "share home", status: "ok", detail: []string{filepath.Join(dir, ".local/share/sbx/homes")}},
	} {
		w.check(t, facts, r)
	}
	if _, err := os.Stat(filepath.Join(dir, ".local")); err == nil {
		t.Errorf("sbx check made a home")
	}
	if f := factNamed(t, facts, "share gpu"); f.Status == "ok" {
		renders, _ := filepath.Glob("/dev/dri/renderD*")
		nvidia, _ := filepath.Glob("/dev/nvidia*")
		if len(renders)+len(nvidia) == 0 {
			t.Errorf("share gpu is ok on a host without render nodes: %s", f)
		}
	}
}

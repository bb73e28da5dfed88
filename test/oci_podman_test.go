package test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests of sbx as the OCI runtime of rootless podman (issue #16): the real
// podman of the host (Debian's podman, conmon, uidmap, slirp4netns, which
// `sudo make test` installs), run as the test user with --runtime set to
// the runtime under test (see ociRuntime: sbx, or $SBX_OCI_RUNTIME), on a
// busybox image made from the host's busybox-static.
//
// Podman runs with a storage, a run root, a temporary directory and
// configuration files of its own (vfs, cgroupfs, events in a file),
// private to one run of TestOCIPodman: nothing touches the test user's own
// containers or configuration. The configuration files are given by
// CONTAINERS_CONF, CONTAINERS_STORAGE_CONF and CONTAINERS_REGISTRIES_CONF,
// so the system's are not read; containers.conf fixes the default
// capabilities the capability test compares with. Podman's rootless pause
// process, started by this run (its pid is in the private temporary
// directory), is killed at the end.

// podmanDefaultCaps are the default capabilities of the containers, as the
// tests' containers.conf sets them (podman 4's own defaults).
var podmanDefaultCaps = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// capBits are the numbers of the capabilities the tests name.
var capBits = map[string]int{
	"CHOWN": unix.CAP_CHOWN, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "FOWNER": unix.CAP_FOWNER,
	"FSETID": unix.CAP_FSETID, "KILL": unix.CAP_KILL, "NET_ADMIN": unix.CAP_NET_ADMIN,
	"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "SETFCAP": unix.CAP_SETFCAP, "SETGID": unix.CAP_SETGID,
	"SETPCAP": unix.CAP_SETPCAP, "SETUID": unix.CAP_SETUID, "SYS_CHROOT": unix.CAP_SYS_CHROOT,
	"SYS_PTRACE": unix.CAP_SYS_PTRACE,
}

// capNames returns the mask of the capabilities names.
func capNames(t *testing.T, names ...string) uint64 {
	t.Helper()
	var m uint64
	for _, n := range names {
		b, ok := capBits[n]
		if !ok {
			t.Fatalf("unknown capability %s", n)
		}
		m |= capMask(b)
	}
	return m
}

// podmanEnv is a podman of the tests' own (see above).
type podmanEnv struct {
	bin     string   // podman
	runtime string   // the OCI runtime under test
	dir     string   // everything of this podman's is under it
	env     []string // podman's whole environment
	global  []string // podman's global flags
}

// newPodman sets up a private podman for the test and its subtests, and
// the busybox image in it; it is torn down when the test ends.
func newPodman(t *testing.T) *podmanEnv {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Fatal("TestOCIPodman tests rootless podman: run it as an unprivileged user " +
			"(`sudo make test` runs it as the user sbxtest)")
	}
	bin := requireTool(t, "podman", "sudo apt-get install podman")
	requireTool(t, "conmon", "sudo apt-get install conmon")
	requireTool(t, "newuidmap", "sudo apt-get install uidmap")
	requireTool(t, "slirp4netns", "sudo apt-get install slirp4netns")
	subordinateRanges(t, "/etc/subuid")
	subordinateRanges(t, "/etc/subgid")
	rt := ociRuntime(t)
	if os.Getenv(ociRuntimeEnv) == "" {
		sbxBinary(t) // the same checks as every other test of sbx
	}

	// Podman refuses a run root longer than 50 bytes (its sockets' paths
	// must fit): a short directory of its own, not testDir's.
	dir, err := os.MkdirTemp(testBase(t), "pm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove podman's directory: %v", err)
		}
	})
	if rr := filepath.Join(dir, "rr"); len(rr) > 50 {
		t.Fatalf("podman's run root %s would be longer than the 50 bytes podman takes: "+
			"set SBX_TEST_DIR to a shorter directory", rr)
	}
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	home, run, cfg, data, tmp := mk("home", 0o700), mk("run", 0o700), mk("config", 0o700), mk("data", 0o700), mk("tmp", 0o700)
	storage, runroot, libpod := filepath.Join(dir, "storage"), filepath.Join(dir, "rr"), filepath.Join(dir, "libpod")
	quoted := make([]string, len(podmanDefaultCaps))
	for i, c := range podmanDefaultCaps {
		quoted[i] = strconv.Quote(c)
	}
	containersConf := write("containers.conf", fmt.Sprintf(`[containers]
default_capabilities = [%s]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %q
`, strings.Join(quoted, ", "), libpod))
	storageConf := write("storage.conf", fmt.Sprintf(`[storage]
driver = "vfs"
graphroot = %q
runroot = %q
`, storage, runroot))
	registriesConf := write("registries.conf", "unqualified-search-registries = []\n")

	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = imagePath
	}
	p := &podmanEnv{
		bin:     bin,
		runtime: rt,
		dir:     dir,
		env: []string{
			"PATH=" + path, "HOME=" + home, "USER=" + name, "LOGNAME=" + name,
			"XDG_RUNTIME_DIR=" + run, "XDG_CONFIG_HOME=" + cfg, "XDG_DATA_HOME=" + data, "TMPDIR=" + tmp,
			"CONTAINERS_CONF=" + containersConf, "CONTAINERS_STORAGE_CONF=" + storageConf,
			"CONTAINERS_REGISTRIES_CONF=" + registriesConf,
		},
		global: []string{"--root", storage, "--runroot", runroot, "--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", libpod,
			"--runtime", rt},
	}
	t.Cleanup(func() { p.teardown(t) })

	tarball := filepath.Join(dir, "busybox.tar")
	writeBusyboxRootfsFile(t, tarball)
	p.run(t, "import", tarball, busyboxImageRef).ok(t)
	if err := os.Remove(tarball); err != nil {
		t.Fatal(err)
	}
	p.run(t, "image", "exists", busyboxImageRef).ok(t)
	return p
}

// teardown removes what podman made: containers, storage, and the rootless
// pause process of this podman (found by its pid file, in the private
// temporary directory).
func (p *podmanEnv) teardown(t *testing.T) {
	if r := p.run(t, "rm", "--all", "--force", "--time", "0"); r.code != 0 {
		t.Errorf("remove the containers:\n%s", r)
	}
	// The storage holds files of the subordinate ids: remove it from
	// podman's user namespace.
	if r := p.run(t, "unshare", "rm", "-rf", filepath.Join(p.dir, "storage"), filepath.Join(p.dir, "rr")); r.code != 0 {
		t.Errorf("remove podman's storage:\n%s", r)
	}
	b, err := os.ReadFile(filepath.Join(p.dir, "libpod", "pause.pid"))
	if err != nil {
		t.Logf("no pause process to stop: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Errorf("bad pid file of podman's pause process: %q", b)
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d", pid), &st); err == nil && int(st.Uid) == os.Getuid() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// cmd returns the command `podman GLOBAL-FLAGS args...`.
func (p *podmanEnv) argv(args ...string) []string {
	return append(append([]string{p.bin}, p.global...), args...)
}

// run runs `podman args...` to its end.
func (p *podmanEnv) run(t *testing.T, args ...string) cmdResult {
	t.Helper()
	return runClient(t, p.dir, p.env, p.argv(args...)...)
}

// start starts `podman args...` in the background.
func (p *podmanEnv) start(t *testing.T, args ...string) *clientProcess {
	t.Helper()
	return startClient(t, p.dir, p.env, p.argv(args...)...)
}

// status returns the state of the container name as podman tells it.
func (p *podmanEnv) status(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(p.run(t, "inspect", "--format", "{{.State.Status}}", name).ok(t))
}

// waitStatus waits until the container name is in the state want.
func (p *podmanEnv) waitStatus(t *testing.T, name, want string) {
	t.Helper()
	var got string
	if !poll(30*time.Second, func() bool { got = p.status(t, name); return got == want }) {
		t.Fatalf("container %s is %q, not %q, after 30 s", name, got, want)
	}
}

// containerName returns a name for a container of the test.
func containerName(prefix string) string { return "sbx-" + prefix + "-" + token() }

// TestOCIPodman runs containers with rootless podman and the runtime under
// test, and checks what podman users see: output, exit codes, the
// process's environment, user, capabilities, mounts, terminal, network and
// seccomp filter, and the life of a detached container.
func init() { tools["true"] = func([]string) int { return 0 } }

func TestOCIPodman(t *testing.T) {
	t.Parallel()
	p := newPodman(t)
	img := busyboxImageRef

	t.Run("run-rm", func(t *testing.T) {
		t.Parallel()
		name := containerName("rm")
		r := p.run(t, "run", "--rm", "--name", name, img, "echo", "hi")
		if r.ok(t) != "hi\n" {
			t.Fatalf("want stdout %q:\n%s", "hi\n", r)
		}
		// --rm: the container is gone.
		if r := p.run(t, "container", "exists", name); r.code != 1 {
			t.Fatalf("the container of run --rm is still there (exists: want exit 1):\n%s", r)
		}
	})

	t.Run("exit-codes", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name   string
			cmd    []string
			code   int
			stderr string // a regexp podman's error must match
		}{
			{"exit-0", []string{"true"}, 0, "^$"},
			{"exit-3", []string{"sh", "-c", "exit 3"}, 3, "^$"},
			{"exit-255", []string{"sh", "-c", "exit 255"}, 255, "^$"},
			// podman maps the runtime's error text: "no such file or
			// directory" and "executable file not found" to 127,
			// "permission denied" to 126 (and anything else to 126 or
			// 125: hence the check of the message).
			{"missing-file", []string{"/nonexistent"}, 127, `(?i)/nonexistent.*no such file or directory`},
			{"not-in-path", []string{"nosuchcommand"}, 127, `(?i)nosuchcommand.*(executable file not found|no such file or directory)`},
			{"not-executable", []string{"/etc/passwd"}, 126, `(?i)/etc/passwd.*permission denied`},
			{"directory", []string{"/etc"}, 126, `(?i)/etc.*permission denied`},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := p.run(t, append([]string{"run", "--rm", img}, c.cmd...)...)
				r.expect(t, c.code)
				if !regexp.MustCompile(c.stderr).MatchString(r.stderr) {
					t.Fatalf("want stderr matching %s:\n%s", c.stderr, r)
				}
			})
		}
	})

	t.Run("signals", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name, signal, script string
			code                 int
		}{
			// Killed by SIGKILL: 128+9.
			{"kill", "KILL", "echo ready; exec sleep " + token(), 137},
			// A TERM the process handles reaches it.
			{"term-handled", "TERM", `trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done`, 42},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				name := containerName(c.name)
				run := p.start(t, "run", "--rm", "--name", name, img, "sh", "-c", c.script)
				run.waitLine(t, "ready")
				p.run(t, "kill", "--signal", c.signal, name).ok(t)
				run.wait(t).expect(t, c.code)
			})
		}
	})

	t.Run("env", func(t *testing.T) {
		t.Parallel()
		r := p.run(t, "run", "--rm", "-e", "FOO=bar", "-e", "SPACED=a b", "-e", "EMPTY=", img,
			"sh", "-c", `printf '%s|%s|%s|%s\n' "$FOO" "$SPACED" "${EMPTY-unset}" "$PATH"`)
		if want := "bar|a b||" + imagePath + "\n"; r.ok(t) != want {
			t.Fatalf("want stdout %q:\n%s", want, r)
		}
	})

	t.Run("workdir", func(t *testing.T) {
		t.Parallel()
		for _, dir := range []string{"/tmp", "/usr/bin"} {
			r := p.run(t, "run", "--rm", "-w", dir, img, "pwd")
			if r.ok(t) != dir+"\n" {
				t.Fatalf("want stdout %q:\n%s", dir+"\n", r)
			}
		}
	})

	t.Run("user", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ user, want string }{
			{"1000:1000", "1000 1000"},
			{"nobody", "65534 65534"},
			{"0:0", "0 0"},
		} {
			r := p.run(t, "run", "--rm", "--user", c.user, img, "sh", "-c", `echo "$(id -u) $(id -g)"`)
			if r.ok(t) != c.want+"\n" {
				t.Fatalf("--user %s: want stdout %q:\n%s", c.user, c.want+"\n", r)
			}
		}
	})

	t.Run("volume", func(t *testing.T) {
		t.Parallel()
		host := testDir(t)
		if err := os.WriteFile(filepath.Join(host, "in"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := p.run(t, "run", "--rm", "-v", host+":/data", img,
			"sh", "-c", "cat /data/in && echo from-container > /data/out")
		if r.ok(t) != "from-host\n" {
			t.Fatalf("want stdout %q:\n%s", "from-host\n", r)
		}
		out := filepath.Join(host, "out")
		b, err := os.ReadFile(out)
		if err != nil || string(b) != "from-container\n" {
			t.Fatalf("the container's write to /data/out: want %q on the host, got %q (%v)", "from-container\n", b, err)
		}
		// The container's root is the test user.
		var st syscall.Stat_t
		if err := syscall.Stat(out, &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) != os.Getuid() {
			t.Errorf("the file the container's root wrote is owned by uid %d, not the test user's %d", st.Uid, os.Getuid())
		}

		// Read-only.
		r = p.run(t, "run", "--rm", "-v", host+":/data:ro", img, "sh", "-c", "echo x > /data/ro; cat /data/in")
		if r.ok(t) != "from-host\n" || !strings.Contains(r.stderr, "Read-only file system") {
			t.Fatalf("-v :ro: want the write refused (Read-only file system) and the read to work:\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(host, "ro")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the container wrote through a read-only volume (%v)", err)
		}
	})

	t.Run("read-only", func(t *testing.T) {
		t.Parallel()
		script := `if touch /root-file; then echo root-writable; fi; touch /tmp/f && echo tmp-writable`
		r := p.run(t, "run", "--rm", "--read-only", img, "sh", "-c", script)
		if r.ok(t) != "tmp-writable\n" || !strings.Contains(r.stderr, "Read-only file system") {
			t.Fatalf("--read-only: want / read-only and /tmp writable:\n%s", r)
		}
		// Without it, / is writable: the check above can tell.
		r = p.run(t, "run", "--rm", img, "sh", "-c", script)
		if r.ok(t) != "root-writable\ntmp-writable\n" {
			t.Fatalf("without --read-only: want / writable:\n%s", r)
		}
	})

	t.Run("capabilities", func(t *testing.T) {
		t.Parallel()
		def := capNames(t, podmanDefaultCaps...)
		for _, c := range []struct {
			name  string
			flags []string
			want  uint64
		}{
			{"default", nil, def},
			{"add", []string{"--cap-add", "NET_ADMIN,SYS_PTRACE"}, def | capNames(t, "NET_ADMIN", "SYS_PTRACE")},
			{"drop", []string{"--cap-drop", "CHOWN", "--cap-drop", "KILL"}, def &^ capNames(t, "CHOWN", "KILL")},
			{"drop-all-add", []string{"--cap-drop", "all", "--cap-add", "NET_BIND_SERVICE"}, capNames(t, "NET_BIND_SERVICE")},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				args := append(append([]string{"run", "--rm"}, c.flags...), img, "grep", "^Cap", "/proc/self/status")
				r := p.run(t, args...)
				caps := map[string]uint64{}
				for _, l := range lines(r.ok(t)) {
					k, v, _ := strings.Cut(l, ":")
					n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
					if err != nil {
						t.Fatalf("bad line %q:\n%s", l, r)
					}
					caps[k] = n
				}
				for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
					if got, ok := caps[set]; !ok || got != c.want {
						t.Errorf("%s = %016x, want %016x:\n%s", set, got, c.want, r)
					}
				}
			})
		}
	})

	t.Run("tty", func(t *testing.T) {
		t.Parallel()
		script := `tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo stdio-ttys; echo ready; read line; echo "got-$line"; exit 5`
		check := func(t *testing.T, args ...string) {
			pty := openPty(t)
			pty.setSize(t, 33, 101)
			tp := startClientOnPty(t, pty, p.dir, p.env, p.argv(args...)...)
			tp.expect(t, `/dev/pts/[0-9]+\r?\n`)
			tp.expect(t, `33 101\r?\n`)
			tp.expect(t, `stdio-ttys\r?\n`)
			tp.expect(t, `ready\r?\n`)
			tp.send(t, "hello\r")
			tp.expect(t, `got-hello\r?\n`)
			if code := tp.wait(t); code != 5 {
				t.Fatalf("want exit 5, got %d:\n%s", code, indent(tp.output()))
			}
		}
		t.Run("run", func(t *testing.T) {
			t.Parallel()
			check(t, "run", "-it", "--rm", img, "sh", "-c", script)
		})
		t.Run("exec", func(t *testing.T) {
			t.Parallel()
			name := containerName("tty")
			p.run(t, "run", "-d", "--name", name, img, "sleep", token()).ok(t)
			check(t, "exec", "-it", name, "sh", "-c", script)
			p.run(t, "rm", "--force", "--time", "0", name).ok(t)
		})
	})

	t.Run("detach-exec-stop-rm", func(t *testing.T) {
		t.Parallel()
		name, tok := containerName("detach"), token()
		r := p.run(t, "run", "-d", "--name", name, img, "sh", "-c", "echo "+tok+" > /marker; exec sleep "+tok)
		if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(r.ok(t)) {
			t.Fatalf("run -d: want the container's id on stdout:\n%s", r)
		}
		p.waitStatus(t, name, "running")
		// exec runs in the container: it sees the file the command wrote.
		var last cmdResult
		if !poll(10*time.Second, func() bool { last = p.run(t, "exec", name, "cat", "/marker"); return last.code == 0 }) {
			t.Fatalf("exec cat /marker did not succeed within 10 s:\n%s", last)
		}
		if last.stdout != tok+"\n" {
			t.Fatalf("exec: want the container's /marker %q:\n%s", tok+"\n", last)
		}
		// The exit code of exec is the command's.
		p.run(t, "exec", name, "sh", "-c", "exit 7").expect(t, 7)
		p.run(t, "exec", name, "/nonexistent").expect(t, 127)
		// exec's own user, working directory and environment.
		r = p.run(t, "exec", "--user", "1000:1000", "--workdir", "/tmp", "-e", "X=y", name,
			"sh", "-c", `echo "$(id -u):$(id -g) $(pwd) $X"`)
		if r.ok(t) != "1000:1000 /tmp y\n" {
			t.Fatalf("exec --user --workdir -e: want %q:\n%s", "1000:1000 /tmp y\n", r)
		}
		if got := p.status(t, name); got != "running" {
			t.Fatalf("after the execs the container is %q, not running", got)
		}
		p.run(t, "stop", "--time", "2", name).ok(t)
		r = p.run(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
		// The command dies of TERM (143) if the runtime's pid 1 passes it
		// on, else of the KILL that follows (137): runc's pid 1 is sleep,
		// which ignores TERM.
		want := map[string]bool{"exited 137": true, "exited 143": true}
		if os.Getenv(ociRuntimeEnv) == "" {
			// sbx's pid 1 passes TERM on to the command.
			want = map[string]bool{"exited 143": true}
		}
		if got := strings.TrimSpace(r.ok(t)); !want[got] {
			t.Fatalf("after stop: want exited with %v:\n%s", want, r)
		}
		p.run(t, "rm", name).ok(t)
		p.run(t, "container", "exists", name).expect(t, 1)
	})

	// The attack of CVE-2019-5736 through podman: rootless podman runs
	// the runtime as root of its user namespace, the test user on the
	// host, who owns the sbx binary under test; root in the container is
	// that same root. It grabs the exe of every process it sees (the
	// container's pid 1, each joining sbx exec) and tries to write
	// through it, while podman exec joins again and again.
	t.Run("cloned-binary-attack", func(t *testing.T) {
		t.Parallel()
		if os.Getenv(ociRuntimeEnv) != "" {
			t.Skip("an attack on sbx's binary")
		}
		target := newAttackTarget(t)
		name := containerName("attack")
		scale := time.Duration(timeScale())
		// A podman exec takes a good part of a second (two while the
		// attacker runs): the attack lasts long enough for five.
		p.run(t, "run", "-d", "--name", name, "-v", target.self+":/attacker:ro",
			"-e", attackerEnv+"="+(15*scale*time.Second).String(), img, "/attacker").ok(t)
		joins := 0
		start := time.Now()
		for deadline := time.Now().Add(3 * scale * time.Second); time.Now().Before(deadline) || joins < 5; {
			// Not busybox, which the attacker would write over (it is
			// the container's own to write): the test binary again,
			// bound read-only.
			r := p.run(t, "exec", "-e", toolEnv+"=true", name, "/attacker")
			if r.code == 0 {
				joins++
			} else if p.status(t, name) != "running" {
				break
			} else {
				t.Logf("exec failed: %s", r)
			}
		}
		p.run(t, "wait", name).ok(t)
		out := p.run(t, "logs", name)
		p.run(t, "rm", name).ok(t)
		if joins < 5 {
			t.Fatalf("only %d podman exec joined during the attack", joins)
		}
		target.check(t, out.stdout+out.stderr)
		t.Logf("%d joins in %v; attacker: %s", joins, time.Since(start).Round(time.Millisecond), lines(out.stdout)[len(lines(out.stdout))-1])
	})

	// Descriptor hygiene: conmon leaks descriptors of its own to the
	// runtime; none reaches the container's process.
	t.Run("descriptors", func(t *testing.T) {
		t.Parallel()
		r := p.run(t, "run", "--rm", img, "sh", "-c", "cd /proc/self/fd && echo *")
		if got := strings.TrimSpace(r.ok(t)); got != "0 1 2" && got != "0 1 2 3" {
			t.Fatalf("the container's process holds descriptors beyond stdio (and the shell's own):\n%s", r)
		}
	})

	t.Run("network-none", func(t *testing.T) {
		t.Parallel()
		r := p.run(t, "run", "--rm", "--network", "none", img, "cat", "/proc/net/dev")
		if got := netDevices(t, r); !slices.Equal(got, []string{"lo"}) {
			t.Fatalf("--network none: want only lo, got %v:\n%s", got, r)
		}
	})

	t.Run("network-default-publish", func(t *testing.T) {
		t.Parallel()
		// The default network of rootless podman (slirp4netns): the
		// container is in podman's network namespace, with more than lo.
		r := p.run(t, "run", "--rm", img, "cat", "/proc/net/dev")
		if got := netDevices(t, r); len(got) < 2 || !slices.Contains(got, "lo") {
			t.Fatalf("default network: want lo and podman's interface, got %v:\n%s", got, r)
		}

		port := freeLoopbackPort(t)
		name, tok := containerName("http"), token()
		p.run(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:80", port), img,
			"sh", "-c", "mkdir /www && echo "+tok+" > /www/index.html && exec httpd -f -p 80 -h /www").ok(t)
		defer p.run(t, "rm", "--force", "--time", "0", name)
		url := fmt.Sprintf("http://127.0.0.1:%d/index.html", port)
		client := &http.Client{Timeout: 3 * time.Second}
		var body string
		var err error
		if !poll(30*time.Second, func() bool {
			var resp *http.Response
			if resp, err = client.Get(url); err != nil {
				return false
			}
			defer resp.Body.Close()
			b, rerr := io.ReadAll(resp.Body)
			body, err = string(b), rerr
			return err == nil && resp.StatusCode == http.StatusOK
		}) {
			t.Fatalf("GET %s did not succeed within 30 s: %v %q\n%s", url, err, body, p.run(t, "logs", name))
		}
		if body != tok+"\n" {
			t.Fatalf("GET %s: want %q, got %q", url, tok+"\n", body)
		}
	})

	t.Run("seccomp", func(t *testing.T) {
		t.Parallel()
		profile := filepath.Join(testDir(t), "seccomp.json")
		if err := os.WriteFile(profile, []byte(`{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
	]
}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		script := `echo start; mkdir /tmp/d; echo "mkdir $?"`
		r := p.run(t, "run", "--rm", "--security-opt", "seccomp="+profile, img, "sh", "-c", script)
		if r.ok(t) != "start\nmkdir 1\n" || !strings.Contains(r.stderr, "Operation not permitted") {
			t.Fatalf("seccomp profile denying mkdir with EPERM: want mkdir to fail with EPERM, the rest to work:\n%s", r)
		}
		r = p.run(t, "run", "--rm", img, "sh", "-c", script)
		if r.ok(t) != "start\nmkdir 0\n" {
			t.Fatalf("without the profile: want mkdir to work:\n%s", r)
		}
	})
}

// netDevices returns the network interfaces that a cat of /proc/net/dev
// printed.
func netDevices(t *testing.T, r cmdResult) []string {
	t.Helper()
	var devs []string
	for _, l := range lines(r.ok(t)) {
		if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
			devs = append(devs, strings.TrimSpace(name))
		}
	}
	slices.Sort(devs)
	return devs
}

// freeLoopbackPort returns a TCP port of 127.0.0.1 that nothing listened
// on a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startClientOnPty starts argv in dir with the environment env as the
// session leader with the pty's slave as its controlling terminal, stdin,
// stdout and stderr (see startOnPty in tty_test.go).
func startClientOnPty(t *testing.T, p *ptyPair, dir string, env []string, argv ...string) *ttyProcess {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.slave, p.slave, p.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	tp := &ttyProcess{pty: p, cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", shellQuote(argv), err)
	}
	go func() {
		tp.err = cmd.Wait()
		close(tp.done)
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := p.master.Read(buf)
			tp.mu.Lock()
			tp.out = append(tp.out, buf[:max(n, 0)]...)
			tp.mu.Unlock()
			if err != nil && !errors.Is(err, syscall.EINTR) && !errors.Is(err, syscall.EAGAIN) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-tp.done
	})
	return tp
}

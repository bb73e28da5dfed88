package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Tests of sbx exec: a command run inside a running sandbox.

// TestExecSeesSandbox checks that an exec'd command shares the sandbox's
// /proc, hostname, files and user, for a detached and an attached sandbox.
func TestExecSeesSandbox(t *testing.T) {
	t.Parallel()
	// The command records what it sees in its /tmp, then sleeps.
	script := `printf '%s\n' "$(id -u)" "$(id -g)" >/tmp/info.new && mv /tmp/info.new /tmp/info
		echo ready
		exec sleep "$1"`
	for _, mode := range []string{"detached", "attached"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			tok := token()
			name := sandboxName(mode)
			args := []string{"--hostname", "execd", "--", "sh", "-c", script, "sh", tok}
			if mode == "detached" {
				h.detach(t, name, args...)
			} else {
				p := h.start(t, append([]string{"run", "--name", name}, args...)...)
				p.waitLine(t, "ready")
			}
			// A file the sandbox wrote in its private /tmp.
			info := lines(h.waitExecOK(t, name, "cat", "/tmp/info"))
			if len(info) != 2 {
				t.Fatalf("want uid and gid in /tmp/info, got %q", info)
			}
			if info[0] != strconv.Itoa(os.Getuid()) || info[1] != strconv.Itoa(os.Getgid()) {
				t.Errorf("the sandbox runs as %s:%s, want the caller's %d:%d", info[0], info[1], os.Getuid(), os.Getgid())
			}
			// The same user.
			if got := h.sbx(t, "exec", name, "--", "sh", "-c", "id -u; id -g").ok(t); got != info[0]+"\n"+info[1]+"\n" {
				t.Errorf("exec runs as %q, the sandbox as %q", got, info)
			}
			// The same hostname.
			if got := h.sbx(t, "exec", name, "--", "hostname").ok(t); got != "execd\n" {
				t.Errorf("exec sees hostname %q, want execd", got)
			}
			// The same /proc: pid 1 is sbx init, and the command is there.
			cmdline := strings.Split(strings.TrimSuffix(h.sbx(t, "exec", name, "--", "cat", "/proc/1/cmdline").ok(t), "\x00"), "\x00")
			if len(cmdline) < 2 || filepath.Base(cmdline[0]) != "sbx" || cmdline[1] != "init" {
				t.Errorf("exec sees pid 1 as %q, want sbx init", cmdline)
			}
			all := h.sbx(t, "exec", name, "--", "sh", "-c",
				`for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' <"$f"; echo; done`).ok(t)
			if !slices.Contains(lines(all), "sleep "+tok+" ") {
				t.Errorf("exec does not see the sandbox's `sleep %s` in its /proc:\n%s", tok, all)
			}
			// Its own pid is one of the sandbox's PID namespace.
			if pid, err := strconv.Atoi(strings.TrimSpace(h.sbx(t, "exec", name, "--", "sh", "-c", "echo $$").ok(t))); err != nil || pid <= 2 || pid > 1000 {
				t.Errorf("exec runs as pid %d (%v), want a small pid of the sandbox's namespace other than 1 and 2", pid, err)
			}
			// A file written by exec is seen by the next one.
			h.sbx(t, "exec", name, "--", "sh", "-c", "echo from-exec >/tmp/exec-wrote").ok(t)
			if got := h.sbx(t, "exec", name, "--", "cat", "/tmp/exec-wrote").ok(t); got != "from-exec\n" {
				t.Errorf("want from-exec, got %q", got)
			}
		})
	}
}

// TestExecNamespaces compares the namespaces of an exec'd process with
// those of the sandbox's pid 1, with a single-id map and with the default
// multi-range one.
func TestExecNamespaces(t *testing.T) {
	t.Parallel()
	for _, mapMode := range []string{"single", "auto"} {
		t.Run(mapMode, func(t *testing.T) {
			t.Parallel()
			if mapMode == "auto" {
				subordinateRanges(t, "/etc/subuid")
				subordinateRanges(t, "/etc/subgid")
			}
			h := newStateHome(t)
			name := h.detach(t, sandboxName("ns"), "--map", mapMode, "--", "sleep", token())
			st := h.state(t, name)

			tok := token()
			p := h.start(t, "exec", name, "--", "sleep", tok)
			pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok)
			if !ok {
				t.Fatalf("want one host process `sleep %s` from sbx exec, found %v\nstderr:\n%s", tok, pids, indent(p.stderr.String()))
			}
			for _, typ := range namespaceTypes {
				sandbox, execd, own := nsLink(t, st.Pid, typ), nsLink(t, pids[0], typ), nsLink(t, os.Getpid(), typ)
				if execd != sandbox {
					t.Errorf("%s namespace: the exec'd process is in %s, the sandbox's pid 1 in %s", typ, execd, sandbox)
				}
				if sandbox == own {
					t.Errorf("%s namespace: the sandbox is in the test's own %s", typ, own)
				}
			}
			// The same id maps, as they belong to the user namespace.
			for _, f := range []string{"uid_map", "gid_map"} {
				want, err1 := os.ReadFile(fmt.Sprintf("/proc/%d/%s", st.Pid, f))
				got, err2 := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pids[0], f))
				if err1 != nil || err2 != nil || string(got) != string(want) {
					t.Errorf("%s: exec'd process %q (%v), sandbox %q (%v)", f, got, err2, want, err1)
				}
				m := parseIDMap(t, string(want))
				var total uint64
				for _, r := range m {
					total += r.count
				}
				if mapMode == "single" && total != 1 || mapMode == "auto" && total < 65536 {
					t.Errorf("--map %s: unexpected %s %q", mapMode, f, want)
				}
			}

			// The exec'd process ends with its sandbox.
			h.sbx(t, "kill", name, "KILL").ok(t)
			p.wait(t)
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
				t.Errorf("the exec'd `sleep %s` outlived its sandbox: pids %v", tok, pids)
				killPids(pids)
			}
		})
	}
}

// TestExecEnv checks that exec'd commands get the sandbox's environment,
// not the caller's, with -e on top.
func TestExecEnv(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("env"), "--clearenv", "-e", "PATH=/usr/bin:/bin",
		"-e", "FOO=sandbox", "-e", "BAR=kept", "--", "sleep", token())
	inv := h.inv("exec", name, "--", "env")
	inv.env = append(append([]string{}, h.env...), "CALLER_ONLY=1")
	env := lines(inv.run(t).ok(t))
	for _, kv := range []string{"PATH=/usr/bin:/bin", "FOO=sandbox", "BAR=kept"} {
		if !slices.Contains(env, kv) {
			t.Errorf("want %s in exec's environment, got %q", kv, env)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "CALLER_ONLY=") || strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			t.Errorf("exec's environment has the caller's %s: %q", kv, env)
		}
	}
	env = lines(h.sbx(t, "exec", "-e", "FOO=override", "-e", "NEW=1", name, "--", "env").ok(t))
	for _, kv := range []string{"PATH=/usr/bin:/bin", "FOO=override", "BAR=kept", "NEW=1"} {
		if !slices.Contains(env, kv) {
			t.Errorf("exec -e: want %s, got %q", kv, env)
		}
	}
	if slices.Contains(env, "FOO=sandbox") {
		t.Errorf("exec -e FOO=override kept FOO=sandbox: %q", env)
	}
}

// TestExecWorkdir checks exec's working directory: the sandbox's, or -w.
func TestExecWorkdir(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	inCwd := h.detach(t, sandboxName("cwd"), "--", "sleep", token())
	inTmp := h.detach(t, sandboxName("tmp"), "-w", "/tmp", "--", "sleep", token())
	if got := h.sbx(t, "exec", inCwd, "--", "pwd").ok(t); got != h.dir+"\n" {
		t.Errorf("want exec to start in the sandbox's working directory %s, got %q", h.dir, got)
	}
	// From another directory: still the sandbox's.
	inv := h.inv("exec", inTmp, "--", "pwd")
	inv.dir = testDir(t)
	if got := inv.run(t).ok(t); got != "/tmp\n" {
		t.Errorf("want exec to start in the sandbox's working directory /tmp, got %q", got)
	}
	for _, args := range [][]string{
		{"exec", "-w", "/proc", inCwd, "--", "pwd"},
		{"exec", "--workdir", "/proc", inTmp, "--", "pwd"},
	} {
		if got := h.sbx(t, args...).ok(t); got != "/proc\n" {
			t.Errorf("want /proc, got %q", got)
		}
	}
}

// TestExecExitCodes checks that exec exits like run: the command's code,
// 126, 127, 128+N.
func TestExecExitCodes(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	writeFile(t, filepath.Join(h.dir, "noexec"), "#!/bin/sh\necho ran\n", 0o644)
	tok := token()
	name := h.detach(t, sandboxName("codes"), "--", "sleep", tok)
	for _, c := range []struct {
		cmd  []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"sh", "-c", "exit 255"}, 255},
		{[]string{"./noexec"}, 126},
		{[]string{"no-such-command-" + tok}, 127},
		{[]string{"/no/such/file"}, 127},
		{[]string{"sh", "-c", "kill -TERM $$"}, 128 + int(syscall.SIGTERM)},
		{[]string{"sh", "-c", "kill -KILL $$"}, 128 + int(syscall.SIGKILL)},
	} {
		r := h.sbx(t, append([]string{"exec", name, "--"}, c.cmd...)...)
		if r.code != c.code {
			t.Errorf("want exit %d:\n%s", c.code, r)
		}
	}
	if st := h.state(t, name); st.Status != "running" {
		t.Errorf("the sandbox did not survive its exec'd commands: %+v", st)
	}
}

// TestExecUser checks exec's default user (the sandbox's) and --uid/--gid.
func TestExecUser(t *testing.T) {
	t.Parallel()
	own := fmt.Sprintf("%d\n%d\n", os.Getuid(), os.Getgid())
	for _, c := range []struct {
		name    string
		runArgs []string
		exec    []string
		want    string
	}{
		{"default", nil, nil, own},
		{"exec as root", nil, []string{"--uid", "0", "--gid", "0"}, "0\n0\n"},
		{"exec as other ids", nil, []string{"--uid", "123", "--gid", "456"}, "123\n456\n"},
		{"run as root", []string{"--uid", "0", "--gid", "0"}, nil, "0\n0\n"},
		{"single map, run as root", []string{"--map", "single", "--uid", "0", "--gid", "0"}, nil, "0\n0\n"},
		{"single map", []string{"--map", "single"}, nil, own},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			name := h.detach(t, sandboxName("user"), append(c.runArgs, "--", "sleep", token())...)
			args := append(append([]string{"exec"}, c.exec...), name, "--", "sh", "-c", "id -u; id -g")
			if got := h.sbx(t, args...).ok(t); got != c.want {
				t.Errorf("want ids %q, got %q", c.want, got)
			}
		})
	}
}

// TestExecStdio checks that exec passes stdin, stdout and stderr through,
// and no other descriptor.
func TestExecStdio(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("stdio"), "--", "sleep", token())
	inv := h.inv("exec", name, "--", "sh", "-c", `cat; echo err >&2`)
	inv.stdin = strings.NewReader("from stdin\n")
	r := inv.run(t)
	if r.code != 0 || r.stdout != "from stdin\n" || r.stderr != "err\n" {
		t.Errorf("want stdin copied to stdout, and err on stderr:\n%s", r)
	}
	extra, err := os.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	// ls lists the descriptors of the shell, its parent, which only holds
	// what it inherited.
	inv = h.inv("exec", name, "--", "sh", "-c", `ls /proc/$$/fd`)
	inv.extra = []*os.File{extra}
	r = inv.run(t)
	for _, fd := range lines(r.ok(t)) {
		if fd != "0" && fd != "1" && fd != "2" {
			t.Errorf("a descriptor other than 0, 1 and 2 reached the exec'd command: %s\n%s", fd, r)
		}
	}
}

// TestExecConcurrent runs several execs into one sandbox at once.
func TestExecConcurrent(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("conc"), "--", "sleep", token())
	const n = 6
	procs := make([]*process, n)
	for i := range procs {
		procs[i] = h.start(t, "exec", name, "--", "sh", "-c", `echo "exec $1"`, "sh", strconv.Itoa(i))
	}
	for i, p := range procs {
		r := p.wait(t)
		if r.code != 0 || r.stdout != fmt.Sprintf("exec %d\n", i) {
			t.Errorf("want exec %d:\n%s", i, r)
		}
	}
}

// TestExecBadInput checks that exec refuses a missing command.
func TestExecBadInput(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("bad"), "--", "sleep", token())
	for _, args := range [][]string{
		{"exec", name},
		{"exec", name, "--"},
	} {
		expectBadInput(t, h.sbx(t, args...))
	}
}

// TestExecRootfs checks that an exec'd command lives in the sandbox's root
// filesystem: its files, its /tmp, its PATH lookup, its working directory.
func TestExecRootfs(t *testing.T) {
	t.Parallel()
	root := busyboxRootfs(t)
	h := newStateHome(t)
	name := h.detach(t, sandboxName("rootfs"), "--rootfs", root, "-e", "PATH=/bin", "--",
		"/bin/sh", "-c", `echo in-sandbox >/tmp/f; exec sleep "$1"`, "sh", token())
	if got := h.waitExecOK(t, name, "cat", "/tmp/f"); got != "in-sandbox\n" {
		t.Errorf("want the sandbox's /tmp/f, got %q", got)
	}
	// cat and sh are found in the rootfs (the host's are in /usr/bin, which
	// the rootfs lacks).
	out := h.sbx(t, "exec", name, "--", "sh", "-c", `cat /etc/marker; pwd; [ -e /usr ] || echo no-usr`).ok(t)
	if want := "rootfs\n/\nno-usr\n"; out != want {
		t.Errorf("want %q (the rootfs's marker, /, no /usr), got %q", want, out)
	}
}

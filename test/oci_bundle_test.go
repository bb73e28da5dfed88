package test

// Bundle-level tests of sbx as an OCI runtime (issue #16): the tests write
// bundles and drive the runtime with runc's command line, without podman or
// containerd. They check the lifecycle (create, start, state, kill, delete,
// run, exec, list, ps), one config.json field at a time as seen from
// inside, the refusal of fields sbx cannot honour (one line naming the JSON
// path, exit 125), spec and features.
//
// The runtime is $SBX_OCI_RUNTIME if set, else $SBX_BINARY: with
// SBX_OCI_RUNTIME=/usr/sbin/runc the same tests check themselves against
// runc (rootless, with the user namespace of the config). Exit codes of
// failures are then any non-zero code, and the checks that are sbx's own
// promises (125, one-line refusals) are skipped.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// readPidFile reads a --pid-file.
func readPidFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		t.Fatalf("the pid file holds %q, not a pid", data)
	}
	return pid
}

// waitCmdline waits until host process pid runs argv (it may still be
// the runtime's own process, or a shell, right after the call).
func waitCmdline(t *testing.T, pid int, argv ...string) {
	t.Helper()
	want := strings.Join(argv, "\x00") + "\x00"
	deadline := time.Now().Add(10 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if string(got) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("host pid %d runs %q, want %q", pid, strings.Split(string(got), "\x00"), argv)
}

// waitInit waits until the container's command (argv) runs on the host
// and checks that pid, the container's init from --pid-file, is that
// process or an ancestor of it: runc's init is the command, sbx's is its
// own pid 1, the command's parent.
func waitInit(t *testing.T, pid int, argv ...string) {
	t.Helper()
	pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, argv...)
	if !ok {
		t.Fatalf("want one host process running %q, got %v", argv, pids)
	}
	for p := pids[0]; p > 1; {
		if p == pid {
			return
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			break
		}
		if p, err = strconv.Atoi(ociStatusField(string(status), "PPid")); err != nil {
			break
		}
	}
	t.Fatalf("the pid file's %d is neither the command %q (host pid %d) nor an ancestor of it", pid, argv, pids[0])
}

// TestOCIBundleLifecycle walks a container through create, start, kill and
// delete, checking state at each step, and the refusals on the way.
func TestOCIBundleLifecycle(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	b := e.bundle(t, `trap "echo term > /out/term; exit 143" TERM; echo ran > /out/ran; sleep 1000 & wait`)
	b.spec.Annotations = map[string]string{"org.sbx.test": "lifecycle"}
	b.write(t)
	id := ociID("life")
	rt.deleteAtEnd(t, id)
	pidFile := filepath.Join(b.dir, "pid")

	rt.run(t, "create", "--bundle", b.dir, "--pid-file", pidFile, id).expect(t, 0)
	pid := readPidFile(t, pidFile)
	s := rt.state(t, id)
	if s.Status != "created" || s.pid() != pid || s.Bundle != b.dir {
		t.Fatalf("after create: want status created, pid %d (the pid file's), bundle %s; got %+v", pid, b.dir, s)
	}
	if s.Annotations["org.sbx.test"] != "lifecycle" {
		t.Errorf("state should carry the config's annotations, got %v", s.Annotations)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Errorf("the pid of a created container is not a live host process: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, ok := b.outFile("ran"); ok {
		t.Fatal("the process ran before start")
	}

	// Two starts at once: one starts it, the other fails, and neither
	// hangs.
	results := make(chan ociResult, 2)
	for range 2 {
		go func() { results <- rt.run(t, "start", id) }()
	}
	codes := []int{(<-results).code, (<-results).code}
	if slices.Contains(codes, 0) == (codes[0] == 0 && codes[1] == 0) {
		t.Errorf("two concurrent starts: want one to succeed and one to fail, got exit codes %v", codes)
	}
	b.waitOutFile(t, "ran")
	if s := rt.state(t, id); s.Status != "running" || s.pid() != pid {
		t.Fatalf("after start: want status running with pid %d, got %+v", pid, s)
	}
	rt.expectFail(t, rt.run(t, "start", id))         // already running
	rt.expectFail(t, rt.run(t, "delete", id))        // running, without --force
	if s := rt.state(t, id); s.Status != "running" { // and it still runs
		t.Fatalf("a refused delete changed the state: %+v", s)
	}

	rt.run(t, "kill", id, "TERM").expect(t, 0)
	s = rt.waitStatus(t, id, "stopped")
	if s.pid() != 0 {
		t.Errorf("a stopped container's pid should be 0, got %d", s.pid())
	}
	if _, ok := b.outFile("term"); !ok {
		t.Error("the process did not get the TERM of kill")
	}
	rt.expectFail(t, rt.run(t, "start", id)) // stopped
	rt.run(t, "delete", id).expect(t, 0)
	rt.expectNoContainer(t, id)
}

// TestOCIBundleDelete checks delete: --force of an unknown id is fine,
// without --force it is an error, and --force stops a running container.
func TestOCIBundleDelete(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	rt.run(t, "delete", "--force", "ocib-nosuch").expect(t, 0)
	rt.expectFail(t, rt.run(t, "delete", "ocib-nosuch"))
	rt.expectNoContainer(t, "ocib-nosuch")

	tok := token()
	b := e.bundle(t, "exec sleep "+tok)
	b.write(t)
	id := ociID("del")
	rt.deleteAtEnd(t, id)
	pidFile := filepath.Join(b.dir, "pid")
	rt.run(t, "run", "--detach", "--bundle", b.dir, "--pid-file", pidFile, id).expect(t, 0)
	pid := readPidFile(t, pidFile)
	waitInit(t, pid, "sleep", tok)
	rt.expectFail(t, rt.run(t, "delete", id))
	rt.run(t, "delete", "--force", id).expect(t, 0)
	rt.expectNoContainer(t, id)
	if _, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Error("delete --force left the container's process running")
	}
}

// TestOCIBundleRun checks run: attached, it exits with the container's
// code, gives it the runtime's stdio, and removes the container; detached,
// it leaves it running with its pid in --pid-file.
func TestOCIBundleRun(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	t.Run("attached", func(t *testing.T) {
		for _, code := range []int{0, 7} {
			b := e.bundle(t, fmt.Sprintf("echo out; echo err >&2; exit %d", code))
			b.write(t)
			id := ociID("att")
			rt.deleteAtEnd(t, id)
			r := rt.run(t, "run", "--bundle", b.dir, id)
			r.expect(t, code)
			if r.stdout != "out\n" || !strings.Contains(r.stderr, "err\n") {
				t.Errorf("want the container's stdout and stderr on the runtime's:\n%s", r)
			}
			rt.expectNoContainer(t, id)
		}
	})
	t.Run("killed", func(t *testing.T) {
		// The kernel spares a pid 1 its own SIGKILL: kill comes from
		// outside, while run waits.
		b := e.bundle(t, "echo ran > /out/ran; sleep 1000 & wait")
		b.write(t)
		id := ociID("sig")
		rt.deleteAtEnd(t, id)
		done := make(chan ociResult, 1)
		go func() { done <- rt.run(t, "run", "--bundle", b.dir, id) }()
		b.waitOutFile(t, "ran")
		rt.run(t, "kill", id, "KILL").expect(t, 0)
		r := <-done
		r.expect(t, 128+9)
	})
	t.Run("detached", func(t *testing.T) {
		tok := token()
		b := e.bundle(t, "echo ran > /out/ran; exec sleep "+tok)
		b.write(t)
		id := ociID("det")
		rt.deleteAtEnd(t, id)
		pidFile := filepath.Join(b.dir, "pid")
		rt.run(t, "run", "--detach", "--bundle", b.dir, "--pid-file", pidFile, id).expect(t, 0)
		pid := readPidFile(t, pidFile)
		b.waitOutFile(t, "ran")
		waitInit(t, pid, "sleep", tok)
		if s := rt.state(t, id); s.Status != "running" || s.pid() != pid {
			t.Fatalf("after run --detach: want running with pid %d, got %+v", pid, s)
		}
		rt.run(t, "kill", id, "KILL").expect(t, 0)
		rt.waitStatus(t, id, "stopped")
		rt.run(t, "delete", id).expect(t, 0)
	})
}

// TestOCIBundleExec checks exec --process in a running container,
// detached (the pid file's pid is the command's) and attached (the exit
// code is the command's), and list and ps, which see both processes.
func TestOCIBundleExec(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	tok, execTok := token(), token()
	b := e.bundle(t, "exec sleep "+tok)
	b.write(t)
	id := ociID("exec")
	rt.deleteAtEnd(t, id)
	pidFile := filepath.Join(b.dir, "pid")
	rt.run(t, "run", "--detach", "--bundle", b.dir, "--pid-file", pidFile, id).expect(t, 0)
	pid := readPidFile(t, pidFile)
	waitInit(t, pid, "sleep", tok)

	process := func(script string) string {
		p := specs.Process{Args: []string{"sh", "-c", script}, Env: []string{ociPath, "FOO=exec"}, Cwd: "/srv"}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(testDir(t), "process.json")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}

	execPidFile := filepath.Join(b.dir, "exec.pid")
	rt.run(t, "exec", "--process", process("echo $$ $FOO $(pwd) > /out/exec; exec sleep "+execTok),
		"--detach", "--pid-file", execPidFile, id).expect(t, 0)
	execPid := readPidFile(t, execPidFile)
	waitCmdline(t, execPid, "sleep", execTok)
	if got := strings.Fields(b.waitOutFile(t, "exec")); len(got) != 3 || got[0] == "1" || got[1] != "exec" || got[2] != "/srv" {
		t.Errorf("exec'd command saw pid, $FOO, cwd %q: want a pid other than 1, exec, /srv", got)
	}

	r := rt.run(t, "exec", "--process", process("echo attached; exit 3"), id)
	r.expect(t, 3)
	if r.stdout != "attached\n" {
		t.Errorf("exec attached: want the command's output on the runtime's stdout:\n%s", r)
	}

	r = rt.run(t, "list", "--format", "json")
	var list []ociState
	if err := json.Unmarshal([]byte(r.ok(t)), &list); err != nil {
		t.Fatalf("list --format json: %v\n%s", err, r)
	}
	if len(list) != 1 || list[0].ID != id || list[0].Status != "running" || list[0].pid() != pid {
		t.Errorf("list --format json: want only %s, running, pid %d:\n%s", id, pid, r)
	}
	r = rt.run(t, "list", "--quiet")
	if strings.TrimSpace(r.ok(t)) != id {
		t.Errorf("list --quiet: want only %s:\n%s", id, r)
	}

	r = rt.run(t, "ps", "--format", "json", id)
	var pids []int
	switch {
	case r.code != 0 && !rt.sbx:
		// runc finds the processes through the container's cgroup, which
		// a rootless runc without cgroup delegation does not have.
		t.Logf("ps fails with %s here (no cgroup of the container?):\n%s", filepath.Base(rt.path), r)
	case json.Unmarshal([]byte(r.ok(t)), &pids) != nil:
		t.Errorf("ps --format json: not a JSON array of pids:\n%s", r)
	case !slices.Contains(pids, pid) || !slices.Contains(pids, execPid):
		t.Errorf("ps --format json: want the pids of init %d and of the exec'd command %d, got %v", pid, execPid, pids)
	}

	rt.run(t, "delete", "--force", id).expect(t, 0)
	if _, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", execTok); !ok {
		t.Error("delete --force left the exec'd process running")
	}
}

// TestOCIBundleCreateErrors checks that a command that cannot run fails
// create, with the messages podman turns into 127 and 126, and leaves no
// container behind.
func TestOCIBundleCreateErrors(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	for _, c := range []struct {
		name string
		args []string
		want string // a regexp stderr matches
	}{
		{"not on PATH", []string{"ocib-no-such-command"}, `executable file not found in \$PATH|no such file or directory`},
		{"no such file", []string{"/bin/ocib-no-such-command"}, `no such file or directory`},
		{"not executable", []string{"/etc/passwd"}, `permission denied`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := e.bundle(t, "")
			b.spec.Process.Args = c.args
			b.write(t)
			id := ociID("err")
			rt.deleteAtEnd(t, id)
			r := rt.run(t, "create", "--bundle", b.dir, id)
			rt.expectFail(t, r)
			if !regexp.MustCompile("(?i)" + c.want).MatchString(r.stderr) {
				t.Errorf("create of %q: stderr should match %q:\n%s", c.args, c.want, r)
			}
			// runc keeps a stopped container after a failed create;
			// either way none may run.
			if r := rt.run(t, "state", id); r.code == 0 && !strings.Contains(r.stdout, `"stopped"`) {
				t.Errorf("a failed create left a container that is not stopped:\n%s", r)
			}
		})
	}
}

// ociMountInfo is one line `mi MOUNTPOINT OPTIONS FSTYPE SUPEROPTIONS`
// that ociMountScript's mi prints.
type ociMountInfo struct {
	opts, super []string
	fstype      string
}

// ociMountScript defines mi, which prints the topmost mount on a path.
const ociMountScript = `mi() { awk -v d="$1" '$5==d { for (i=7; $i!="-"; i++) ; m=$6" "$(i+1)" "$(i+3) } END { print "mi", d, (m=="" ? "none" : m) }' /proc/self/mountinfo; }; `

// ociMount finds the mount on mountpoint in the output of mi.
func ociMount(t *testing.T, out, mountpoint string) ociMountInfo {
	t.Helper()
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "mi" && f[1] == mountpoint {
			if f[2] == "none" || len(f) != 5 {
				t.Fatalf("no mount on %s inside:\n%s", mountpoint, out)
			}
			return ociMountInfo{opts: strings.Split(f[2], ","), fstype: f[3], super: strings.Split(f[4], ",")}
		}
	}
	t.Fatalf("no line for %s in the output:\n%s", mountpoint, out)
	return ociMountInfo{}
}

// expectMount checks a mount's type and that its options (of the mount or
// of the superblock) include want and exclude the options prefixed by "-".
func expectMount(t *testing.T, out, mountpoint, fstype string, want ...string) {
	t.Helper()
	m := ociMount(t, out, mountpoint)
	if fstype != "" && m.fstype != fstype {
		t.Errorf("%s: want type %s, got %s", mountpoint, fstype, m.fstype)
	}
	all := append(slices.Clone(m.opts), m.super...)
	for _, w := range want {
		if neg, ok := strings.CutPrefix(w, "-"); ok {
			if slices.Contains(m.opts, neg) {
				t.Errorf("%s: want no %s, got options %v", mountpoint, neg, m.opts)
			}
		} else if !slices.Contains(all, w) {
			t.Errorf("%s: want %s, got options %v, superblock %v", mountpoint, w, m.opts, m.super)
		}
	}
}

// extendIDMaps maps the test user's first subordinate ids after 0 (which
// stays the user), so that the container has other users and groups.
func extendIDMaps(t *testing.T, s *specs.Spec) {
	t.Helper()
	for _, m := range []struct {
		file string
		dst  *[]specs.LinuxIDMapping
	}{{"/etc/subuid", &s.Linux.UIDMappings}, {"/etc/subgid", &s.Linux.GIDMappings}} {
		r := subordinateRanges(t, m.file)[0]
		*m.dst = append(*m.dst, specs.LinuxIDMapping{ContainerID: 1, HostID: uint32(r.outside),
			Size: uint32(min(r.count, 65535))})
	}
}

// ociFieldCase is one config field: edit changes the bundle, script runs
// inside, and check reads its output.
type ociFieldCase struct {
	name   string
	edit   func(t *testing.T, b *ociBundle)
	script string
	want   string // a regexp the output must match, multi-line
	check  func(t *testing.T, b *ociBundle, out string)
	// runcDiffers says why runc fails the case: it is skipped when the
	// runtime is not sbx.
	runcDiffers string
}

// TestOCIBundleConfig runs one container per supported config field and
// checks its effect from inside.
func TestOCIBundleConfig(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	for _, c := range ociFieldCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.runcDiffers != "" && !e.rt.sbx {
				t.Skip(c.runcDiffers)
			}
			b := e.bundle(t, ociMountScript+c.script)
			if c.edit != nil {
				c.edit(t, b)
			}
			r := b.runAttached(t, "field")
			out := r.ok(t)
			if c.want != "" && !regexp.MustCompile("(?m)"+c.want).MatchString(out) {
				t.Errorf("output should match %q:\n%s", c.want, r)
			}
			if c.check != nil {
				c.check(t, b, out)
			}
		})
	}
}

func ociFieldCases() []ociFieldCase {
	hostData := func(t *testing.T, b *ociBundle) string {
		d := filepath.Join(b.dir, "hostdata")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	addMount := func(b *ociBundle, m specs.Mount) { b.spec.Mounts = append(b.spec.Mounts, m) }
	return []ociFieldCase{
		{
			name: "process.args",
			edit: func(t *testing.T, b *ociBundle) {
				b.spec.Process.Args = []string{"/bin/sh", "-c", `printf '[%s]' "$0" "$@"; echo`, "zero", "a b", "", "c"}
			},
			want: `^\[zero\]\[a b\]\[\]\[c\]$`,
		},
		{
			name: "process.env",
			edit: func(t *testing.T, b *ociBundle) {
				b.spec.Process.Env = append(b.spec.Process.Env, "FOO=bar baz", "EMPTY=")
			},
			script: `echo "FOO=$FOO"; env`,
			check: func(t *testing.T, b *ociBundle, out string) {
				l := lines(out)
				if len(l) == 0 || l[0] != "FOO=bar baz" || !slices.Contains(l, "EMPTY=") || !slices.Contains(l, ociPath) {
					t.Errorf("want FOO, EMPTY and PATH from process.env:\n%s", out)
				}
				for _, v := range l {
					if strings.HasPrefix(v, "SBX_") || strings.HasPrefix(v, "USER=") {
						t.Errorf("the runtime's own environment leaked into the container: %s", v)
					}
				}
			},
		},
		{
			name:   "process.cwd",
			edit:   func(t *testing.T, b *ociBundle) { b.mkdir(t, "/srv/work dir"); b.spec.Process.Cwd = "/srv/work dir" },
			script: `pwd`,
			want:   `^/srv/work dir$`,
		},
		{
			name: "process.user",
			edit: func(t *testing.T, b *ociBundle) {
				extendIDMaps(t, b.spec)
				b.spec.Process.User = specs.User{UID: 1000, GID: 1000}
			},
			script: `echo "uid=$(id -u) gid=$(id -g)"; touch /tmp/f; stat -c 'owner %u:%g' /tmp/f`,
			want:   `^uid=1000 gid=1000\nowner 1000:1000$`,
		},
		{
			name: "process.user.additionalGids",
			edit: func(t *testing.T, b *ociBundle) {
				extendIDMaps(t, b.spec)
				b.spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 100}}
			},
			script: `echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"; grep -E '^(Uid|Gid|Groups):' /proc/self/status`,
			want:   `^uid=1000 gid=1000 groups=1000 10 100$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				if g := strings.Fields(ociStatusField(out, "Groups")); !slices.Equal(g, []string{"10", "100"}) {
					t.Errorf("want supplementary groups exactly 10 100 (additionalGids), got %q", g)
				}
			},
			runcDiffers: "runc refuses additionalGids rootless, even with newgidmap's mappings",
		},
		{
			name: "process.user.umask",
			edit: func(t *testing.T, b *ociBundle) {
				u := uint32(0o027)
				b.spec.Process.User.Umask = &u
			},
			script: `umask; touch /tmp/f; stat -c %a /tmp/f`,
			want:   `^0027\n640$`,
		},
		{
			name: "process.rlimits",
			edit: func(t *testing.T, b *ociBundle) {
				b.spec.Process.Rlimits = []specs.POSIXRlimit{
					{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456},
					{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
					{Type: "RLIMIT_NPROC", Soft: 3000, Hard: 4000},
				}
			},
			script: `cat /proc/self/limits`,
			check: func(t *testing.T, b *ociBundle, out string) {
				for _, re := range []string{`(?m)^Max open files +123 +456 `, `(?m)^Max core file size +0 +0 `,
					`(?m)^Max processes +3000 +4000 `} {
					if !regexp.MustCompile(re).MatchString(out) {
						t.Errorf("/proc/self/limits should match %q:\n%s", re, out)
					}
				}
			},
		},
		{
			// As root in its user namespace, the process's permitted and
			// effective sets after execve are its bounding set (and
			// inheritable), as with runc.
			name: "process.capabilities root",
			edit: func(t *testing.T, b *ociBundle) {
				set := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
				b.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: set, Effective: set, Permitted: set}
			},
			script: `grep ^Cap /proc/self/status`,
			check: func(t *testing.T, b *ociBundle, out string) {
				for k, v := range map[string]string{"CapBnd": "0000000000000421", "CapEff": "0000000000000421",
					"CapPrm": "0000000000000421", "CapInh": "0000000000000000", "CapAmb": "0000000000000000"} {
					if got := ociStatusField(out, k); got != v {
						t.Errorf("%s: want %s, got %s", k, v, got)
					}
				}
			},
		},
		{
			// A non-root user keeps across execve only its ambient set.
			name: "process.capabilities ambient",
			edit: func(t *testing.T, b *ociBundle) {
				extendIDMaps(t, b.spec)
				b.spec.Process.User = specs.User{UID: 1000, GID: 1000}
				one := []string{"CAP_NET_BIND_SERVICE"}
				b.spec.Process.Capabilities = &specs.LinuxCapabilities{
					Bounding:  []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
					Effective: one, Permitted: one, Inheritable: one, Ambient: one}
			},
			script: `grep ^Cap /proc/self/status`,
			check: func(t *testing.T, b *ociBundle, out string) {
				for k, v := range map[string]string{"CapBnd": "0000000000000421", "CapEff": "0000000000000400",
					"CapPrm": "0000000000000400", "CapInh": "0000000000000400", "CapAmb": "0000000000000400"} {
					if got := ociStatusField(out, k); got != v {
						t.Errorf("%s: want %s, got %s", k, v, got)
					}
				}
			},
		},
		{
			name:   "process.noNewPrivileges true",
			script: `grep ^NoNewPrivs /proc/self/status`,
			want:   `^NoNewPrivs:\s+1$`,
		},
		{
			name:   "process.noNewPrivileges false",
			edit:   func(t *testing.T, b *ociBundle) { b.spec.Process.NoNewPrivileges = false },
			script: `grep ^NoNewPrivs /proc/self/status`,
			want:   `^NoNewPrivs:\s+0$`,
		},
		{
			name:   "hostname",
			edit:   func(t *testing.T, b *ociBundle) { b.spec.Hostname = "ocib-host" },
			script: `hostname; cat /proc/sys/kernel/hostname`,
			want:   `^ocib-host\nocib-host$`,
		},
		{
			name: "root.readonly",
			edit: func(t *testing.T, b *ociBundle) { b.spec.Root.Readonly = true },
			script: `mi /; touch /probe 2>/dev/null && echo root-writable || echo root-refused; ` +
				`touch /out/probe && echo out-writable; touch /tmp/probe 2>/dev/null || echo tmp-refused`,
			want: `^root-refused\nout-writable\ntmp-refused$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/", "", "ro")
			},
		},
		{
			name:   "root.readonly false",
			script: `mi /; touch /probe 2>/dev/null && echo root-writable || echo root-refused`,
			want:   `^root-writable$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/", "", "rw")
			},
		},
		{
			name: "mounts bind directory ro and rw",
			edit: func(t *testing.T, b *ociBundle) {
				d := hostData(t, b)
				b.mkdir(t, "/mnt/ro")
				b.mkdir(t, "/mnt/rw")
				b.mkdir(t, "/mnt/none")
				addMount(b, specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: d, Options: []string{"rbind", "ro"}})
				addMount(b, specs.Mount{Destination: "/mnt/rw", Type: "bind", Source: d, Options: []string{"rbind", "rw"}})
				// runc spec's spelling: type none, the bind in the options.
				addMount(b, specs.Mount{Destination: "/mnt/none", Type: "none", Source: d, Options: []string{"rbind", "ro", "nosuid", "nodev"}})
			},
			script: `mi /mnt/ro; mi /mnt/rw; mi /mnt/none; cat /mnt/ro/f /mnt/none/f; ` +
				`touch /mnt/ro/new 2>/dev/null && echo ro-writable || echo ro-refused; echo in > /mnt/rw/new && echo rw-written`,
			want: `^from-host\nfrom-host\nro-refused\nrw-written$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/mnt/ro", "", "ro")
				expectMount(t, out, "/mnt/rw", "", "rw")
				expectMount(t, out, "/mnt/none", "", "ro", "nosuid", "nodev")
				if got, _ := os.ReadFile(filepath.Join(b.dir, "hostdata", "new")); string(got) != "in\n" {
					t.Errorf("a write through the rw bind should reach the host, got %q", got)
				}
			},
		},
		{
			name: "mounts bind file ro and rw",
			edit: func(t *testing.T, b *ociBundle) {
				d := hostData(t, b)
				b.writeFile(t, "/etc/ro-file", "", 0o644)
				b.writeFile(t, "/etc/rw-file", "", 0o644)
				f := filepath.Join(d, "f")
				addMount(b, specs.Mount{Destination: "/etc/ro-file", Type: "bind", Source: f, Options: []string{"rbind", "ro"}})
				addMount(b, specs.Mount{Destination: "/etc/rw-file", Type: "bind", Source: f, Options: []string{"bind", "rw"}})
			},
			script: `mi /etc/ro-file; mi /etc/rw-file; cat /etc/ro-file; echo x >> /etc/ro-file 2>/dev/null || echo ro-refused; ` +
				`echo appended >> /etc/rw-file && echo rw-written`,
			want: `^from-host\nro-refused\nrw-written$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/etc/ro-file", "", "ro")
				expectMount(t, out, "/etc/rw-file", "", "rw")
				if got, _ := os.ReadFile(filepath.Join(b.dir, "hostdata", "f")); string(got) != "from-host\nappended\n" {
					t.Errorf("a write through the rw file bind should reach the host, got %q", got)
				}
			},
		},
		{
			// bind is not recursive, rbind is: the host's /sys has mounts
			// under it (/sys/fs/cgroup). A plain bind of a directory with
			// none works rootless (the kernel refuses a plain bind that
			// would uncover locked mounts).
			name: "mounts bind and rbind recursion",
			edit: func(t *testing.T, b *ociBundle) {
				d := hostData(t, b)
				b.mkdir(t, "/mnt/plain")
				b.mkdir(t, "/mnt/sys")
				addMount(b, specs.Mount{Destination: "/mnt/plain", Type: "bind", Source: d, Options: []string{"bind", "ro"}})
				addMount(b, specs.Mount{Destination: "/mnt/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "ro"}})
			},
			script: `mi /mnt/plain; cat /mnt/plain/f; awk '$5 ~ "^/mnt/sys/." { n++ } END { print "under-sys", n+0 }' /proc/self/mountinfo`,
			want:   `^from-host$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/mnt/plain", "", "ro")
				hostSub := 0
				for _, l := range lines(readHostFile(t, "/proc/self/mountinfo")) {
					if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], "/sys/") {
						hostSub++
					}
				}
				if hostSub > 0 && !regexp.MustCompile(`(?m)^under-sys [1-9]`).MatchString(out) {
					t.Errorf("the rbind of /sys should carry the host's %d mounts under /sys:\n%s", hostSub, out)
				}
			},
		},
		{
			name: "mounts tmpfs size noexec",
			edit: func(t *testing.T, b *ociBundle) {
				b.mkdir(t, "/mnt/t")
				b.mkdir(t, "/mnt/nx")
				b.mkdir(t, "/mnt/x")
				addMount(b, specs.Mount{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}})
				addMount(b, specs.Mount{Destination: "/mnt/nx", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "size=8m"}})
				addMount(b, specs.Mount{Destination: "/mnt/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=8m"}})
			},
			// busybox runs the applet of its argv[0]'s name: true.
			script: `mi /mnt/t; mi /mnt/nx; mi /mnt/x; df -k /mnt/t | awk 'NR==2 { print "kb", $2 }'; ` +
				`cp /bin/busybox /mnt/nx/true; cp /bin/busybox /mnt/x/true; /mnt/nx/true 2>/dev/null; echo "noexec rc=$?"; /mnt/x/true; echo "exec rc=$?"`,
			want: `^kb 1024\nnoexec rc=126\nexec rc=0$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/mnt/t", "tmpfs", "size=1024k", "-noexec")
				expectMount(t, out, "/mnt/nx", "tmpfs", "noexec", "nosuid", "nodev")
			},
		},
		{
			name: "mounts tmpfs mode",
			edit: func(t *testing.T, b *ociBundle) {
				b.mkdir(t, "/mnt/t")
				addMount(b, specs.Mount{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0750"}})
			},
			script: `mi /mnt/t; stat -c 'mode %a' /mnt/t`,
			want:   `^mode 750$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/mnt/t", "tmpfs", "mode=750")
			},
			runcDiffers: "runc 1.1 gives a tmpfs the mode of the directory it is mounted on, not its mode= option",
		},
		{
			// Destinations that do not exist in the rootfs are made, as
			// directories, or as files for a bind of a file.
			name: "mounts missing destinations",
			edit: func(t *testing.T, b *ociBundle) {
				d := hostData(t, b)
				addMount(b, specs.Mount{Destination: "/mnt/new/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0750"}})
				addMount(b, specs.Mount{Destination: "/mnt/new/dir", Type: "bind", Source: d, Options: []string{"rbind", "ro"}})
				addMount(b, specs.Mount{Destination: "/etc/new/file", Type: "bind", Source: filepath.Join(d, "f"), Options: []string{"rbind", "ro"}})
			},
			script: `mi /mnt/new/tmp; mi /mnt/new/dir; mi /etc/new/file; stat -c 'mode %a' /mnt/new/tmp; cat /mnt/new/dir/f /etc/new/file`,
			want:   `^mode 750\nfrom-host\nfrom-host$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/mnt/new/tmp", "tmpfs")
				if fi, err := os.Stat(filepath.Join(b.rootfs, "etc/new/file")); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("the destination of a file bind should be made a file: %v", err)
				}
			},
		},
		{
			name: "mounts proc",
			edit: func(t *testing.T, b *ociBundle) {
				b.mkdir(t, "/mnt/proc")
				addMount(b, specs.Mount{Destination: "/mnt/proc", Type: "proc", Source: "proc"})
			},
			// The container's own pid namespace: few processes (sbx has an
			// init of its own as pid 1, runc's is the command).
			script: `mi /proc; mi /mnt/proc; tr '\0' ' ' < /mnt/proc/$$/cmdline; echo; ls /mnt/proc | grep -c '^[0-9]'`,
			want:   `^sh -c .*\n[1-5]$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/proc", "proc")
				expectMount(t, out, "/mnt/proc", "proc")
			},
		},
		{
			// A fresh sysfs (possible with a network namespace of the
			// container's own) shows only the container's network devices.
			name: "mounts sysfs",
			edit: func(t *testing.T, b *ociBundle) {
				b.removeMount("/sys")
				addMount(b, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
			},
			script: `mi /sys; ls /sys/class/net | tr '\n' ' '; echo`,
			want:   `^lo $`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/sys", "sysfs", "ro", "nosuid", "noexec", "nodev")
			},
		},
		{
			name:   "mounts dev devpts shm mqueue sys",
			script: `for m in /dev /dev/pts /dev/shm /dev/mqueue /sys; do mi $m; done; for d in null zero full random urandom tty; do test -c /dev/$d && echo "dev $d"; done; test -e /dev/ptmx && echo "dev ptmx"; ls /dev/fd/ >/dev/null && echo "dev fd"; echo x > /dev/shm/x && echo shm-ok`,
			want:   `^dev null\ndev zero\ndev full\ndev random\ndev urandom\ndev tty\ndev ptmx\ndev fd\nshm-ok$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/dev", "tmpfs", "nosuid", "mode=755")
				expectMount(t, out, "/dev/pts", "devpts", "nosuid", "noexec")
				expectMount(t, out, "/dev/shm", "tmpfs", "nosuid", "noexec", "nodev")
				expectMount(t, out, "/dev/mqueue", "mqueue", "nosuid", "noexec", "nodev")
				expectMount(t, out, "/sys", "sysfs", "ro", "nosuid", "noexec", "nodev")
			},
		},
		{
			name: "linux.sysctl",
			edit: func(t *testing.T, b *ociBundle) {
				b.spec.Linux.Sysctl = map[string]string{"net.ipv4.ping_group_range": "0 0", "net.ipv4.ip_unprivileged_port_start": "80"}
			},
			script: `cat /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_unprivileged_port_start`,
			want:   `^0\s+0\n80$`,
		},
		{
			name: "linux.maskedPaths readonlyPaths",
			edit: func(t *testing.T, b *ociBundle) {
				b.writeFile(t, "/srv/secret-file", "secret\n", 0o644)
				b.writeFile(t, "/srv/secret-dir/f", "secret\n", 0o644)
				b.writeFile(t, "/srv/ro-dir/f", "kept\n", 0o644)
				b.writeFile(t, "/srv/rw-dir/f", "kept\n", 0o644)
				b.spec.Linux.MaskedPaths = append(b.spec.Linux.MaskedPaths, "/srv/secret-file", "/srv/secret-dir", "/srv/absent")
				b.spec.Linux.ReadonlyPaths = append(b.spec.Linux.ReadonlyPaths, "/srv/ro-dir", "/srv/absent-too")
			},
			// Masked: unreadable, or read empty (runc binds /dev/null and
			// an empty tmpfs); either way the content does not show.
			script: `mi /proc/sys; echo "file [$(cat /srv/secret-file 2>/dev/null)]"; echo "dir [$(ls -A /srv/secret-dir 2>/dev/null)]"; ` +
				`echo "keys $(cat /proc/keys 2>/dev/null | wc -c)"; cat /srv/ro-dir/f; touch /srv/ro-dir/new 2>/dev/null && echo ro-writable || echo ro-refused; ` +
				`touch /srv/rw-dir/new && echo rw-written; echo x > /srv/secret-file 2>/dev/null; echo "after [$(cat /srv/secret-file 2>/dev/null)]"`,
			want: `^file \[\]\ndir \[\]\nkeys 0\nkept\nro-refused\nrw-written\nafter \[\]$`,
			check: func(t *testing.T, b *ociBundle, out string) {
				expectMount(t, out, "/proc/sys", "", "ro")
				if got, _ := os.ReadFile(filepath.Join(b.rootfs, "srv/secret-file")); string(got) != "secret\n" {
					t.Errorf("a write to a masked file reached the file: %q", got)
				}
			},
		},
		{
			name: "linux.seccomp",
			edit: func(t *testing.T, b *ociBundle) {
				eperm := uint(syscall.EPERM)
				b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno,
						ErrnoRet: &eperm}},
				}
			},
			script: `grep ^Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; echo "mkdir rc=$?"; touch /tmp/f && echo touch-ok`,
			want:   `^Seccomp:\s+2\n.*Operation not permitted\nmkdir rc=1\ntouch-ok$`,
		},
		{
			// Without no_new_privs the filter goes in before the
			// runtime's last steps, which must not need what it
			// refuses (close_range here: a profile for an old kernel).
			name: "linux.seccomp without noNewPrivileges",
			edit: func(t *testing.T, b *ociBundle) {
				enosys := uint(syscall.ENOSYS)
				b.spec.Process.NoNewPrivileges = false
				b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"close_range"}, Action: specs.ActErrno,
						ErrnoRet: &enosys}},
				}
			},
			script: `grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; ls /proc/self/fd | tr '\n' ' '; echo`,
			want:   `^NoNewPrivs:\s+0\nSeccomp:\s+2\n0 1 2 3 $`,
		},
	}
}

// TestOCIBundleTerminal checks process.terminal with --console-socket:
// the runtime sends the pty master over the socket, and the process runs
// on its slave.
func TestOCIBundleTerminal(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	t.Run("create", func(t *testing.T) {
		b := e.bundle(t, `tty; test -t 0 && test -t 1 && test -t 2 && echo all-tty; echo hello`)
		b.spec.Process.Terminal = true
		b.write(t)
		id := ociID("tty")
		rt.deleteAtEnd(t, id)
		cs := listenOCIConsole(t)
		rt.run(t, "create", "--bundle", b.dir, "--console-socket", cs.path, id).expect(t, 0)
		master := cs.receive(t)
		rt.run(t, "start", id).expect(t, 0)
		out := ociReadPty(t, master)
		if !regexp.MustCompile(`^/dev/pts/\d+\r\nall-tty\r\nhello\r\n$`).MatchString(out) {
			t.Errorf("want the tty's name, all-tty and hello, through a pty (\\r\\n), got %q", out)
		}
		rt.waitStatus(t, id, "stopped")
	})
	t.Run("consoleSize", func(t *testing.T) {
		b := e.bundle(t, `stty size`)
		b.spec.Process.Terminal = true
		b.spec.Process.ConsoleSize = &specs.Box{Height: 33, Width: 101}
		b.write(t)
		id := ociID("ttysz")
		rt.deleteAtEnd(t, id)
		cs := listenOCIConsole(t)
		rt.run(t, "create", "--bundle", b.dir, "--console-socket", cs.path, id).expect(t, 0)
		master := cs.receive(t)
		rt.run(t, "start", id).expect(t, 0)
		if out := ociReadPty(t, master); out != "33 101\r\n" {
			t.Errorf("want the console size 33 101 of process.consoleSize, got %q", out)
		}
	})
	t.Run("exec", func(t *testing.T) {
		tok := token()
		b := e.bundle(t, "exec sleep "+tok)
		b.write(t)
		id := ociID("ttyx")
		rt.deleteAtEnd(t, id)
		rt.run(t, "run", "--detach", "--bundle", b.dir, id).expect(t, 0)
		p := specs.Process{Terminal: true, Args: []string{"sh", "-c", "tty; echo exec-hello"}, Env: []string{ociPath}, Cwd: "/"}
		data, _ := json.Marshal(p)
		pf := filepath.Join(b.dir, "process.json")
		if err := os.WriteFile(pf, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cs := listenOCIConsole(t)
		pidFile := filepath.Join(b.dir, "exec.pid")
		rt.run(t, "exec", "--process", pf, "--detach", "--tty", "--console-socket", cs.path, "--pid-file", pidFile, id).expect(t, 0)
		master := cs.receive(t)
		readPidFile(t, pidFile)
		out := ociReadPty(t, master)
		if !regexp.MustCompile(`^/dev/pts/\d+\r\nexec-hello\r\n$`).MatchString(out) {
			t.Errorf("want the tty's name and exec-hello through a pty, got %q", out)
		}
	})
}

// TestOCIBundleNamespacePath checks linux.namespaces[].path: the container
// joins a network namespace held by another process.
//
// A network namespace can be joined only by a process privileged over the
// user namespace that owns it. Rootless, that is possible two ways, both
// tested: the config joins that user namespace too ("user+net"), or the
// runtime itself runs in it and the config has no user namespace, which is
// what rootless podman does ("runtime in the owner").
func TestOCIBundleNamespacePath(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	unshare := requireTool(t, "unshare", "install util-linux")
	requireTool(t, "nsenter", "install util-linux")
	tok := token()
	holder := exec.Command(unshare, "--user", "--map-root-user", "--net", "sleep", tok)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	hpid := holder.Process.Pid
	waitCmdline(t, hpid, "sleep", tok)
	netns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", hpid))
	if err != nil {
		t.Fatal(err)
	}
	userns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", hpid))
	script := `readlink /proc/self/ns/net; readlink /proc/self/ns/user`

	t.Run("user+net", func(t *testing.T) {
		b := e.bundle(t, script)
		b.setNamespace(specs.UserNamespace, fmt.Sprintf("/proc/%d/ns/user", hpid), false)
		b.setNamespace(specs.NetworkNamespace, fmt.Sprintf("/proc/%d/ns/net", hpid), false)
		// The base mappings (0 to the test user) are the holder's, given
		// as runc 1.1 wants them (runc 1.2 checks they match): the runtime
		// must not try to write them.
		r := b.runAttached(t, "nsp")
		if got := lines(r.ok(t)); len(got) != 2 || got[0] != netns || got[1] != userns {
			t.Errorf("want the holder's %s and %s inside, got %q", netns, userns, got)
		}
	})
	t.Run("user+net without mappings", func(t *testing.T) {
		if !rt.sbx {
			t.Skip("runc 1.1 wants the mappings of a user namespace it joins")
		}
		b := e.bundle(t, script)
		b.setNamespace(specs.UserNamespace, fmt.Sprintf("/proc/%d/ns/user", hpid), false)
		b.setNamespace(specs.NetworkNamespace, fmt.Sprintf("/proc/%d/ns/net", hpid), false)
		b.spec.Linux.UIDMappings, b.spec.Linux.GIDMappings = nil, nil
		r := b.runAttached(t, "nspm")
		if got := lines(r.ok(t)); len(got) != 2 || got[0] != netns || got[1] != userns {
			t.Errorf("want the holder's %s and %s inside, got %q", netns, userns, got)
		}
	})
	t.Run("runtime in the owner", func(t *testing.T) {
		b := e.bundle(t, script)
		b.setNamespace(specs.UserNamespace, "", true)
		b.setNamespace(specs.NetworkNamespace, fmt.Sprintf("/proc/%d/ns/net", hpid), false)
		b.spec.Linux.UIDMappings, b.spec.Linux.GIDMappings = nil, nil
		b.write(t)
		id := ociID("nspo")
		// The runtime runs as root of the holder's user namespace, where
		// the test user's files belong to root.
		// --preserve-credentials: the test user is root there already,
		// and setgroups is denied in that namespace.
		nsenter := []string{"nsenter", "--user", "--preserve-credentials", "--target", strconv.Itoa(hpid), rt.path, "--root", rt.root}
		t.Cleanup(func() { exec.Command(nsenter[0], append(nsenter[1:], "delete", "--force", id)...).Run() })
		r := rt.call(t, ociCall{wrap: nsenter[:5], args: []string{"run", "--bundle", b.dir, id}})
		if got := lines(r.ok(t)); len(got) != 2 || got[0] != netns || got[1] != userns {
			t.Errorf("want the holder's %s and %s inside, got %q", netns, userns, got)
		}
	})
}

// TestOCIBundleHooks checks the hooks: each writes the state JSON it gets
// on stdin to a file, those of the runtime namespace in a host directory,
// startContainer (in the container namespace) in /out.
func TestOCIBundleHooks(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	hostHook := func(dir, name string) []specs.Hook {
		return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$0"/` + name + ".json", dir},
			Env: []string{"PATH=/usr/bin:/bin"}}}
	}
	// hookState reads the state a hook wrote to dir/name.json.
	hookState := func(t *testing.T, b *ociBundle, id, dir, name string) (ociState, bool) {
		data, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			return ociState{}, false
		}
		var s ociState
		if err := json.Unmarshal(data, &s); err != nil || s.ID != id || s.Bundle != b.dir {
			t.Errorf("hook %s: want the state JSON of %s (bundle %s) on stdin, got %q", name, id, b.dir, data)
		}
		return s, true
	}

	t.Run("runtime namespace", func(t *testing.T) {
		b := e.bundle(t, "echo ran > /out/ran; exec sleep "+token())
		hooks := filepath.Join(b.dir, "hooks")
		if err := os.Mkdir(hooks, 0o755); err != nil {
			t.Fatal(err)
		}
		b.spec.Hooks = &specs.Hooks{
			Prestart:      hostHook(hooks, "prestart"), //nolint:staticcheck // deprecated, still run by runtimes
			CreateRuntime: hostHook(hooks, "createRuntime"),
			Poststart:     hostHook(hooks, "poststart"),
			Poststop:      hostHook(hooks, "poststop"),
		}
		b.write(t)
		id := ociID("hooks")
		rt.deleteAtEnd(t, id)
		pidFile := filepath.Join(b.dir, "pid")
		expectHooks := func(when string, ran map[string]bool) {
			t.Helper()
			for name, want := range ran {
				if _, got := hookState(t, b, id, hooks, name); got != want {
					t.Errorf("%s: hook %s ran: %v, want %v", when, name, got, want)
				}
			}
		}

		rt.run(t, "create", "--bundle", b.dir, "--pid-file", pidFile, id).expect(t, 0)
		pid := readPidFile(t, pidFile)
		afterCreate := map[string]bool{"createRuntime": true, "prestart": true, "poststart": false, "poststop": false}
		if !rt.sbx {
			delete(afterCreate, "poststart") // runc 1.1 runs poststart in create, not in start
		}
		expectHooks("after create", afterCreate)
		for _, name := range []string{"createRuntime", "prestart"} {
			if s, _ := hookState(t, b, id, hooks, name); s.pid() != pid {
				t.Errorf("hook %s: want the container's pid %d in its state, got %+v", name, pid, s)
			}
		}

		rt.run(t, "start", id).expect(t, 0)
		b.waitOutFile(t, "ran")
		expectHooks("after start", map[string]bool{"poststart": true, "poststop": false})
		if s, _ := hookState(t, b, id, hooks, "poststart"); s.pid() != pid {
			t.Errorf("hook poststart: want the container's pid %d in its state, got %+v", pid, s)
		}

		rt.run(t, "kill", id, "KILL").expect(t, 0)
		rt.waitStatus(t, id, "stopped")
		rt.run(t, "delete", id).expect(t, 0)
		expectHooks("after delete", map[string]bool{"poststop": true})
		status := map[string]string{"createRuntime": "creating", "prestart": "creating", "poststart": "running", "poststop": "stopped"}
		if !rt.sbx {
			delete(status, "poststart") // runc 1.1: "created", as it runs in create
		}
		for name, want := range status {
			if s, _ := hookState(t, b, id, hooks, name); s.Status != want {
				t.Errorf("hook %s: want status %s in its state, got %+v", name, want, s)
			}
		}
	})

	t.Run("startContainer", func(t *testing.T) {
		b := e.bundle(t, "echo ran > /out/ran; exec sleep "+token())
		// Resolved and run in the container: the rootfs's sh, the
		// container's hostname.
		b.spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh",
			Args: []string{"sh", "-c", "hostname > /out/startContainer.host; grep -E '^(Uid|CapBnd|Seccomp):' /proc/self/status > /out/startContainer.status; cat > /out/startContainer.json"},
			Env:  []string{ociPath}}}}
		b.spec.Process.Args = []string{"/bin/sh", "-c", "grep -E '^(Uid|CapBnd|Seccomp):' /proc/self/status > /out/command.status; echo ran > /out/ran; exec sleep " + token()}
		eperm := uint(syscall.EPERM)
		b.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"kexec_load"}, Action: specs.ActErrno, ErrnoRet: &eperm}}}
		b.spec.Process.NoNewPrivileges = false
		b.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}}
		b.write(t)
		id := ociID("hookc")
		rt.deleteAtEnd(t, id)
		rt.run(t, "create", "--bundle", b.dir, id).expect(t, 0)
		time.Sleep(200 * time.Millisecond)
		if _, ran := hookState(t, b, id, b.out, "startContainer"); ran {
			t.Error("startContainer ran in create")
		}
		rt.run(t, "start", id).expect(t, 0)
		b.waitOutFile(t, "ran")
		if _, ran := hookState(t, b, id, b.out, "startContainer"); !ran {
			t.Error("startContainer did not run before the process")
		}
		if host, _ := b.outFile("startContainer.host"); host != "ocib\n" {
			t.Errorf("startContainer should run in the container's namespaces (hostname ocib), got hostname %q", host)
		}
		// As runc runs it: with the process's ids and bounding set, under
		// the filter (which goes in early without no_new_privs).
		hook, _ := b.outFile("startContainer.status")
		cmd, _ := b.outFile("command.status")
		if hook == "" || hook != cmd {
			t.Errorf("startContainer should run with the process's ids, capabilities and filter:\nhook:\n%s\nprocess:\n%s", hook, cmd)
		}
	})

	t.Run("failing createRuntime", func(t *testing.T) {
		b := e.bundle(t, "echo ran > /out/ran")
		b.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 3"}}}}
		b.write(t)
		id := ociID("hookf")
		rt.deleteAtEnd(t, id)
		rt.expectFail(t, rt.run(t, "create", "--bundle", b.dir, id))
		rt.run(t, "start", id) // must not run it either
		time.Sleep(200 * time.Millisecond)
		if _, ok := b.outFile("ran"); ok {
			t.Error("the process ran although a createRuntime hook failed")
		}
	})
}

// ociRefusedCase is a config field that sbx refuses: edit sets it and
// returns the JSON path the error must name. To move a field out once
// sbx supports it, delete its line here and add a case to
// ociFieldCases.
type ociRefusedCase struct {
	name string
	edit func(s *specs.Spec) string
	// skip returns why the case does not apply on this host, or "".
	skip func() string
	// ignored: sbx does not refuse it but ignores it with a warning, one
	// line naming the path, and the container runs (the issue's rule for
	// AppArmor and SELinux on a host without them).
	ignored bool
	// othersRefuse is true when runc refuses it too (with exit 1): the
	// case is checked against other runtimes only then.
	othersRefuse bool
}

func ociRefusedCases() []ociRefusedCase {
	apparmorOn := func() string {
		if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.TrimSpace(string(b)) == "Y" {
			return "AppArmor is enabled on this host"
		}
		return ""
	}
	selinuxOn := func() string {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
			return "SELinux is enabled on this host"
		}
		return ""
	}
	return []ociRefusedCase{
		{name: "intelRdt", othersRefuse: true, edit: func(s *specs.Spec) string {
			s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "ocib", L3CacheSchema: "L3:0=f"}
			return "linux.intelRdt"
		}},
		{name: "apparmorProfile", skip: apparmorOn, ignored: true, othersRefuse: true, edit: func(s *specs.Spec) string {
			s.Process.ApparmorProfile = "ocib-profile"
			return "process.apparmorProfile"
		}},
		{name: "selinuxLabel", skip: selinuxOn, ignored: true, othersRefuse: true, edit: func(s *specs.Spec) string {
			s.Process.SelinuxLabel = "system_u:system_r:container_t:s0"
			return "process.selinuxLabel"
		}},
		{name: "devices", edit: func(s *specs.Spec) string {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
			return "linux.devices"
		}},
		{name: "mount type", othersRefuse: true, edit: func(s *specs.Spec) string {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "ocibfs", Source: "none"})
			return fmt.Sprintf("mounts[%d]", len(s.Mounts)-1)
		}},
		{name: "solaris", edit: func(s *specs.Spec) string {
			s.Solaris = &specs.Solaris{Milestone: "svc:/milestone/container:default"}
			return "solaris"
		}},
		{name: "windows", edit: func(s *specs.Spec) string {
			s.Windows = &specs.Windows{LayerFolders: []string{`C:\layers\ocib`}}
			return "windows"
		}},
		{name: "vm", edit: func(s *specs.Spec) string {
			s.VM = &specs.VM{Kernel: specs.VMKernel{Path: "/boot/vmlinuz"}}
			return "vm"
		}},
		{name: "commandLine", edit: func(s *specs.Spec) string {
			s.Process.CommandLine = "cmd.exe /c echo"
			return "process.commandLine"
		}},
		{name: "mountLabel", skip: selinuxOn, ignored: true, othersRefuse: true, edit: func(s *specs.Spec) string {
			s.Linux.MountLabel = "system_u:object_r:container_file_t:s0"
			return "linux.mountLabel"
		}},
	}
}

// TestOCIBundleRefused checks that each field sbx cannot honour fails
// create with one line on stderr naming its JSON path (exit 125), before
// anything runs, and leaves no container; or, for the fields sbx ignores
// on this host, that it says so in one line and runs the container.
func TestOCIBundleRefused(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	for _, c := range ociRefusedCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.skip != nil {
				if why := c.skip(); why != "" {
					t.Skip(why)
				}
			}
			if !rt.sbx && !c.othersRefuse {
				t.Skipf("%s accepts it: the refusal is sbx's", filepath.Base(rt.path))
			}
			b := e.bundle(t, "echo ran > /out/ran")
			path := c.edit(b.spec)
			b.write(t)
			id := ociID("refused")
			rt.deleteAtEnd(t, id)
			if rt.sbx && c.ignored {
				r := rt.run(t, "run", "--bundle", b.dir, id)
				r.expect(t, 0)
				if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], path) {
					t.Errorf("want one warning line on stderr naming %s:\n%s", path, r)
				}
				if _, ok := b.outFile("ran"); !ok {
					t.Error("the process did not run")
				}
				return
			}
			r := rt.run(t, "create", "--bundle", b.dir, id)
			rt.expectFail(t, r)
			if _, ok := b.outFile("ran"); ok {
				t.Error("the process ran")
			}
			if !rt.sbx {
				return
			}
			if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], path) {
				t.Errorf("want one line on stderr naming %s:\n%s", path, r)
			}
			rt.expectNoContainer(t, id)
		})
	}
}

// TestOCIBundleSpecFeatures checks spec --rootless (its config runs once a
// rootfs is added) and features.
func TestOCIBundleSpecFeatures(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	rt := e.rt
	t.Run("spec", func(t *testing.T) {
		b := e.bundle(t, "")
		cfg := filepath.Join(b.dir, "config.json")
		rt.run(t, "spec", "--rootless", "--bundle", b.dir).expect(t, 0)
		data, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatalf("spec --rootless wrote no config.json: %v", err)
		}
		var s specs.Spec
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("spec --rootless: not a config: %v\n%s", err, data)
		}
		if s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil || !slices.Equal(s.Process.Args, []string{"sh"}) || s.Linux == nil {
			t.Fatalf("spec --rootless: want root.path rootfs, process.args [sh], a linux section:\n%s", data)
		}
		hasUser := slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		mapsMe := func(m []specs.LinuxIDMapping, id int) bool {
			return len(m) == 1 && m[0].ContainerID == 0 && m[0].HostID == uint32(id) && m[0].Size == 1
		}
		if !hasUser || !mapsMe(s.Linux.UIDMappings, os.Getuid()) || !mapsMe(s.Linux.GIDMappings, os.Getgid()) {
			t.Errorf("spec --rootless: want a user namespace mapping uid %d and gid %d to 0:\n%s", os.Getuid(), os.Getgid(), data)
		}
		// Run it as written, but for the command: no terminal here.
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		proc := raw["process"].(map[string]any)
		proc["terminal"] = false
		proc["args"] = []string{"sh", "-c", "echo spec-ok; id -u"}
		if data, err = json.Marshal(raw); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, data, 0o644); err != nil {
			t.Fatal(err)
		}
		id := ociID("spec")
		rt.deleteAtEnd(t, id)
		r := rt.run(t, "run", "--bundle", b.dir, id)
		if r.ok(t) != "spec-ok\n0\n" {
			t.Errorf("the spec's container should print spec-ok and uid 0:\n%s", r)
		}
	})
	t.Run("features", func(t *testing.T) {
		r := rt.run(t, "features")
		var f features.Features
		if err := json.Unmarshal([]byte(r.ok(t)), &f); err != nil {
			t.Fatalf("features: not JSON: %v\n%s", err, r)
		}
		semver := regexp.MustCompile(`^1\.\d+\.\d+`)
		if !semver.MatchString(f.OCIVersionMin) || !semver.MatchString(f.OCIVersionMax) {
			t.Errorf("features: want ociVersionMin and ociVersionMax (1.x.y), got %q and %q", f.OCIVersionMin, f.OCIVersionMax)
		}
		if f.Linux == nil || !slices.Contains(f.Linux.Namespaces, "user") {
			t.Errorf("features: want linux.namespaces with user:\n%s", r)
		}
	})
}

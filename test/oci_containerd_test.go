package test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test of sbx as the OCI runtime of containerd (issue #16): a private
// containerd of the host's (Debian's containerd 1.6, which `sudo make
// test` installs), started by the test as root with its own root, state,
// socket, configuration and log, runs the busybox image with its runc shim
// (io.containerd.runc.v2) pointed at the runtime under test (see
// ociRuntime), driven by ctr.
//
// containerd runs its runtime as root: this is the one test that needs
// root on the host, as its name says. scripts/test.sh runs it in a step of
// its own, as root (-test.run '^TestOCI.*AsRoot'), and leaves it out of
// the unprivileged run.
//
// The shim takes the runtime's path from its BinaryName option, and the
// runtime's --root from its Root option. containerd's config.toml sets
// those only for its CRI plugin's runtimes (Kubernetes); ctr sends them
// with each container, from --runc-binary and --runc-root, which is what
// the test does.

// containerdEnv is a containerd of the test's own.
type containerdEnv struct {
	dir       string // everything of this containerd's is under it
	sock      string // its socket
	namespace string // the containerd namespace of the test
	ctr       string // the ctr binary
	runtime   string // the OCI runtime under test
	runcRoot  string // the runtime's --root is runcRoot/namespace
	env       []string
}

// ctrArgv returns the command `ctr -a SOCK -n NAMESPACE args...`.
func (c *containerdEnv) ctrArgv(args ...string) []string {
	return append([]string{c.ctr, "-a", c.sock, "-n", c.namespace}, args...)
}

// run runs `ctr args...` to its end.
func (c *containerdEnv) run(t *testing.T, args ...string) cmdResult {
	t.Helper()
	return runClient(t, c.dir, c.env, c.ctrArgv(args...)...)
}

// runFlags are the flags of ctr run that make the shim use the runtime
// under test.
func (c *containerdEnv) runFlags() []string {
	return []string{"--runc-binary", c.runtime, "--runc-root", c.runcRoot}
}

// tasks returns the tasks of the namespace: id -> [pid, status].
func (c *containerdEnv) tasks(t *testing.T) map[string][2]string {
	t.Helper()
	r := c.run(t, "task", "ls")
	tasks := map[string][2]string{}
	for i, l := range lines(r.ok(t)) {
		f := strings.Fields(l)
		if i == 0 {
			continue // TASK PID STATUS
		}
		if len(f) != 3 {
			t.Fatalf("bad line %q of ctr task ls:\n%s", l, r)
		}
		tasks[f[0]] = [2]string{f[1], f[2]}
	}
	return tasks
}

// ids returns the first column of the listing `ctr args...` (containers,
// snapshots), without its header.
func (c *containerdEnv) ids(t *testing.T, args ...string) []string {
	t.Helper()
	var ids []string
	for i, l := range lines(c.run(t, args...).ok(t)) {
		if f := strings.Fields(l); i > 0 && len(f) > 0 {
			ids = append(ids, f[0])
		}
	}
	return ids
}

// waitTask waits until the task id has the status want.
func (c *containerdEnv) waitTask(t *testing.T, id, want string) [2]string {
	t.Helper()
	var task [2]string
	if !poll(30*time.Second, func() bool { task = c.tasks(t)[id]; return task[1] == want }) {
		t.Fatalf("task %s is %q, not %s, after 30 s", id, task, want)
	}
	return task
}

// startContainerd starts a private containerd, imports the busybox image
// into it and returns it; when the test ends, it removes every task,
// container, image and snapshot of the namespace, stops containerd and
// unmounts what is left mounted under its directory.
func startContainerd(t *testing.T) *containerdEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("TestOCIContainerdAsRoot runs containerd, which needs root: run it as root " +
			"(`sudo make test` runs it, as root, after the other integration tests)")
	}
	daemon := requireTool(t, "containerd", "sudo apt-get install containerd")
	requireTool(t, "containerd-shim-runc-v2", "sudo apt-get install containerd")
	c := &containerdEnv{
		ctr:       requireTool(t, "ctr", "sudo apt-get install containerd"),
		runtime:   ociRuntime(t),
		dir:       testDir(t),
		namespace: "sbxtest-" + token(),
		env:       []string{"PATH=" + imagePath},
	}
	c.sock = filepath.Join(c.dir, "c.sock")
	c.runcRoot = filepath.Join(c.dir, "runc")
	if len(c.sock)+len(".ttrpc") >= 108 {
		t.Fatalf("containerd's socket %s.ttrpc would be too long for a unix socket: set SBX_TEST_DIR to a shorter directory", c.sock)
	}
	config := filepath.Join(c.dir, "config.toml")
	// The CRI plugin (Kubernetes) is off: it wants CNI, and the test does
	// not use it. The opt plugin's directory (default /opt/containerd)
	// is the test's.
	if err := os.WriteFile(config, fmt.Appendf(nil, `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[debug]
  address = ""
  level = "debug"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(c.dir, "root"), filepath.Join(c.dir, "state"), c.sock, filepath.Join(c.dir, "opt")), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(c.dir, "containerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(daemon, "--config", config)
	cmd.Dir, cmd.Env = c.dir, c.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	logTail := func() string {
		b, _ := os.ReadFile(logPath)
		l := lines(string(b))
		return indent(strings.Join(l[max(0, len(l)-40):], "\n"))
	}
	// Registered before the cleanup of the namespace, so it runs after.
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("containerd did not stop within 15 s of SIGTERM: killed")
			cmd.Process.Kill()
			<-done
		}
		c.killShims(t)
		unmountUnder(t, c.dir)
		removeCgroups(t, c.namespace)
		if t.Failed() {
			t.Logf("containerd's log (%s), its end:\n%s", logPath, logTail())
		}
	})

	var last cmdResult
	if !poll(30*time.Second, func() bool {
		select {
		case <-done:
			t.Fatalf("containerd exited: %v; its log:\n%s", cmd.ProcessState, logTail())
		default:
		}
		last = runClient(t, c.dir, c.env, c.ctr, "-a", c.sock, "version")
		return last.code == 0
	}) {
		t.Fatalf("containerd did not answer within 30 s:\n%s\nits log:\n%s", last, logTail())
	}
	t.Cleanup(func() { c.cleanNamespace(t) })

	archive := filepath.Join(c.dir, "busybox-oci.tar")
	writeBusyboxOCIArchive(t, archive)
	c.run(t, "image", "import", "--base-name", "localhost/busybox", archive).ok(t)
	if images := c.ids(t, "image", "ls"); !slices.Contains(images, busyboxImageRef) {
		t.Fatalf("ctr image import did not make %s: images %v", busyboxImageRef, images)
	}
	return c
}

// cleanNamespace removes every task, container, image, snapshot and
// content blob of the test's namespace, and the namespace.
func (c *containerdEnv) cleanNamespace(t *testing.T) {
	for id := range c.tasks(t) {
		c.run(t, "task", "kill", "--signal", "SIGKILL", id)
		if r := c.run(t, "task", "delete", "--force", id); r.code != 0 {
			t.Errorf("delete the task %s:\n%s", id, r)
		}
	}
	for _, id := range c.ids(t, "container", "ls") {
		if r := c.run(t, "container", "delete", id); r.code != 0 {
			t.Errorf("delete the container %s:\n%s", id, r)
		}
	}
	for _, ref := range c.ids(t, "image", "ls") {
		c.run(t, "image", "delete", "--sync", ref)
	}
	for _, key := range c.ids(t, "snapshot", "ls") {
		c.run(t, "snapshot", "delete", key)
	}
	for _, d := range c.ids(t, "content", "ls") {
		c.run(t, "content", "delete", d)
	}
	if r := runClient(t, c.dir, c.env, c.ctr, "-a", c.sock, "namespace", "remove", c.namespace); r.code != 0 {
		t.Errorf("remove the namespace %s:\n%s", c.namespace, r)
	}
}

// killShims kills the shims of the test's namespace still running (each
// task's shim ends with the task: one left is a task that did not end).
func (c *containerdEnv) killShims(t *testing.T) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Error(err)
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) == "containerd-shim-runc-v2" && slices.Contains(args, c.namespace) {
			t.Errorf("a shim of the namespace %s outlived its tasks: killed: %q", c.namespace, args)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder detaches every mount below dir, the deepest first.
func unmountUnder(t *testing.T, dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		t.Logf("left mounted: %s: unmounting it", p)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", p, err)
		}
	}
}

// removeCgroups removes the cgroups containerd's runtime made for the
// namespace (its cgroupsPath is /NAMESPACE/ID): the directory NAMESPACE at
// the top of every cgroup hierarchy, and what is left below it (empty, once
// the tasks are gone).
func removeCgroups(t *testing.T, namespace string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return
	}
	for _, l := range lines(string(b)) {
		pre, post, ok := strings.Cut(l, " - ")
		fields, fsType := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(fsType) == 0 || (fsType[0] != "cgroup" && fsType[0] != "cgroup2") {
			continue
		}
		top := filepath.Join(fields[4], namespace)
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for _, d := range slices.Backward(dirs) {
			if err := os.Remove(d); err != nil {
				t.Errorf("remove the cgroup %s: %v", d, err)
			}
		}
	}
}

// TestOCIContainerdAsRoot runs containers with containerd's runc shim and
// the runtime under test: output and exit codes of ctr run, a missing
// command, exec in and kill of a detached task, signals to an attached one.
func TestOCIContainerdAsRoot(t *testing.T) {
	c := startContainerd(t)
	img := busyboxImageRef
	ctrRun := func(t *testing.T, flags []string, id string, cmd ...string) cmdResult {
		t.Helper()
		args := append(append(append([]string{"run"}, c.runFlags()...), flags...), img, id)
		return c.run(t, append(args, cmd...)...)
	}
	gone := func(t *testing.T, id string) {
		t.Helper()
		if ids := c.ids(t, "container", "ls"); slices.Contains(ids, id) {
			t.Errorf("container %s is still there after run --rm: %v", id, ids)
		}
		if keys := c.ids(t, "snapshot", "ls"); slices.Contains(keys, id) {
			t.Errorf("the snapshot of container %s is still there after run --rm: %v", id, keys)
		}
	}

	t.Run("run-rm", func(t *testing.T) {
		id := "rm-" + token()
		r := ctrRun(t, []string{"--rm"}, id, "sh", "-c", "echo hi; echo oops >&2; exit 3")
		r.expect(t, 3)
		if r.stdout != "hi\n" || !strings.Contains(r.stderr, "oops") {
			t.Fatalf("want stdout %q and oops on stderr:\n%s", "hi\n", r)
		}
		gone(t, id)
	})

	t.Run("env-cwd", func(t *testing.T) {
		id := "env-" + token()
		r := ctrRun(t, []string{"--rm", "--env", "FOO=bar baz", "--cwd", "/tmp"}, id,
			"sh", "-c", `echo "$FOO|$(pwd)|$(id -u):$(id -g)|$PATH"`)
		if want := "bar baz|/tmp|0:0|" + imagePath + "\n"; r.ok(t) != want {
			t.Fatalf("want stdout %q:\n%s", want, r)
		}
		gone(t, id)
	})

	t.Run("missing-command", func(t *testing.T) {
		// The runtime's error reaches ctr through the shim, which reads
		// the runtime's --log (JSON lines).
		id := "missing-" + token()
		r := ctrRun(t, []string{"--rm"}, id, "/nonexistent")
		if re := `(?i)/nonexistent.*no such file or directory`; r.code == 0 || !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Fatalf("want a failure, and stderr matching %s:\n%s", re, r)
		}
		gone(t, id)
	})

	t.Run("detached-exec-kill", func(t *testing.T) {
		id, tok := "detached-"+token(), token()
		ctrRun(t, []string{"--detach"}, id, "sh", "-c", "echo "+tok+" > /marker; exec sleep "+tok).ok(t)
		task := c.waitTask(t, id, "RUNNING")
		// The runtime keeps its records under the --root the shim gave it.
		if entries, err := os.ReadDir(filepath.Join(c.runcRoot, c.namespace)); err != nil || len(entries) == 0 {
			t.Errorf("the runtime's --root %s is empty or missing while a task runs (%v): was the runtime under test used?",
				filepath.Join(c.runcRoot, c.namespace), err)
		}
		var last cmdResult
		if !poll(10*time.Second, func() bool {
			last = c.run(t, "task", "exec", "--exec-id", "cat-"+token(), id, "cat", "/marker")
			return last.code == 0
		}) {
			t.Fatalf("task exec cat /marker did not succeed within 10 s:\n%s", last)
		}
		if last.stdout != tok+"\n" {
			t.Fatalf("task exec: want the container's /marker %q:\n%s", tok+"\n", last)
		}
		c.run(t, "task", "exec", "--exec-id", "exit-"+token(), id, "sh", "-c", "exit 7").expect(t, 7)
		// ctr task ps: the runtime's ps --format json; the task's pid is
		// among the host pids it lists.
		r := c.run(t, "task", "ps", id)
		if pids := c.firstColumn(r); !slices.Contains(pids, task[0]) {
			t.Errorf("ctr task ps does not list the task's pid %s:\n%s", task[0], r)
		}
		c.run(t, "task", "kill", "--signal", "SIGKILL", id).ok(t)
		c.waitTask(t, id, "STOPPED")
		c.run(t, "task", "delete", id)
		if _, ok := c.tasks(t)[id]; ok {
			t.Fatalf("task %s is still listed after ctr task delete", id)
		}
		c.run(t, "container", "delete", id).ok(t)
		gone(t, id)
	})

	t.Run("signals", func(t *testing.T) {
		for _, s := range []struct {
			name, signal, script string
			code                 int
		}{
			{"kill", "SIGKILL", "echo ready; exec sleep " + token(), 137},
			{"term-handled", "SIGTERM", `trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done`, 42},
		} {
			t.Run(s.name, func(t *testing.T) {
				id := s.name + "-" + token()
				args := append(append(append([]string{"run"}, c.runFlags()...), "--rm"), img, id, "sh", "-c", s.script)
				run := startClient(t, c.dir, c.env, c.ctrArgv(args...)...)
				run.waitLine(t, "ready")
				c.run(t, "task", "kill", "--signal", s.signal, id).ok(t)
				run.wait(t).expect(t, s.code)
				gone(t, id)
			})
		}
	})
}

// firstColumn returns the first field of each line of r's stdout but the
// header.
func (c *containerdEnv) firstColumn(r cmdResult) []string {
	var col []string
	for i, l := range lines(r.stdout) {
		if f := strings.Fields(l); i > 0 && len(f) > 0 {
			col = append(col, f[0])
		}
	}
	return col
}

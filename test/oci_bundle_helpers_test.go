package test

// Helpers of the bundle-level OCI runtime tests (oci_bundle_test.go): they
// write bundles (a busybox rootfs and a config.json) and drive the runtime
// under test with runc's command line, as podman and containerd's shim do,
// without either of them.
//
// The runtime under test is $SBX_OCI_RUNTIME if set (e.g. /usr/sbin/runc,
// to check the tests themselves), else the sbx binary ($SBX_BINARY). Every
// call passes --root, a directory of the test, so that tests see only their
// own containers.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// bundleRuntime is the OCI runtime under test, with a records directory of
// its own (--root) for one test.
type bundleRuntime struct {
	path string
	root string // passed as --root
	logs string // where each call's stdout and stderr go
	// sbx is true when the runtime is sbx: sbx's own promises (exit 125,
	// one-line refusals) are checked only then.
	sbx bool
	// failCode is the exit code of a failed command: 125 for sbx, -1 for
	// other runtimes, meaning any non-zero code (runc exits 1).
	failCode int
	// seq numbers the calls, for the names of their output files.
	mu  sync.Mutex
	seq int
}

// newOCIRuntime returns the runtime under test with fresh records.
func newOCIRuntime(t *testing.T) *bundleRuntime {
	t.Helper()
	// As an unprivileged user, as every integration test but those
	// named AsRoot (sbxBinary refuses root).
	var sbxPath string
	if strings.HasSuffix(t.Name(), "AsRoot") || strings.Contains(t.Name(), "AsRoot/") {
		sbxPath = ociRuntime(t)
	} else {
		sbxPath = sbxBinary(t)
	}
	rt := &bundleRuntime{path: sbxPath, sbx: true, failCode: 125}
	if p := os.Getenv(ociRuntimeEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		rt.path = abs
		rt.sbx = ociSameFile(abs, sbxPath)
		if !rt.sbx {
			rt.failCode = -1
		}
	}
	dir := testDir(t)
	rt.root, rt.logs = filepath.Join(dir, "root"), filepath.Join(dir, "logs")
	for _, d := range []string{rt.root, rt.logs} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return rt
}

func ociSameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// ociResult is what one call of the runtime gave. Its stdout and stderr
// are files, not pipes: a container made by create or run --detach keeps
// the runtime's stdio, and a pipe would keep the call from ending.
type ociResult struct {
	result
	outPath string // the file of the call's stdout: a detached container's output goes on there
}

// ociCall describes one call of the runtime.
type ociCall struct {
	args    []string
	wrap    []string  // a command (and its arguments) that runs the runtime, e.g. nsenter
	stdin   io.Reader // nil means /dev/null
	extra   []*os.File
	timeout time.Duration
}

// run calls the runtime with args after --root.
func (rt *bundleRuntime) run(t *testing.T, args ...string) ociResult {
	t.Helper()
	return rt.call(t, ociCall{args: args})
}

func (rt *bundleRuntime) call(t *testing.T, c ociCall) ociResult {
	t.Helper()
	rt.mu.Lock()
	rt.seq++
	n := rt.seq
	rt.mu.Unlock()
	name := strconv.Itoa(n)
	if len(c.args) > 0 {
		name += "-" + unsafeName.ReplaceAllString(c.args[0], "_")
	}
	outPath := filepath.Join(rt.logs, name+".out")
	errPath := filepath.Join(rt.logs, name+".err")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	timeout := c.timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"--root", rt.root}, c.args...)
	argv := append(append(slices.Clone(c.wrap), rt.path), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = rt.logs
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.stdin, out, errf
	cmd.ExtraFiles = c.extra
	err = cmd.Run()
	r := ociResult{result: result{args: argv, dir: rt.logs}, outPath: outPath}
	r.code, r.signal = exitStatus(t, err, cmd)
	r.stdout, r.stderr = ociReadFile(outPath), ociReadFile(errPath)
	if ctx.Err() != nil {
		t.Fatalf("the runtime did not end within %v and was killed:\n%s", timeout, r)
	}
	return r
}

func ociReadFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// expectFail fails the test unless r is a failure: exit 125 for sbx, any
// non-zero code for others.
func (rt *bundleRuntime) expectFail(t *testing.T, r ociResult) {
	t.Helper()
	if rt.failCode >= 0 && r.code != rt.failCode || r.code == 0 {
		want := "a non-zero exit"
		if rt.failCode >= 0 {
			want = fmt.Sprintf("exit %d", rt.failCode)
		}
		t.Fatalf("want %s, got:\n%s", want, r)
	}
}

// deleteAtEnd removes the container id when the test ends, whatever its state
// (delete --force), without failing the test.
func (rt *bundleRuntime) deleteAtEnd(t *testing.T, id string) {
	t.Cleanup(func() {
		cmd := exec.Command(rt.path, "--root", rt.root, "delete", "--force", id)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("clean-up: delete --force %s: %v\n%s", id, err, out)
		}
	})
}

// ociState is the OCI state JSON; Pid is a pointer to tell 0 from absent.
type ociState struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         *int              `json:"pid"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}

func (s ociState) pid() int {
	if s.Pid == nil {
		return 0
	}
	return *s.Pid
}

// state runs `state id` and decodes it.
func (rt *bundleRuntime) state(t *testing.T, id string) ociState {
	t.Helper()
	r := rt.run(t, "state", id)
	r.expect(t, 0)
	var s ociState
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("state %s: not JSON: %v\n%s", id, err, r)
	}
	if s.ID != id || s.Version == "" {
		t.Fatalf("state %s: want id %q and an ociVersion, got:\n%s", id, id, r)
	}
	return s
}

// waitStatus polls `state id` until its status is want.
func (rt *bundleRuntime) waitStatus(t *testing.T, id, want string) ociState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := rt.state(t, id)
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s: status stayed %q, want %q", id, s.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectNoContainer checks that `state id` fails saying it does not exist.
func (rt *bundleRuntime) expectNoContainer(t *testing.T, id string) {
	t.Helper()
	r := rt.run(t, "state", id)
	rt.expectFail(t, r)
	if !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("state of a missing container: stderr should say it does not exist:\n%s", r)
	}
}

// ociID returns a container id unique on the machine, for a test.
func ociID(name string) string {
	return "ocib-" + name + "-" + token()
}

// ociEnv is what the tests of one top-level test share: the runtime with
// its records, and a copy of busybox that each bundle's rootfs hard-links.
type ociEnv struct {
	rt      *bundleRuntime
	dir     string
	busybox string
	applets []string
}

// newOCIEnv makes the runtime's records and the busybox template.
func newOCIEnv(t *testing.T) *ociEnv {
	t.Helper()
	bb := requireTool(t, "busybox", "install busybox-static (`apt-get install busybox-static`)")
	if out, err := exec.Command("file", "-L", bb).Output(); err == nil && !bytes.Contains(out, []byte("statically linked")) &&
		!bytes.Contains(out, []byte("static-pie")) {
		t.Fatalf("%s is not statically linked: install busybox-static\n%s", bb, out)
	}
	e := &ociEnv{rt: newOCIRuntime(t), dir: testDir(t)}
	e.busybox = filepath.Join(e.dir, "busybox")
	copyFile(t, bb, e.busybox, 0o755)
	// The host's busybox lists the applets: a copy just written may
	// still be open for writing in a process forked meanwhile (ETXTBSY).
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !strings.Contains(a, "/") {
			e.applets = append(e.applets, a)
		}
	}
	return e
}

// ociBundle is one bundle: its directory, its rootfs, a host directory
// bound read-write at /out in the container, and the config to write.
type ociBundle struct {
	env    *ociEnv
	dir    string
	rootfs string
	out    string
	spec   *specs.Spec
}

// ociPath is the PATH of the containers.
const ociPath = "PATH=/bin:/sbin:/usr/bin:/usr/sbin"

// bundle makes a bundle whose process runs `sh -c script`. The config is
// written by write, after the test's edits.
func (e *ociEnv) bundle(t *testing.T, script string) *ociBundle {
	t.Helper()
	dir := testDir(t)
	b := &ociBundle{env: e, dir: dir, rootfs: filepath.Join(dir, "rootfs"), out: filepath.Join(dir, "out")}
	for _, d := range []string{"out", "rootfs", "rootfs/bin", "rootfs/sbin", "rootfs/usr/bin", "rootfs/usr/sbin",
		"rootfs/etc", "rootfs/proc", "rootfs/sys", "rootfs/dev", "rootfs/tmp", "rootfs/root", "rootfs/out",
		"rootfs/mnt", "rootfs/srv", "rootfs/home/user"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(b.rootfs, "tmp"), 0o1777)
	if err := os.Link(e.busybox, filepath.Join(b.rootfs, "bin/busybox")); err != nil {
		t.Fatalf("hard-link busybox into the rootfs: %v", err)
	}
	for _, a := range e.applets {
		if err := os.Symlink("busybox", filepath.Join(b.rootfs, "bin", a)); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
	b.writeFile(t, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"+
		"nobody:x:65534:65534:nobody:/:/bin/false\n", 0o644)
	b.writeFile(t, "/etc/group", "root:x:0:\nwheel:x:10:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\n", 0o644)
	b.spec = ociBaseSpec([]string{"sh", "-c", script})
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: b.out,
		Options: []string{"rbind", "rw"}})
	return b
}

// writeFile writes a file of the rootfs (path is the container's).
func (b *ociBundle) writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(b.rootfs, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// mkdir makes a directory of the rootfs (path is the container's).
func (b *ociBundle) mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(b.rootfs, path), 0o755); err != nil {
		t.Fatal(err)
	}
}

// write writes config.json from b.spec.
func (b *ociBundle) write(t *testing.T) {
	t.Helper()
	data, err := json.MarshalIndent(b.spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// outFile reads a file the container wrote in /out ("" if it is absent).
func (b *ociBundle) outFile(name string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(b.out, name))
	return string(data), err == nil
}

// waitOutFile waits until the container has written /out/name.
func (b *ociBundle) waitOutFile(t *testing.T, name string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s, ok := b.outFile(name); ok {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not write /out/%s within 10s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runAttached writes the config and runs the container attached (`run
// --bundle DIR ID`): the result's stdout is the container's.
func (b *ociBundle) runAttached(t *testing.T, name string) ociResult {
	t.Helper()
	b.write(t)
	id := ociID(name)
	b.env.rt.deleteAtEnd(t, id)
	return b.env.rt.run(t, "run", "--bundle", b.dir, id)
}

// The runtime-spec's default masked and read-only paths (runc spec).
var (
	ociDefaultMasked = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}
	ociDefaultReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	ociDefaultCaps     = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
)

// ociBaseSpec is a rootless config: a user namespace mapping the caller's
// uid and gid to 0 (size 1), new pid, ipc, uts, mount and network
// namespaces, runc's default mounts but /sys as a read-only rbind of the
// host's and no cgroup, the default masked and read-only paths.
func ociBaseSpec(args []string) *specs.Spec {
	caps := func() []string { return append([]string(nil), ociDefaultCaps...) }
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: args,
			Env:  []string{ociPath, "HOME=/root"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps(), Effective: caps(), Permitted: caps(),
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "ocib",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "none", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getgid()), Size: 1}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.UserNamespace}, {Type: specs.NetworkNamespace},
			},
			MaskedPaths:   append([]string(nil), ociDefaultMasked...),
			ReadonlyPaths: append([]string(nil), ociDefaultReadonly...),
		},
	}
}

// setNamespace replaces (or adds) the namespace of type typ; path "" is a
// new one. remove drops it.
func (b *ociBundle) setNamespace(typ specs.LinuxNamespaceType, path string, remove bool) {
	ns := b.spec.Linux.Namespaces[:0]
	for _, n := range b.spec.Linux.Namespaces {
		if n.Type != typ {
			ns = append(ns, n)
		}
	}
	if !remove {
		ns = append(ns, specs.LinuxNamespace{Type: typ, Path: path})
	}
	b.spec.Linux.Namespaces = ns
}

// removeMount drops the mounts on dst.
func (b *ociBundle) removeMount(dst string) {
	ms := b.spec.Mounts[:0]
	for _, m := range b.spec.Mounts {
		if m.Destination != dst {
			ms = append(ms, m)
		}
	}
	b.spec.Mounts = ms
}

// ociConsole listens on a unix socket for a runtime's --console-socket:
// the runtime connects and sends the pty master with SCM_RIGHTS.
type ociConsole struct {
	path   string
	ln     *net.UnixListener
	master chan *os.File
	err    chan error
}

func listenOCIConsole(t *testing.T) *ociConsole {
	t.Helper()
	path := filepath.Join(testDir(t), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("listen on %s: %v", path, err)
	}
	cs := &ociConsole{path: path, ln: ln, master: make(chan *os.File, 1), err: make(chan error, 1)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		f, err := cs.accept()
		if err != nil {
			cs.err <- err
			return
		}
		cs.master <- f
	}()
	return cs
}

func (cs *ociConsole) accept() (*os.File, error) {
	conn, err := cs.ln.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("read the console socket: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("parse the control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		rights, err := unix.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, rights...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("want one descriptor on the console socket, got %d (data %q)", len(fds), buf[:n])
	}
	// Non-blocking, so that Close ends a pending Read.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// receive waits for the pty master.
func (cs *ociConsole) receive(t *testing.T) *os.File {
	t.Helper()
	select {
	case f := <-cs.master:
		t.Cleanup(func() { f.Close() })
		return f
	case err := <-cs.err:
		t.Fatal(err)
	case <-time.After(defaultTimeout):
		t.Fatalf("no pty master on the console socket within %v", defaultTimeout)
	}
	return nil
}

// ociReadPty reads the pty master until the slave's last holder closes it
// (EIO), for at most the default timeout.
func ociReadPty(t *testing.T, master *os.File) string {
	t.Helper()
	var buf bytes.Buffer
	done := make(chan error, 1)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			buf.Write(b[:n])
			if err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(defaultTimeout):
		master.Close()
		<-done
		t.Fatalf("the pty did not reach its end within %v; so far:\n%s", defaultTimeout, indent(buf.String()))
	}
	return buf.String()
}

// ociStatusField returns the value of a "Name:\tvalue" line of a
// /proc/PID/status the container printed, or "" if absent.
func ociStatusField(out, name string) string {
	for _, l := range lines(out) {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

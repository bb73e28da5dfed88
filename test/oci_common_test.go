package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// What the tests of sbx as an OCI runtime (TestOCI*) share: the runtime
// they hand to podman and containerd, and the busybox image they run, made
// here from the host's busybox-static (no registry is reachable).

// ociRuntimeEnv names an OCI runtime to test in place of sbx: with
// SBX_OCI_RUNTIME=/usr/sbin/runc the TestOCI tests check themselves
// against runc.
const ociRuntimeEnv = "SBX_OCI_RUNTIME"

// ociRuntime returns the absolute path of the OCI runtime that podman and
// containerd are told to use: $SBX_OCI_RUNTIME when set, else the sbx under
// test ($SBX_BINARY, default ../bin/sbx). Unlike sbxBinary it does not
// refuse root: containerd runs its runtime as root.
func ociRuntime(t *testing.T) string {
	t.Helper()
	p, name := os.Getenv(ociRuntimeEnv), ociRuntimeEnv
	if p == "" {
		p, name = os.Getenv("SBX_BINARY"), "SBX_BINARY"
		if p == "" {
			p = filepath.Join("..", "bin", "sbx")
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("OCI runtime %s is not an executable file (%v): build sbx with `make build`, or set %s", abs, err, name)
	}
	return abs
}

// busyboxImageRef is the name the tests give the busybox image, in podman
// and in containerd.
const busyboxImageRef = "localhost/busybox:latest"

// imagePath is the PATH of the busybox image.
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// hostBusybox returns the path of the host's busybox, failing the test,
// naming the fix, unless it is there and statically linked (the image has
// no libc).
func hostBusybox(t *testing.T) string {
	t.Helper()
	p := requireTool(t, "busybox", "sudo apt-get install busybox-static")
	f, err := elf.Open(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked, and the tests' image has no libc: sudo apt-get install busybox-static", p)
		}
	}
	return p
}

// writeBusyboxRootfs writes to w the tar of a minimal root filesystem,
// every entry owned by 0:0: /bin/busybox (the host's, static), one
// symbolic link per applet where `busybox --list-full` puts it, /etc/passwd
// with root and nobody, /etc/group, and the usual empty directories.
func writeBusyboxRootfs(t *testing.T, w io.Writer) {
	t.Helper()
	bb := hostBusybox(t)
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		t.Fatalf("%s --list-full: %v", bb, err)
	}
	applets := lines(string(out))
	if len(applets) < 100 {
		t.Fatalf("%s --list-full lists only %d applets:\n%s", bb, len(applets), out)
	}

	dirs := map[string]int64{
		"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755,
		"root": 0o700, "run": 0o755, "sbin": 0o755, "sys": 0o755, "tmp": 0o1777,
		"usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755, "var/tmp": 0o1777,
	}
	for _, a := range applets {
		for d := path.Dir(a); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tw := tar.NewWriter(w)
	write := func(h *tar.Header, body []byte) {
		h.ModTime, h.Uid, h.Gid, h.Format = mtime, 0, 0, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	slices.Sort(names) // parents first
	for _, d := range names {
		write(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: dirs[d]}, nil)
	}
	write(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))}, bin)
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for _, name := range []string{"etc/group", "etc/passwd"} {
		write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(files[name]))}, []byte(files[name]))
	}
	seen := map[string]bool{"bin/busybox": true}
	for _, a := range applets {
		a = strings.TrimPrefix(a, "/")
		if seen[a] {
			continue
		}
		seen[a] = true
		write(&tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", Mode: 0o777}, nil)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeBusyboxRootfsFile writes the root filesystem's tar (see
// writeBusyboxRootfs) to the file name.
func writeBusyboxRootfsFile(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	writeBusyboxRootfs(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// ociDescriptor is an OCI content descriptor (image-spec).
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// writeBusyboxOCIArchive writes to the file name the busybox image as an
// OCI image layout in a tar (what `ctr image import` takes): one gzipped
// layer, the root filesystem of writeBusyboxRootfs, a config with PATH and
// the command sh, and an index whose one manifest is tagged "latest"
// (org.opencontainers.image.ref.name), so that `ctr image import
// --base-name localhost/busybox` names it busyboxImageRef.
func writeBusyboxOCIArchive(t *testing.T, name string) {
	t.Helper()
	var layer bytes.Buffer
	writeBusyboxRootfs(t, &layer)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(layer.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	digest := func(b []byte) string {
		sum := sha256.Sum256(b)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	config := mustJSON(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Env": []string{"PATH=" + imagePath}, "Cmd": []string{"sh"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest(layer.Bytes())}},
	})
	manifest := mustJSON(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        ociDescriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digest(config), Size: int64(len(config))},
		"layers":        []ociDescriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: digest(gz.Bytes()), Size: int64(gz.Len())}},
	})
	index := mustJSON(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []ociDescriptor{{
			MediaType:   "application/vnd.oci.image.manifest.v1+json",
			Digest:      digest(manifest),
			Size:        int64(len(manifest)),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": "latest"},
		}},
	})

	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	add := func(name string, body []byte) {
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if body == nil {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	add("blobs/", nil)
	add("blobs/sha256/", nil)
	for _, b := range [][]byte{config, manifest, gz.Bytes()} {
		add("blobs/sha256/"+strings.TrimPrefix(digest(b), "sha256:"), b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// cmdResult is what one run of a client (podman, ctr) gave.
type cmdResult struct {
	args   []string
	stdout string
	stderr string
	code   int // exit code, or exitSignaled
}

func (r cmdResult) String() string {
	return fmt.Sprintf("%s\nexit: %d\nstdout:\n%s\nstderr:\n%s",
		shellQuote(r.args), r.code, indent(r.stdout), indent(r.stderr))
}

// expect fails the test unless the client exited with code.
func (r cmdResult) expect(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
}

// ok fails the test unless the client exited 0, and returns its stdout.
func (r cmdResult) ok(t *testing.T) string {
	t.Helper()
	r.expect(t, 0)
	return r.stdout
}

// clientTimeout bounds one run of a client.
const clientTimeout = 90 * time.Second

// client runs argv[0] with argv[1:] in dir with the environment env, stdin
// /dev/null, to its end, and returns what it gave. It fails the test if
// the client cannot be started or does not end within clientTimeout.
func runClient(t *testing.T, dir string, env []string, argv ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cmdResult{args: argv, stdout: stdout.String(), stderr: stderr.String()}
	r.code, _ = exitStatus(t, err, cmd)
	if ctx.Err() != nil {
		t.Fatalf("did not end within %v and was killed:\n%s", clientTimeout, r)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("exited but its stdout or stderr stayed open for %v:\n%s", waitDelay, r)
	}
	return r
}

// clientProcess is a client started in the background.
type clientProcess struct {
	args   []string
	cmd    *exec.Cmd
	stdout *lineBuffer
	stderr *lineBuffer
	done   chan struct{}
	err    error // of cmd.Wait, once done is closed
}

// startClient starts argv in the background (see runClient); it is killed
// when the test ends, if it still runs.
func startClient(t *testing.T, dir string, env []string, argv ...string) *clientProcess {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = waitDelay
	p := &clientProcess{args: argv, cmd: cmd, stdout: newLineBuffer(), stderr: newLineBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", shellQuote(argv), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *clientProcess) result(t *testing.T) cmdResult {
	t.Helper()
	r := cmdResult{args: p.args, stdout: p.stdout.String(), stderr: p.stderr.String()}
	r.code, _ = exitStatus(t, p.err, p.cmd)
	return r
}

// waitLine waits until the client prints the line want on its stdout.
func (p *clientProcess) waitLine(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(clientTimeout)
	for {
		select {
		case l := <-p.stdout.lines:
			if strings.TrimSuffix(l, "\r") == want {
				return
			}
		case <-p.done:
			t.Fatalf("ended before printing %q:\n%s", want, p.result(t))
		case <-deadline:
			t.Fatalf("did not print %q within %v:\n%s\nstdout:\n%s\nstderr:\n%s", want, clientTimeout,
				shellQuote(p.args), indent(p.stdout.String()), indent(p.stderr.String()))
		}
	}
}

// wait waits for the client to end and returns what it gave.
func (p *clientProcess) wait(t *testing.T) cmdResult {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(clientTimeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("did not end within %v and was killed:\n%s", clientTimeout, p.result(t))
	}
	return p.result(t)
}

// poll calls cond every 100 ms until it returns true, for at most d, and
// reports whether it did.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

package test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// defaultTimeout bounds one run of sbx.
	defaultTimeout = 30 * time.Second
	// waitDelay is how long a run may keep sbx's stdout or stderr open
	// after sbx itself has exited: anything still holding them then is a
	// process that outlived its sandbox.
	waitDelay = 5 * time.Second
	// exitSignaled is result.code when sbx itself was killed by a signal.
	exitSignaled = -1
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// sbxBinary returns the absolute path of the sbx binary under test. It fails
// the test when run as root, or when the binary is missing.
func sbxBinary(t *testing.T) string {
	t.Helper()
	if os.Getuid() == 0 || os.Geteuid() == 0 {
		t.Fatal("integration tests must run as an unprivileged user: use `make test` " +
			"(as root it sets up the user sbxtest and runs them as that user)")
	}
	binaryOnce.Do(func() {
		p := os.Getenv("SBX_BINARY")
		if p == "" {
			p = filepath.Join("..", "bin", "sbx")
		}
		if binaryPath, binaryErr = filepath.Abs(p); binaryErr != nil {
			return
		}
		fi, err := os.Stat(binaryPath)
		switch {
		case err != nil:
			binaryErr = err
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			binaryErr = fmt.Errorf("%s is not an executable file", binaryPath)
		}
	})
	if binaryErr != nil {
		t.Fatalf("sbx binary: %v: build it with `make build`, or set SBX_BINARY", binaryErr)
	}
	return binaryPath
}

// testBase is the directory under which the tests make their working
// directories.
func testBase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SBX_TEST_DIR")
	if base == "" {
		base = "/var/tmp"
	}
	base, err := filepath.Abs(base)
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(base); err == nil {
		base = real
	}
	if base == "/tmp" || strings.HasPrefix(base, "/tmp/") {
		t.Fatalf("SBX_TEST_DIR=%s is under /tmp, which sbx hides behind a fresh tmpfs: "+
			"pick a directory elsewhere (e.g. /var/tmp)", base)
	}
	return base
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// testDir creates an empty directory, owned by the test user and not under
// /tmp, removed when the test ends. Its path has no symbolic links.
func testDir(t *testing.T) string {
	t.Helper()
	name := unsafeName.ReplaceAllString(t.Name(), "_")
	// Short enough that a unix socket in it stays under the kernel's 108
	// bytes with a long SBX_TEST_DIR.
	if len(name) > 40 {
		name = name[:40]
	}
	dir, err := os.MkdirTemp(testBase(t), "sbx-"+name+"-")
	if err != nil {
		t.Fatalf("make a test directory: %v", err)
	}
	t.Cleanup(func() {
		// Make everything removable first: a test may leave a read-only
		// directory behind.
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove test directory: %v", err)
		}
	})
	return dir
}

// token returns a string that no other process on the machine has in its
// command line: a large number, usable as an argument of sleep.
func token() string {
	return strconv.FormatUint(800_000_000+rand.Uint64N(100_000_000), 10)
}

// result is what one run of sbx gave.
type result struct {
	args   []string
	dir    string
	stdout string
	stderr string
	code   int // exit code, or exitSignaled
	signal syscall.Signal
}

func (r result) String() string {
	code := strconv.Itoa(r.code)
	if r.code == exitSignaled {
		code = "killed by " + r.signal.String()
	}
	return fmt.Sprintf("sbx %s (in %s)\nexit: %s\nstdout:\n%s\nstderr:\n%s",
		shellQuote(r.args), r.dir, code, indent(r.stdout), indent(r.stderr))
}

// expect fails the test unless sbx exited with code.
func (r result) expect(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
}

// ok fails the test unless sbx exited 0, and returns its stdout.
func (r result) ok(t *testing.T) string {
	t.Helper()
	r.expect(t, 0)
	return r.stdout
}

// lines splits s into lines, without the empty string after a final newline.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// sections splits the output of a script that prints "---" lines between
// its parts.
func sections(t *testing.T, r result, n int) []string {
	t.Helper()
	parts := strings.Split(r.stdout, "---\n")
	if len(parts) != n {
		t.Fatalf("want %d sections separated by ---, got %d:\n%s", n, len(parts), r)
	}
	return parts
}

func indent(s string) string {
	if s == "" {
		return "\t(empty)"
	}
	return "\t" + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n\t")
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`;&|<>(){}*?[]#~!") {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// invocation describes one run of sbx.
type invocation struct {
	args    []string      // arguments of sbx: "run", flags, "--", command...
	dir     string        // working directory; "" means a fresh testDir
	stdin   io.Reader     // nil means /dev/null
	env     []string      // nil means the test's own environment
	extra   []*os.File    // passed as fds 3, 4, ...
	timeout time.Duration // 0 means defaultTimeout
}

func (inv invocation) command(t *testing.T, ctx context.Context) (*exec.Cmd, string) {
	t.Helper()
	dir := inv.dir
	if dir == "" {
		dir = testDir(t)
	}
	cmd := exec.CommandContext(ctx, sbxBinary(t), inv.args...)
	cmd.Dir = dir
	cmd.Env = inv.env
	cmd.Stdin = inv.stdin
	cmd.ExtraFiles = inv.extra
	cmd.WaitDelay = waitDelay
	return cmd, dir
}

// run runs sbx to its end and returns what it gave. It fails the test if sbx
// cannot be started, does not end in time, or leaves something holding its
// output after it exited.
func (inv invocation) run(t *testing.T) result {
	t.Helper()
	timeout := inv.timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd, dir := inv.command(t, ctx)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: inv.args, dir: dir, stdout: stdout.String(), stderr: stderr.String()}
	r.code, r.signal = exitStatus(t, err, cmd)
	if ctx.Err() != nil {
		t.Fatalf("sbx did not end within %v and was killed:\n%s", timeout, r)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("sbx exited but its stdout or stderr stayed open for %v: a process outlived the sandbox:\n%s", waitDelay, r)
	}
	return r
}

// exitStatus turns the error of cmd.Wait into an exit code.
func exitStatus(t *testing.T, err error, cmd *exec.Cmd) (int, syscall.Signal) {
	t.Helper()
	if cmd.ProcessState == nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return exitSignaled, ws.Signal()
	}
	return ws.ExitStatus(), 0
}

// sbx runs `sbx args...` in a fresh directory.
func sbx(t *testing.T, args ...string) result {
	t.Helper()
	return invocation{args: args}.run(t)
}

// sbxIn runs `sbx args...` in dir.
func sbxIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return invocation{args: args, dir: dir}.run(t)
}

// lineBuffer collects output and reports each complete line on a channel.
type lineBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	lines   chan string
}

func newLineBuffer() *lineBuffer { return &lineBuffer{lines: make(chan string, 1024)} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		select {
		case b.lines <- string(b.partial[:i]):
		default: // nobody is waiting for that many lines
		}
		b.partial = b.partial[i+1:]
	}
	return len(p), nil
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is an sbx started in the background.
type process struct {
	cmd    *exec.Cmd
	inv    invocation
	dir    string
	stdout *lineBuffer
	stderr *lineBuffer
	done   chan struct{}
	err    error // of cmd.Wait, once done is closed
	cancel context.CancelFunc
}

// start starts `sbx args...` in a fresh directory. The process is killed
// when the test ends, if it still runs.
func start(t *testing.T, args ...string) *process {
	t.Helper()
	inv := invocation{args: args}
	ctx, cancel := context.WithTimeout(context.Background(), 2*defaultTimeout)
	cmd, dir := inv.command(t, ctx)
	p := &process{cmd: cmd, inv: inv, dir: dir, stdout: newLineBuffer(), stderr: newLineBuffer(),
		done: make(chan struct{}), cancel: cancel}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sbx: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		cancel()
	})
	return p
}

// waitLine waits until the sandboxed command prints the line want.
func (p *process) waitLine(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(defaultTimeout)
	for {
		select {
		case l := <-p.stdout.lines:
			if l == want {
				return
			}
		case <-p.done:
			t.Fatalf("sbx ended before printing %q:\n%s", want, p.result(t))
		case <-deadline:
			t.Fatalf("sbx did not print %q within %v:\nstdout:\n%s\nstderr:\n%s",
				want, defaultTimeout, indent(p.stdout.String()), indent(p.stderr.String()))
		}
	}
}

// wait waits for sbx to end and returns what it gave.
func (p *process) wait(t *testing.T) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(defaultTimeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("sbx did not end within %v and was killed:\n%s", defaultTimeout, p.result(t))
	}
	r := p.result(t)
	if errors.Is(p.err, exec.ErrWaitDelay) {
		t.Fatalf("sbx exited but its stdout or stderr stayed open for %v: a process outlived the sandbox:\n%s", waitDelay, r)
	}
	return r
}

func (p *process) result(t *testing.T) result {
	t.Helper()
	r := result{args: p.inv.args, dir: p.dir, stdout: p.stdout.String(), stderr: p.stderr.String()}
	r.code, r.signal = exitStatus(t, p.err, p.cmd)
	return r
}

// signal sends sig to the sbx process itself.
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to sbx: %v", sig, err)
	}
}

// ignoredNote explains a failure that may come from the test's own
// environment: a signal ignored by the test process is ignored by
// everything it starts, unless something resets it.
func ignoredNote(sig syscall.Signal) string {
	if signal.Ignored(sig) {
		return fmt.Sprintf(" (note: the test process itself ignores %v, inherited from whoever started it)", sig)
	}
	return ""
}

// hostProcesses returns the pids of the host's processes whose argv is
// exactly argv.
func hostProcesses(t *testing.T, argv ...string) []int {
	t.Helper()
	want := strings.Join(argv, "\x00") + "\x00"
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		if string(b) == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitHostProcesses polls the host's processes with argv until cond holds
// for their number, for up to five seconds, and returns their pids.
func waitHostProcesses(t *testing.T, cond func(n int) bool, argv ...string) ([]int, bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := hostProcesses(t, argv...)
		if cond(len(pids)) {
			return pids, true
		}
		if time.Now().After(deadline) {
			return pids, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireTool fails the test unless name is installed on the host.
func requireTool(t *testing.T, name, fix string) string {
	t.Helper()
	for _, dir := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s is not installed, and this test needs it: %s (or run `sudo make test`)", name, fix)
	return ""
}

// idRange is one line of /etc/subuid or of /proc/PID/uid_map.
type idRange struct {
	inside, outside, count uint64
}

// parseIDMap parses the contents of a uid_map or gid_map file.
func parseIDMap(t *testing.T, s string) []idRange {
	t.Helper()
	var m []idRange
	for _, l := range lines(s) {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("bad id map line %q in:\n%s", l, s)
		}
		var r idRange
		var err error
		for i, p := range []*uint64{&r.inside, &r.outside, &r.count} {
			if *p, err = strconv.ParseUint(f[i], 10, 32); err != nil {
				t.Fatalf("bad id map line %q: %v", l, err)
			}
		}
		m = append(m, r)
	}
	return m
}

// subordinateRanges returns the test user's ranges in file (/etc/subuid or
// /etc/subgid), as idRanges with inside unused. It fails the test, naming
// the fix, if there are none or they hold fewer than 65535 ids.
func subordinateRanges(t *testing.T, file string) []idRange {
	t.Helper()
	keys := map[string]bool{strconv.Itoa(os.Getuid()): true}
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		keys[u.Username] = true
		name = u.Username
	}
	f, err := os.Open(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var ranges []idRange
	var total uint64
	if f != nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
			if len(parts) != 3 || !keys[parts[0]] {
				continue
			}
			start, err1 := strconv.ParseUint(parts[1], 10, 32)
			count, err2 := strconv.ParseUint(parts[2], 10, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			ranges = append(ranges, idRange{outside: start, count: count})
			total += count
		}
	}
	if total < 65535 {
		t.Fatalf("user %s has %d ids in %s, and the auto map needs at least 65535: "+
			"add a range (e.g. `sudo usermod --add-subuids 200000-265535 --add-subgids 200000-265535 %s`), "+
			"or run the tests with `sudo make test`, which sets up the user sbxtest", name, total, file, name)
	}
	return ranges
}

// hostDiskNames returns the names of the block devices in the host's /dev.
func hostDiskNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/dev")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Type()&os.ModeDevice != 0 && e.Type()&os.ModeCharDevice == 0 {
			names = append(names, e.Name())
		}
	}
	return names
}

package test

// The escape suite: real attempts to break out of a sandbox, or to reach
// the host user's processes, keys, files and terminal from one. Each attack
// runs twice: inside `sbx run` (default flags unless the attack needs
// others), where it must fail with a specific answer, and in a plain
// baseline (`unshare -Ur` or a variant), where it must succeed, so that the
// test shows that sbx is what stops it. When this host's configuration
// keeps the baseline from succeeding, the test logs which sysctl does and
// checks the sbx side only.
//
// The attacker is the "escape" tool of escape_tools_test.go, run from the
// test binary in both places.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unshareRoot is the usual baseline: a user namespace with the caller
// mapped to root, nothing else.
var unshareRoot = []string{"unshare", "-Ur"}

// attempt is one run of an attack: in sbx or in the baseline.
type attempt struct {
	sandboxed bool
	flags     []string // sbx run flags
	baseline  []string // the baseline's command, to which the tool is appended
	dir       string   // working directory of both; "" means a fresh testDir
}

// noSandbox is the baseline of attacks that a user namespace alone already
// stops: a process of the user, in no namespace of its own.
var noSandbox = []string{}

// in returns the attempt with another baseline command.
func (a attempt) in(baseline []string) attempt {
	a.baseline = baseline
	return a
}

// tool runs the escape tool with args where the attempt says, and returns
// its output. The tool must have run (exit 0).
func (a attempt) tool(t *testing.T, args ...string) string {
	t.Helper()
	return a.toolWith(t, nil, args...)
}

// toolWith is tool with more sbx flags (ignored in the baseline).
func (a attempt) toolWith(t *testing.T, flags []string, args ...string) string {
	t.Helper()
	if a.sandboxed {
		sbxArgs := append(append(append([]string{"run"}, a.flags...), flags...), toolArgs(t, "escape", args...)...)
		return invocation{args: sbxArgs, dir: a.dir}.run(t).ok(t)
	}
	r := runBaseline(t, baselineCommand(t, a.baseline, args...), a.dir, nil)
	return r.ok(t)
}

// baselineCommand returns argv: prefix, the test binary, args; the tool is
// chosen by the environment (see baselineEnv).
func baselineCommand(t *testing.T, prefix []string, args ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append(append(slices.Clone(prefix), self), args...)
}

// baselineEnv is the environment of a baseline run: the test's own, with
// the escape tool selected.
func baselineEnv() []string {
	return append(os.Environ(), toolEnv+"=escape")
}

// baselineResult is what a baseline command gave.
type baselineResult struct {
	argv           []string
	stdout, stderr string
	code           int
}

func (r baselineResult) String() string {
	return fmt.Sprintf("baseline %s\nexit: %d\nstdout:\n%s\nstderr:\n%s",
		shellQuote(r.argv), r.code, indent(r.stdout), indent(r.stderr))
}

func (r baselineResult) ok(t *testing.T) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("the baseline failed:\n%s", r)
	}
	return r.stdout
}

// runBaseline runs argv outside sbx (in dir, a fresh testDir if ""), with
// extra as descriptors 3, 4, ... and the variables env on top of the
// test's, and waits for it, up to defaultTimeout.
func runBaseline(t *testing.T, argv []string, dir string, extra []*os.File, env ...string) baselineResult {
	t.Helper()
	if dir == "" {
		dir = testDir(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.ExtraFiles, cmd.WaitDelay = dir, append(baselineEnv(), env...), extra, waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := baselineResult{argv: argv, stdout: stdout.String(), stderr: stderr.String()}
	if cmd.ProcessState == nil {
		t.Fatalf("start %s: %v", argv[0], err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if ctx.Err() != nil {
		t.Fatalf("the baseline did not end within %v:\n%s", defaultTimeout, r)
	}
	return r
}

// wantLines fails the test unless every line of want is a line of out.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	have := lines(out)
	for _, w := range want {
		if !slices.Contains(have, w) {
			t.Errorf("want the line %q in the output:\n%s", w, indent(out))
		}
	}
}

// lineValue returns the rest of the line of out that starts with prefix+" ".
func lineValue(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range lines(out) {
		if v, ok := strings.CutPrefix(l, prefix+" "); ok {
			return v
		}
	}
	t.Fatalf("no line %q... in the output:\n%s", prefix, indent(out))
	return ""
}

// hostSysctl returns the value of the sysctl name (kernel.foo.bar), or ""
// when this kernel has none.
func hostSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// baselineBlocked reports whether this is the baseline and the host's
// sysctl name keeps it from succeeding (allows says which values do not);
// it logs so, naming the sysctl.
func (a attempt) baselineBlocked(t *testing.T, name string, allows func(v string) bool) bool {
	t.Helper()
	if a.sandboxed {
		return false
	}
	if v := hostSysctl(name); !allows(v) {
		t.Logf("this host's %s=%q keeps the baseline from succeeding: only the sbx side is checked", name, v)
		return true
	}
	return false
}

// hostProcess is a process of the test user on the host, outside any
// sandbox.
type hostProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startHost starts argv on the host with the extra environment env; it is
// killed when the test ends.
func startHost(t *testing.T, env []string, argv ...string) *hostProcess {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &hostProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *hostProcess) pid() string { return strconv.Itoa(p.cmd.Process.Pid) }

// alive fails the test if the process ended.
func (p *hostProcess) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Errorf("the host process %s ended: %v", p.pid(), p.cmd.ProcessState)
	case <-time.After(100 * time.Millisecond):
	}
}

// endsBy fails the test unless the process ends, killed by sig, within
// five seconds.
func (p *hostProcess) endsBy(t *testing.T, sig syscall.Signal) {
	t.Helper()
	select {
	case <-p.done:
		ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != sig {
			t.Errorf("the host process ended with %v, want killed by %v", p.cmd.ProcessState, sig)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the host process %s still runs", p.pid())
	}
}

// hostSleep starts `sleep TOKEN` on the host.
func hostSleep(t *testing.T) *hostProcess {
	t.Helper()
	return startHost(t, nil, "sleep", token())
}

// escapeAttack is an attack of TestEscape: attack runs once in sbx and once
// in the baseline, and checks what each gave.
type escapeAttack struct {
	name     string
	flags    []string // sbx run flags; none means the defaults
	baseline []string // the baseline command; nil means unshare -Ur
	attack   func(t *testing.T, a attempt)
}

// TestEscape runs the attacks whose two runs have the same shape: the
// escape tool, inside sbx and in the baseline.
func TestEscape(t *testing.T) {
	t.Parallel()
	for _, e := range escapeAttacks {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			bothWays(t, e.flags, e.baseline, e.attack)
		})
	}
}

var escapeAttacks = []escapeAttack{
	{
		// The kernel keyrings: not isolated by the mount or PID
		// namespaces (the session keyring is the caller's, and
		// request_key upcalls run on the host), and a kernel interface
		// with a record of local root bugs (CVE-2016-0728, a keyring
		// refcount overflow through keyctl). The seccomp profile refuses
		// add_key and keyctl.
		name: "keyring",
		attack: func(t *testing.T, a attempt) {
			out := a.tool(t, "keys", "sbx-escape-"+token())
			if a.sandboxed {
				wantLines(t, out, "add_key EPERM", "keyctl EPERM")
			} else {
				wantLines(t, out, "add_key ok", "keyctl ok")
			}
		},
	},
	{
		// ptrace injection: attach to a process of the same user outside
		// and run code as it. A user namespace alone already stops it: the kernel wants
		// the tracer in the tracee's user namespace, or CAP_SYS_PTRACE
		// over it (cap_ptrace_access_check), so the baseline that
		// succeeds is the user's process without namespaces, and
		// `unshare -Ur` gets EPERM. sbx's PID namespace leaves no host
		// pid to name at all.
		name:     "ptrace-host-process",
		baseline: noSandbox,
		attack: func(t *testing.T, a attempt) {
			sleep := hostSleep(t)
			if a.sandboxed {
				wantLines(t, a.tool(t, "ptrace", sleep.pid()), "ptrace ESRCH")
				sleep.alive(t)
				return
			}
			wantLines(t, a.in(unshareRoot).tool(t, "ptrace", sleep.pid()), "ptrace EPERM")
			if a.baselineBlocked(t, "kernel.yama.ptrace_scope", func(v string) bool { return v == "" || v == "0" }) {
				return
			}
			wantLines(t, a.tool(t, "ptrace", sleep.pid()), "ptrace ok")
			sleep.alive(t)
		},
	},
	{
		// Signalling the host: kill(2) and pidfd_open(2) of a process of
		// the same user outside. The same uid is enough, from any user
		// namespace; sbx's PID namespace leaves no host pid to name.
		name: "kill-host-process",
		attack: func(t *testing.T, a attempt) {
			sleep := hostSleep(t)
			out := a.tool(t, "kill", sleep.pid(), strconv.Itoa(int(syscall.SIGTERM)))
			if a.sandboxed {
				wantLines(t, out, "pidfd_open ESRCH", "kill ESRCH")
				sleep.alive(t)
			} else {
				wantLines(t, out, "pidfd_open ok", "kill ok")
				sleep.endsBy(t, syscall.SIGTERM)
			}
		},
	},
	{
		// Information leak through /proc: another process's command line
		// and environment (secrets, tokens). The command line is anyone's
		// to read, from any user namespace; the environment asks for
		// PTRACE_MODE_READ, which a user namespace alone already fails
		// (as for ptrace above: EACCES), so its baseline is the user's
		// process without namespaces. sbx's /proc shows only the
		// sandbox's processes.
		name: "proc-cmdline-environ-of-host-process",
		attack: func(t *testing.T, a attempt) {
			secret := "SBX_ESCAPE_SECRET=" + token()
			tok := token()
			p := startHost(t, []string{secret}, "sleep", tok)
			environ, cmdline := "/proc/"+p.pid()+"/environ", "/proc/"+p.pid()+"/cmdline"
			out := a.tool(t, "read", cmdline, environ)
			if a.sandboxed {
				wantLines(t, out, "read "+cmdline+" ENOENT", "read "+environ+" ENOENT")
				return
			}
			wantLines(t, out, "read "+cmdline+" ok", "read "+environ+" EACCES")
			if !strings.Contains(lineValue(t, out, "data "+cmdline), tok) {
				t.Errorf("the baseline did not read %s in %s:\n%s", tok, cmdline, out)
			}
			out = a.in(noSandbox).tool(t, "read", environ)
			wantLines(t, out, "read "+environ+" ok")
			if !strings.Contains(lineValue(t, out, "data "+environ), secret) {
				t.Errorf("the baseline did not read %s in %s:\n%s", secret, environ, out)
			}
		},
	},
	{
		// Tampering with the host's files (planting a ~/.bashrc line, a
		// git hook): a file the user owns, outside the sandbox's working
		// directory, with the default uid and as root inside (who owns it
		// there, and holds CAP_DAC_OVERRIDE). The host root is a
		// recursively read-only clone.
		name: "write-read-only-host-root",
		attack: func(t *testing.T, a attempt) {
			dir := testDir(t)
			file := filepath.Join(dir, "file")
			writeFile(t, file, "original\n", 0o644)
			created := filepath.Join(dir, "created")
			if !a.sandboxed {
				out := a.tool(t, "write", file, "pwned\n", "+", "create", created)
				wantLines(t, out, "write "+file+" ok", "create "+created+" ok")
				if b, _ := os.ReadFile(file); string(b) != "pwned\n" {
					t.Errorf("the baseline did not write %s: %q", file, b)
				}
				return
			}
			for _, flags := range [][]string{nil, {"--uid", "0"}} {
				out := a.toolWith(t, flags, "write", file, "pwned\n", "+", "create", created)
				wantLines(t, out, "write "+file+" EROFS", "create "+created+" EROFS")
				if b, err := os.ReadFile(file); err != nil || string(b) != "original\n" {
					t.Errorf("%s changed (flags %v): %q, %v", file, flags, b, err)
				}
				if _, err := os.Lstat(created); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s was created (flags %v): %v", created, flags, err)
				}
			}
		},
	},
	{
		// Dropping a group that denies access (mode 0604, group sbxneg):
		// setgroups(2) in a user namespace whose gid map was written
		// without newgidmap must be denied, or any user could shed a
		// negative group (CVE-2014-8989). --map single writes the map
		// itself, with setgroups denied; the baseline goes through
		// newgidmap, which leaves setgroups allowed.
		name:     "setgroups-drops-negative-group",
		flags:    []string{"--map", "single", "--uid", "0"},
		baseline: []string{"unshare", "--map-auto", "--map-root-user"},
		attack: func(t *testing.T, a attempt) {
			file := negativeGroupFile(t)
			out := a.tool(t, "setgroups", file)
			if a.sandboxed {
				wantLines(t, out, "setgroups EPERM", "read EACCES")
			} else {
				wantLines(t, out, "setgroups ok", "read ok")
			}
		},
	},
	{
		// Uncovering what sbx masks in /proc (the OCI masked paths:
		// /proc/kcore is the kernel's memory), or covering its read-only
		// /proc/sys with a writable tmpfs, as root inside. The mount API
		// is refused without CAP_SYS_ADMIN; the baseline, root of its own
		// namespaces with a /proc of its own, masks the file itself and
		// then undoes it.
		name:     "unmask-proc",
		flags:    []string{"--uid", "0"},
		baseline: []string{"unshare", "-Urmpf", "--mount-proc"},
		attack: func(t *testing.T, a attempt) {
			path := maskedProcFile(t)
			if a.sandboxed {
				out := a.tool(t, "unmask", path)
				wantLines(t, out, "umount EPERM", "mount EPERM")
				if v := lineValue(t, out, "masked"); v == "proc" || !strings.HasPrefix(v, "fs") {
					t.Errorf("%s is not masked:\n%s", path, out)
				}
				return
			}
			out := a.tool(t, "unmask", path, "mask-first")
			wantLines(t, out, "mask ok", "umount ok", "mount ok", "masked proc")
		},
	},
	{
		// Making a read-only bind writable again: remount it rw
		// (mount(2) MS_REMOUNT|MS_BIND, or mount_setattr(2)), then write
		// the host file under it. Root inside has no CAP_SYS_ADMIN, and
		// the mount API is filtered.
		name: "remount-read-only-bind-rw",
		attack: func(t *testing.T, a attempt) {
			src := testDir(t)
			file := filepath.Join(src, "file")
			writeFile(t, file, "original\n", 0o644)
			if a.sandboxed {
				a.dir = testDir(t)
				dst := filepath.Join(a.dir, "ro")
				out := a.toolWith(t, []string{"--uid", "0", "--ro-bind", src + ":" + dst}, "remount", dst, "file")
				wantLines(t, out, "mount_setattr EPERM", "remount EPERM", "write EROFS")
				if b, err := os.ReadFile(file); err != nil || string(b) != "original\n" {
					t.Errorf("%s changed: %q, %v", file, b, err)
				}
				return
			}
			a.baseline = []string{"unshare", "-Urm", "sh", "-c", `mount --bind -o ro "$1" "$1" && shift && exec "$@"`, "sh", src}
			out := a.tool(t, "remount", src, "file")
			wantLines(t, out, "mount_setattr ok", "remount ok", "write ok")
			if b, _ := os.ReadFile(file); string(b) != "pwned" {
				t.Errorf("the baseline did not write %s: %q", file, b)
			}
		},
	},
	{
		// A host abstract unix socket (no file, no permission check:
		// X11, D-Bus, containerd-shim's in CVE-2020-15257) is reachable
		// from any process in the host's network namespace. sbx's network
		// namespace has its own abstract namespace.
		name: "host-abstract-socket",
		attack: func(t *testing.T, a attempt) {
			name := "@sbx-escape-" + token()
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			out := a.tool(t, "connect", name)
			if a.sandboxed {
				wantLines(t, out, "connect ECONNREFUSED")
			} else {
				wantLines(t, out, "connect ok")
			}
		},
	},
	{
		// Writing kernel knobs, the classic escape of privileged
		// containers (kernel.core_pattern, /sys/kernel/uevent_helper run
		// a program as host root), as root inside: /proc/sys/net of the
		// sandbox's own network namespace, the user namespace's
		// max_user_namespaces (which sbx sets to 0), the UTS
		// namespace's hostname, and the host's /sys. Root inside lacks
		// CAP_NET_ADMIN and CAP_SYS_RESOURCE, which the first two ask
		// for (EACCES); given them, the read-only mount still stands
		// (EROFS). The baseline, root of its own user and network
		// namespaces with every capability, writes the first two.
		name:     "write-proc-sys-and-sys",
		flags:    []string{"--uid", "0"},
		baseline: []string{"unshare", "-Urn"},
		attack: func(t *testing.T, a attempt) {
			const (
				ping     = "/proc/sys/net/ipv4/ping_group_range"
				maxUser  = "/proc/sys/user/max_user_namespaces"
				hostname = "/proc/sys/kernel/hostname"
				mtu      = "/sys/class/net/lo/mtu"
			)
			if !a.sandboxed {
				out := a.tool(t, "write", ping, "0 0", maxUser, "7", "+", "read", ping, maxUser)
				wantLines(t, out, "write "+ping+" ok", "write "+maxUser+" ok",
					"data "+ping+" "+strconv.Quote("0\t0\n"), "data "+maxUser+" "+strconv.Quote("7\n"))
				// kernel.hostname of a UTS namespace is not writable
				// through /proc/sys from a user namespace at all: the
				// sysctl belongs to the host's root.
				return
			}
			for _, flags := range [][]string{nil, {"--cap-add", "NET_ADMIN", "--cap-add", "SYS_RESOURCE"}} {
				out := a.toolWith(t, flags, "write", ping, "0 0", maxUser, "7", hostname, "pwned", mtu, "1280", "+", "read", ping, maxUser, hostname, mtu)
				for _, p := range []string{ping, maxUser, hostname, mtu} {
					if v := lineValue(t, out, "write "+p); v != "EROFS" && v != "EACCES" {
						t.Errorf("write %s (flags %v): %s, want EROFS or EACCES", p, flags, v)
					}
				}
				if flags == nil {
					wantLines(t, out, "write "+ping+" EACCES", "write "+maxUser+" EACCES")
				} else {
					wantLines(t, out, "write "+ping+" EROFS", "write "+maxUser+" EROFS")
				}
				for p, written := range map[string]string{ping: "0\t0\n", maxUser: "7\n", hostname: "pwned\n", mtu: "1280\n"} {
					if v := lineValue(t, out, "data "+p); v == strconv.Quote(written) {
						t.Errorf("%s was written (flags %v): %s", p, flags, v)
					}
				}
				wantLines(t, out, "data "+hostname+" "+strconv.Quote("sbx\n"))
			}
		},
	},
	{
		// userfaultfd stalls the kernel at a chosen page fault: the way
		// many kernel exploits win a race (use-after-free windows).
		// vm.unprivileged_userfaultfd=0 still lets anyone handle
		// user-mode faults (UFFD_USER_MODE_ONLY); sbx's profile refuses
		// the syscall.
		name: "userfaultfd",
		attack: func(t *testing.T, a attempt) {
			out := a.tool(t, "userfaultfd")
			if a.sandboxed {
				wantLines(t, out, "userfaultfd EPERM")
			} else {
				wantLines(t, out, "userfaultfd ok")
			}
		},
	},
	{
		// perf_event_open: a large kernel attack surface with a long
		// record of local root bugs (CVE-2013-2094, perf_swevent_init);
		// kernel.perf_event_paranoid=2 still allows measuring oneself in
		// user space.
		name: "perf_event_open",
		attack: func(t *testing.T, a attempt) {
			paranoid := func(v string) bool {
				n, err := strconv.Atoi(v)
				return err == nil && n <= 2
			}
			if a.baselineBlocked(t, "kernel.perf_event_paranoid", paranoid) {
				return
			}
			out := a.tool(t, "perf")
			if a.sandboxed {
				wantLines(t, out, "perf_event_open EPERM")
			} else {
				wantLines(t, out, "perf_event_open ok")
			}
		},
	},
	{
		// The 32-bit entry point: int 0x80 from a 64-bit process runs
		// the i386 syscall table, whose numbers a filter written for
		// x86-64 would misread (CVE-2009-0835, the same confusion in
		// seccomp itself). sbx's filter refuses any foreign architecture.
		name: "int80-32-bit-syscall",
		attack: func(t *testing.T, a attempt) {
			if !haveInt80 {
				t.Logf("int 0x80 is an x86-64 entry point; GOARCH=%s has no 32-bit one to attack", runtime.GOARCH)
				return
			}
			out := a.tool(t, "int80")
			if a.sandboxed {
				wantLines(t, out, "int80 EPERM")
				return
			}
			if lineValue(t, out, "int80") == "ENOSYS" {
				t.Logf("this kernel runs no 32-bit syscalls (CONFIG_IA32_EMULATION off, or ia32_emulation=0 on its command line): only the sbx side is checked")
				return
			}
			if pid := lineValue(t, out, "getpid"); lineValue(t, out, "int80") != pid {
				t.Errorf("int 0x80 getpid did not give the pid %s:\n%s", pid, out)
			}
		},
	},
	{
		// personality(2) flags that switch off the process's own exploit
		// mitigations: READ_IMPLIES_EXEC (every readable mapping
		// executable) and ADDR_NO_RANDOMIZE (no ASLR, `setarch -R`). The
		// query (0xffffffff) must keep working.
		name: "personality",
		attack: func(t *testing.T, a attempt) {
			out := a.tool(t, "personality")
			if a.sandboxed {
				wantLines(t, out, "personality READ_IMPLIES_EXEC EPERM", "personality ADDR_NO_RANDOMIZE EPERM", "personality query ok")
			} else {
				wantLines(t, out, "personality READ_IMPLIES_EXEC ok", "personality ADDR_NO_RANDOMIZE ok", "personality query ok")
			}
		},
	},
}

// maskedProcFile returns a file that sbx masks in /proc and that this
// kernel has (not every kernel has /proc/kcore).
func maskedProcFile(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/proc/kcore", "/proc/timer_list", "/proc/keys", "/proc/sched_debug"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("this kernel has none of /proc/kcore, /proc/timer_list, /proc/keys, /proc/sched_debug")
	return ""
}

// negativeGroupFile returns the file that the test user may not read
// because of its group sbxneg, checking that it is so.
func negativeGroupFile(t *testing.T) string {
	t.Helper()
	const file, group = "/var/lib/sbx-test/negative-group", "sbxneg"
	fix := "run `sudo make test` once to set it up (scripts/test.sh creates the group, the file and the membership)"
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatalf("group %s: %v: %s", group, err, fix)
	}
	gid, _ := strconv.Atoi(g.Gid)
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(groups, gid) {
		t.Fatalf("the test process is not in group %s (gid %d; it has %v): %s, and start the tests in a new login", group, gid, groups, fix)
	}
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		t.Fatalf("%s: %v: %s", file, err, fix)
	}
	if st.Gid != uint32(gid) || st.Mode&0o777 != 0o604 {
		t.Fatalf("%s has gid %d and mode %o, want group %s and 0604: %s", file, st.Gid, st.Mode&0o777, group, fix)
	}
	if _, err := os.ReadFile(file); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("the test user can read %s (err %v): the attack would prove nothing: %s", file, err, fix)
	}
	return file
}

// TestEscapeTIOCSTI pushes a command line into the terminal the sandbox's
// stdin is (TIOCSTI; bubblewrap's CVE-2017-5226): whatever reads that
// terminal next, the user's shell once the sandbox ends, runs it. The
// attacker's stdin is a real pty, the
// controlling terminal of sbx run (or of the baseline's attacker). sbx
// runs the command in a new session, where the kernel refuses TIOCSTI on
// a terminal that is not its controlling one (EPERM), and its filter
// refuses TIOCSTI too, also with the request's high 32 bits set, which
// the kernel ignores (bwrap/Flatpak CVE-2019-10063). The filter alone is
// tested by sbx-take-ctty: the pty is nobody's controlling terminal, and
// the attacker makes it its own (setsid, TIOCSCTTY) before injecting.
func TestEscapeTIOCSTI(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"low", "high"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			for _, run := range []string{"sbx", "sbx-take-ctty", "baseline"} {
				sandboxed := run != "baseline"
				t.Run(run, func(t *testing.T) {
					marker := "echo sbx-escape-" + token() + "\n"
					args := []string{"tiocsti", marker, variant}
					var argv []string
					env := os.Environ()
					ctty := true
					if run == "sbx-take-ctty" {
						ctty = false
						args = append(args, "take-ctty")
					}
					if sandboxed {
						argv = append([]string{sbxBinary(t), "run"}, toolArgs(t, "escape", args...)...)
					} else {
						if v := hostSysctl("dev.tty.legacy_tiocsti"); v != "1" {
							t.Logf("this host's dev.tty.legacy_tiocsti=%q keeps the baseline from succeeding: only the sbx side is checked", v)
							return
						}
						argv = baselineCommand(t, unshareRoot, args...)
						env = baselineEnv()
					}
					out, leftover := runOnPty(t, argv, env, ctty)
					if run == "sbx-take-ctty" {
						wantLines(t, out, "ctty ok")
					}
					if sandboxed {
						wantLines(t, out, "tiocsti EPERM", "input none")
						if leftover != "" {
							t.Errorf("input reached the terminal: %q", leftover)
						}
					} else {
						wantLines(t, out, "tiocsti ok", "input "+strconv.Quote(marker))
					}
				})
			}
		})
	}
}

// runOnPty runs argv as the leader of a new session with a fresh pty's
// slave as its stdin and, with ctty, its controlling terminal; stdout and
// stderr are pipes. It returns the output, and any input left unread on
// the terminal afterwards.
func runOnPty(t *testing.T, argv, env []string, ctty bool) (out, leftover string) {
	t.Helper()
	p := openPty(t)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.WaitDelay = testDir(t), env, waitDelay
	cmd.Stdin = p.slave
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: ctty, Ctty: 0}
	err := cmd.Run()
	if ctx.Err() != nil || err != nil {
		t.Fatalf("%s: %v (timeout: %v)\nstdout:\n%s\nstderr:\n%s", shellQuote(argv), err, ctx.Err(), indent(stdout.String()), indent(stderr.String()))
	}
	fds := []unix.PollFd{{Fd: int32(p.slave.Fd()), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 100); n > 0 && fds[0].Revents&unix.POLLIN != 0 {
		buf := make([]byte, 256)
		n, _ := unix.Read(int(p.slave.Fd()), buf)
		leftover = string(buf[:max(n, 0)])
	}
	return stdout.String(), leftover
}

// TestEscapeLeakedFDWorkdir is runc's CVE-2024-21626: a descriptor of a
// host directory, open in the caller, reached through /proc/self/fd as the
// working directory (-w), or with cd from inside, leads out of the
// sandbox's root. sbx passes no descriptor but 0, 1 and 2, and checks that
// the working directory it enters is inside the view.
func TestEscapeLeakedFDWorkdir(t *testing.T) {
	t.Parallel()
	host := testDir(t)
	secret := "sbx-escape-" + token()
	writeFile(t, filepath.Join(host, "escape-marker"), secret+"\n", 0o644)
	var extra []*os.File
	for i := 0; i < 4; i++ { // descriptors 3 to 6
		f, err := os.Open(host)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}

	t.Run("workdir", func(t *testing.T) {
		for n := 3; n <= 12; n++ {
			wd := fmt.Sprintf("/proc/self/fd/%d", n)
			r := invocation{args: []string{"run", "-w", wd, "--", "sh", "-c", "pwd; cat escape-marker 2>&1; true"}, extra: extra}.run(t)
			if strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, host) {
				t.Errorf("-w %s reached the host directory %s:\n%s", wd, host, r)
				continue
			}
			switch r.code {
			case 125:
				if l := lines(r.stderr); len(l) != 1 || !strings.HasPrefix(l[0], "sbx: ") {
					t.Errorf("-w %s: want one line from sbx on stderr:\n%s", wd, r)
				}
			case 0:
				if pwd := lines(r.stdout); len(pwd) == 0 || !strings.HasPrefix(pwd[0], "/") {
					t.Errorf("-w %s: started outside the view:\n%s", wd, r)
				}
			default:
				t.Errorf("-w %s: want exit 125 (refused) or 0 (inside the view):\n%s", wd, r)
			}
		}
	})

	const script = "cd /proc/self/fd/3 && cat escape-marker"
	rootfs := busyboxRootfs(t)
	t.Run("cd-in-rootfs/sbx", func(t *testing.T) {
		r := invocation{args: []string{"run", "--rootfs", rootfs, "--", "sh", "-c", script}, extra: extra}.run(t)
		if strings.Contains(r.stdout, secret) {
			t.Fatalf("cd /proc/self/fd/3 reached the host directory:\n%s", r)
		}
		if r.code != 2 || !strings.Contains(r.stderr, "can't cd to /proc/self/fd/3") {
			t.Errorf("want busybox's cd to fail (exit 2, no descriptor 3):\n%s", r)
		}
	})
	t.Run("cd-in-rootfs/baseline", func(t *testing.T) {
		argv := []string{"unshare", "-Urmpf", "--mount-proc", "--root=" + rootfs, "sh", "-c", script}
		r := runBaseline(t, argv, "", extra[:1])
		if out := r.ok(t); strings.TrimSpace(out) != secret {
			t.Errorf("the baseline did not read the marker through descriptor 3:\n%s", r)
		}
	})
}

// TestEscapeProcSelfExe is runc's CVE-2019-5736: reopen the binary a
// process runs, through /proc/PID/exe, for writing, and replace it. sbx's
// pid 1 is not dumpable and runs from an unwritable clone of sbx, so the
// sbx binary the user owns stays out of reach even for root inside. The
// baseline shows the attack on a binary the user owns, run by a process
// in the attacker's user namespace (as sbx's own processes in a sandbox
// are): ETXTBSY while it runs, and a write through the kept handle once it
// has ended.
func TestEscapeProcSelfExe(t *testing.T) {
	t.Parallel()
	t.Run("sbx", func(t *testing.T) {
		target := newAttackTarget(t)
		out := sbx(t, append([]string{"run", "--uid", "0"}, toolArgs(t, "escape", "exe-init")...)...).ok(t)
		refused := func(step string) {
			switch v := lineValue(t, out, step); v {
			case "ETXTBSY", "EROFS", "EACCES", "EPERM":
			default:
				t.Errorf("%s /proc/1/exe: %s, want it refused:\n%s", step, v, out)
			}
		}
		refused("open")
		// Not dumpable: no handle at all (EACCES); with one, no reopen.
		if lineValue(t, out, "handle") == "ok" {
			refused("reopen")
		} else {
			refused("handle")
		}
		if fileHash(t, target.bin) != target.hash {
			t.Fatal("the sbx binary changed")
		}
	})
	t.Run("baseline", func(t *testing.T) {
		victim := filepath.Join(testDir(t), "sleep")
		copyFile(t, requireTool(t, "sleep", "`sudo apt-get install coreutils`"), victim, 0o755)
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		// sh starts the victim, then becomes the attacker.
		argv := []string{"unshare", "-Ur", "sh", "-c", `"$1" "$2" & exec "$3" exe-running "$!" "$1"`, "sh", victim, token(), self}
		out := runBaseline(t, argv, "", nil).ok(t)
		wantLines(t, out, "handle ok", "running ETXTBSY", "kill ok", "exited ok")
		if b, err := os.ReadFile(victim); err != nil || !bytes.HasPrefix(b, []byte("pwned")) {
			t.Errorf("the baseline did not overwrite %s (%v)", victim, err)
		}
	})
}

// TestEscapeSetuid gains privileges through a setuid-root binary made
// inside (privileges and capabilities gained at exec): root inside copies
// a binary, makes it setuid root, and runs it as uid 1000. sbx runs every
// command with no_new_privs, and mounts every writable place nosuid, so
// the binary runs as uid 1000 without capabilities. In the baseline (a
// tmpfs of its own, without nosuid) it runs as root with every capability
// of the namespace.
func TestEscapeSetuid(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	requireTool(t, "setpriv", "`sudo apt-get install util-linux`")
	// $1: the directory for the copy, $2: the test binary.
	const script = `cp "$2" "$1/suid" && chmod 4755 "$1/suid" && stat -c "mode %u %a" "$1/suid" &&
		SBX_TEST_TOOL=escape exec setpriv --reuid 1000 --regid 1000 --clear-groups "$1/suid" ids`
	t.Run("sbx", func(t *testing.T) {
		dir := testDir(t)
		if err := os.Chmod(dir, 0o755); err != nil { // uid 1000 inside must reach it
			t.Fatal(err)
		}
		out := sbxIn(t, dir, "run", "--uid", "0", "--", "sh", "-c", script, "sh", dir, self).ok(t)
		wantLines(t, out, "mode 0 4755", "euid 1000", "capeff 0000000000000000")
	})
	t.Run("baseline", func(t *testing.T) {
		dir := testDir(t)
		argv := []string{"unshare", "--map-auto", "--map-root-user", "--mount", "sh", "-c",
			`mount -t tmpfs -o mode=0755 tmpfs "$1" && ` + script, "sh", dir, self}
		out := runBaseline(t, argv, "", nil).ok(t)
		wantLines(t, out, "mode 0 4755", "euid 0")
		if v := lineValue(t, out, "capeff"); v == "0000000000000000" {
			t.Errorf("the baseline's setuid binary has no capabilities:\n%s", out)
		}
	})
}

// TestEscapeNestedUserns creates a user namespace inside the sandbox: a new
// user namespace hands its creator every capability over it, and with
// them the kernel code that only CAP_SYS_ADMIN used to reach (the source
// of many local root exploits: CVE-2022-0185 in fsconfig, for one).
// By default (and with --disable-userns, kept for bwrap's flag) sbx refuses
// it twice over: the filter (unshare and clone with CLONE_NEWUSER: EPERM;
// clone3, whose flags it cannot see: ENOSYS) and, still there without the
// filter, the sandbox's max_user_namespaces of 0 (ENOSPC). With
// --allow-userns nesting works, as in the baseline.
func TestEscapeNestedUserns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		flags   []string
		shell   string   // the end of `unshare -U true`'s stderr, "" for success
		want    []string // lines of the tool's output
		notWant string   // ... and one it must not print
	}{
		{"default", nil, "Operation not permitted",
			[]string{"unshare EPERM", "clone EPERM", "clone3 ENOSYS"}, ""},
		{"disable-userns", []string{"--disable-userns"}, "Operation not permitted",
			[]string{"unshare EPERM", "clone EPERM", "clone3 ENOSYS"}, ""},
		{"unconfined", []string{"--seccomp", "unconfined"}, "No space left on device",
			// unshare(2) from a multi-threaded process is EINVAL before
			// anything else: only the filter's EPERM would tell.
			[]string{"clone ENOSPC", "clone3 ENOSPC"}, "unshare ok"},
		{"allow-userns", []string{"--allow-userns"}, "", []string{"clone ok", "clone3 ok"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sbx(t, append(append([]string{"run"}, tt.flags...), "--", "unshare", "-U", "true")...)
			if tt.shell == "" {
				r.ok(t)
			} else if r.code != 1 || !strings.Contains(r.stderr, tt.shell) {
				t.Errorf("unshare -U true: want exit 1 and %q:\n%s", tt.shell, r)
			}
			out := sbx(t, append(append([]string{"run"}, tt.flags...), toolArgs(t, "escape", "userns")...)...).ok(t)
			wantLines(t, out, tt.want...)
			if tt.notWant != "" && slices.Contains(lines(out), tt.notWant) {
				t.Errorf("want no line %q:\n%s", tt.notWant, out)
			}
		})
	}
	t.Run("baseline", func(t *testing.T) {
		t.Parallel()
		if v := hostSysctl("user.max_user_namespaces"); v == "0" || v == "1" {
			t.Logf("this host's user.max_user_namespaces=%s leaves no room for a nested namespace: only the sbx side is checked", v)
			return
		}
		runBaseline(t, []string{"unshare", "-Ur", "unshare", "-U", "true"}, "", nil).ok(t)
		out := runBaseline(t, baselineCommand(t, unshareRoot, "userns"), "", nil).ok(t)
		wantLines(t, out, "clone ok", "clone3 ok")
	})
}

package seccomp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// onFilteredThread runs fn on a fresh OS thread that has no_new_privs and
// the filter installed; the thread ends with fn, so the filter goes with it.
func onFilteredThread(t *testing.T, prog Program, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			done <- err
			return
		}
		if err := Install(prog); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func errnoOf(_, _ uintptr, e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// rawCall is a raw syscall whose answer says whether a filter refused it:
// each passes arguments the kernel refuses harmlessly (a bad descriptor,
// bad flags) when the filter lets the call through.
type rawCall func() error

func sys(nr uintptr, args ...uintptr) rawCall {
	return func() error {
		var a [6]uintptr
		copy(a[:], args)
		return errnoOf(unix.RawSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]))
	}
}

// socketCall creates a socket (or a pair) and closes what it got.
func socketCall(nr, domain uintptr) rawCall {
	return func() error {
		var fds [2]int32
		r, _, e := unix.RawSyscall6(nr, domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, uintptr(unsafe.Pointer(&fds)), 0, 0)
		if e != 0 {
			return e
		}
		if nr == unix.SYS_SOCKETPAIR {
			unix.Close(int(fds[0]))
			unix.Close(int(fds[1]))
		} else {
			unix.Close(int(r))
		}
		return nil
	}
}

// cloneBad is clone(2) with flags plus CLONE_SIGHAND without CLONE_VM,
// which the kernel refuses (EINVAL) before it creates anything.
func cloneBad(flags uintptr) rawCall {
	return sys(unix.SYS_CLONE, flags|unix.CLONE_SIGHAND)
}

// unshareBad is unshare(2) with flags plus CLONE_IO, which unshare does not
// take (EINVAL).
func unshareBad(flags uintptr) rawCall {
	return sys(unix.SYS_UNSHARE, flags|unix.CLONE_IO)
}

// profileCase is one call under one profile: want is the errno the filter
// answers, or nil when the filter must let it through (any answer of the
// kernel's but EPERM and ENOSYS).
type profileCase struct {
	name string
	opts Options
	call rawCall
	want error
}

// runProfileCases makes each call on a thread filtered by the built-in
// profile for its options, and checks the answers.
func runProfileCases(t *testing.T, cases []profileCase) {
	t.Helper()
	if err := tableFacts(); err != nil {
		t.Fatal(err)
	}
	results := make([]error, len(cases))
	progs := map[string]Program{}
	for i, c := range cases {
		key := fmt.Sprintf("%+v", c.opts)
		prog, ok := progs[key]
		if !ok {
			var err error
			if prog, err = Compile(DefaultProfile(c.opts), true); err != nil {
				t.Fatal(err)
			}
			progs[key] = prog
		}
		onFilteredThread(t, prog, func() { results[i] = c.call() })
	}
	for i, c := range cases {
		got := results[i]
		switch {
		case c.want != nil && !errors.Is(got, c.want):
			t.Errorf("%s (%+v): got %v, want %v", c.name, c.opts, got, c.want)
		case c.want == nil && (errors.Is(got, unix.EPERM) || errors.Is(got, unix.ENOSYS)):
			t.Errorf("%s (%+v): refused with %v, want it let through", c.name, c.opts, got)
		}
	}
}

func TestBuiltinProfile(t *testing.T) {
	if err := tableFacts(); err != nil {
		t.Fatal(err)
	}
	tty, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	fd := tty.Fd()
	c := byte('x')
	var n int
	ptr := func(p any) uintptr {
		switch v := p.(type) {
		case *byte:
			return uintptr(unsafe.Pointer(v))
		case *int:
			return uintptr(unsafe.Pointer(v))
		}
		panic("ptr")
	}
	def := Options{}
	eperm, enosys := unix.EPERM, unix.ENOSYS
	cases := []profileCase{
		{"keyctl", def, sys(unix.SYS_KEYCTL), eperm},
		{"add_key", def, sys(unix.SYS_ADD_KEY), eperm},
		{"bpf", def, sys(unix.SYS_BPF), eperm},
		{"userfaultfd", def, sys(unix.SYS_USERFAULTFD), eperm},
		{"perf_event_open", def, sys(unix.SYS_PERF_EVENT_OPEN), eperm},
		{"fsopen", def, sys(unix.SYS_FSOPEN), eperm},
		{"TIOCSTI", def, sys(unix.SYS_IOCTL, fd, unix.TIOCSTI, ptr(&c)), eperm},
		{"TIOCSTI with high bits set (CVE-2019-10063)", def, sys(unix.SYS_IOCTL, fd, 1<<32|unix.TIOCSTI, ptr(&c)), eperm},
		{"TIOCLINUX", def, sys(unix.SYS_IOCTL, fd, unix.TIOCLINUX, ptr(&c)), eperm},
		{"ioctl FIONREAD", def, sys(unix.SYS_IOCTL, fd, unix.TIOCINQ, ptr(&n)), nil},
		{"personality ADDR_NO_RANDOMIZE", def, sys(unix.SYS_PERSONALITY, 0x0040000), eperm},
		{"personality READ_IMPLIES_EXEC", def, sys(unix.SYS_PERSONALITY, 0x0400000), eperm},
		{"personality query", def, sys(unix.SYS_PERSONALITY, 0xffffffff), nil},
		{"personality PER_LINUX", def, sys(unix.SYS_PERSONALITY, 0), nil},
		{"newer than the table", def, sys(uintptr(maxKnown + 1)), enosys},
		{"getpid", def, sys(unix.SYS_GETPID), nil},

		// Issue #11: io_uring, AF_VSOCK, F_SETSIG; --seccomp-allow.
		{"io_uring_setup", def, sys(unix.SYS_IO_URING_SETUP, 0, 0), eperm},
		{"io_uring_enter", def, sys(unix.SYS_IO_URING_ENTER, ^uintptr(0)), eperm},
		{"io_uring_register", def, sys(unix.SYS_IO_URING_REGISTER, ^uintptr(0)), eperm},
		{"io_uring_enter, allowed", Options{Allow: []string{"io_uring"}}, sys(unix.SYS_IO_URING_ENTER, ^uintptr(0)), nil},
		{"io_uring_register, allowed", Options{Allow: []string{"io_uring"}}, sys(unix.SYS_IO_URING_REGISTER, ^uintptr(0)), nil},
		{"socket AF_VSOCK", def, socketCall(unix.SYS_SOCKET, unix.AF_VSOCK), eperm},
		{"socket AF_VSOCK with high bits set", def, socketCall(unix.SYS_SOCKET, 1<<32|unix.AF_VSOCK), eperm},
		{"socketpair AF_VSOCK", def, socketCall(unix.SYS_SOCKETPAIR, unix.AF_VSOCK), eperm},
		{"socket AF_VSOCK, allowed", Options{Allow: []string{"vsock"}}, socketCall(unix.SYS_SOCKET, unix.AF_VSOCK), nil},
		{"socketpair AF_VSOCK, allowed", Options{Allow: []string{"vsock", "io_uring"}}, socketCall(unix.SYS_SOCKETPAIR, unix.AF_VSOCK), nil},
		{"socket AF_VSOCK, io_uring allowed", Options{Allow: []string{"io_uring"}}, socketCall(unix.SYS_SOCKET, unix.AF_VSOCK), eperm},
		{"socket AF_UNIX", def, socketCall(unix.SYS_SOCKET, unix.AF_UNIX), nil},
		{"socketpair AF_UNIX", def, socketCall(unix.SYS_SOCKETPAIR, unix.AF_UNIX), nil},
		{"fcntl F_SETSIG", def, sys(unix.SYS_FCNTL, fd, unix.F_SETSIG, uintptr(unix.SIGKILL)), eperm},
		{"fcntl F_SETSIG with high bits set", def, sys(unix.SYS_FCNTL, fd, 1<<32|unix.F_SETSIG, uintptr(unix.SIGKILL)), eperm},
		{"fcntl F_GETSIG", def, sys(unix.SYS_FCNTL, fd, unix.F_GETSIG), nil},
		{"fcntl F_SETOWN", def, sys(unix.SYS_FCNTL, fd, unix.F_SETOWN, 0), nil},
		{"fcntl F_GETFL", def, sys(unix.SYS_FCNTL, fd, unix.F_GETFL), nil},

		// Issue #20: Docker's default profile.
		{"name_to_handle_at", def, sys(unix.SYS_NAME_TO_HANDLE_AT, ^uintptr(0)), eperm},
		{"open_by_handle_at", def, sys(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0)), eperm},
		{"name_to_handle_at with CAP_DAC_READ_SEARCH", Options{Capabilities: []string{"CAP_DAC_READ_SEARCH"}}, sys(unix.SYS_NAME_TO_HANDLE_AT, ^uintptr(0)), nil},
		{"sysfs", def, sys(unix.SYS_SYSFS, 3), eperm},
		{"kcmp", def, sys(unix.SYS_KCMP), eperm},
		{"pidfd_getfd", def, sys(unix.SYS_PIDFD_GETFD, ^uintptr(0)), eperm},
		{"pidfd_getfd with CAP_SYS_PTRACE", Options{Capabilities: []string{"CAP_SYS_PTRACE"}}, sys(unix.SYS_PIDFD_GETFD, ^uintptr(0)), nil},
		{"process_madvise", def, sys(unix.SYS_PROCESS_MADVISE, ^uintptr(0)), eperm},
		{"fanotify_init", def, sys(unix.SYS_FANOTIFY_INIT, ^uintptr(0)), eperm},
		{"chroot", def, sys(unix.SYS_CHROOT), eperm},
		{"chroot with CAP_SYS_CHROOT", Options{Capabilities: []string{"CAP_SYS_CHROOT"}}, sys(unix.SYS_CHROOT), nil},
		{"sethostname", def, sys(unix.SYS_SETHOSTNAME, 0, 1000), eperm},
		{"setdomainname", def, sys(unix.SYS_SETDOMAINNAME, 0, 1000), eperm},
		{"vhangup", def, sys(unix.SYS_VHANGUP), eperm},
		{"reboot", def, sys(unix.SYS_REBOOT), eperm},
		{"acct", def, sys(unix.SYS_ACCT), eperm},
		{"clock_settime", def, sys(unix.SYS_CLOCK_SETTIME, ^uintptr(0)), eperm},
		{"get_mempolicy", def, sys(unix.SYS_GET_MEMPOLICY), eperm},
		{"get_mempolicy with CAP_SYS_NICE", Options{Capabilities: []string{"CAP_SYS_NICE"}}, sys(unix.SYS_GET_MEMPOLICY), nil},
		{"mbind", def, sys(unix.SYS_MBIND), eperm},
		{"set_mempolicy", def, sys(unix.SYS_SET_MEMPOLICY, ^uintptr(0)), eperm},
		{"migrate_pages", def, sys(unix.SYS_MIGRATE_PAGES, ^uintptr(0)), eperm},
		{"move_pages", def, sys(unix.SYS_MOVE_PAGES, ^uintptr(0)), eperm},
		{"lookup_dcookie", def, sys(unix.SYS_LOOKUP_DCOOKIE), eperm},
		{"bpf with CAP_BPF", Options{Capabilities: []string{"CAP_BPF"}}, sys(unix.SYS_BPF, ^uintptr(0)), nil},
		{"ptrace (Docker allows it too)", def, sys(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, 0), nil},

		// Namespaces: nested user namespaces off unless AllowUserns;
		// without CAP_SYS_ADMIN no unshare, setns or clone of a namespace.
		{"unshare CLONE_NEWUSER", def, unshareBad(unix.CLONE_NEWUSER), eperm},
		{"unshare CLONE_NEWNET", def, unshareBad(unix.CLONE_NEWNET), eperm},
		{"unshare CLONE_FILES", def, unshareBad(unix.CLONE_FILES), eperm},
		{"setns CLONE_NEWUSER", def, sys(unix.SYS_SETNS, ^uintptr(0), unix.CLONE_NEWUSER), eperm},
		{"setns any type", def, sys(unix.SYS_SETNS, ^uintptr(0), 0), eperm},
		{"clone CLONE_NEWUSER", def, cloneBad(unix.CLONE_NEWUSER), eperm},
		{"clone CLONE_NEWNET", def, cloneBad(unix.CLONE_NEWNET), eperm},
		{"clone CLONE_NEWNS", def, cloneBad(unix.CLONE_NEWNS), eperm},
		{"clone without namespaces", def, cloneBad(0), nil},
		{"clone3", def, sys(unix.SYS_CLONE3), enosys},
		{"unshare CLONE_NEWUSER with CAP_SYS_ADMIN", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, unshareBad(unix.CLONE_NEWUSER), eperm},
		{"unshare CLONE_NEWNET with CAP_SYS_ADMIN", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, unshareBad(unix.CLONE_NEWNET), nil},
		{"setns CLONE_NEWUSER with CAP_SYS_ADMIN", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, sys(unix.SYS_SETNS, ^uintptr(0), unix.CLONE_NEWUSER), eperm},
		{"setns CLONE_NEWUSER|CLONE_NEWNET with CAP_SYS_ADMIN (pidfd)", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, sys(unix.SYS_SETNS, ^uintptr(0), unix.CLONE_NEWUSER|unix.CLONE_NEWNET), eperm},
		{"setns CLONE_NEWNET with CAP_SYS_ADMIN", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, sys(unix.SYS_SETNS, ^uintptr(0), unix.CLONE_NEWNET), nil},
		{"clone CLONE_NEWUSER with CAP_SYS_ADMIN", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, cloneBad(unix.CLONE_NEWUSER), eperm},
		{"clone CLONE_NEWNET with CAP_SYS_ADMIN", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, cloneBad(unix.CLONE_NEWNET), nil},
		{"clone3 with CAP_SYS_ADMIN", Options{Capabilities: []string{"CAP_SYS_ADMIN"}}, sys(unix.SYS_CLONE3), enosys},
		{"unshare CLONE_NEWUSER, allowed", Options{AllowUserns: true}, unshareBad(unix.CLONE_NEWUSER), nil},
		{"unshare CLONE_NEWNET, allowed", Options{AllowUserns: true}, unshareBad(unix.CLONE_NEWNET), nil},
		{"setns CLONE_NEWUSER, allowed", Options{AllowUserns: true}, sys(unix.SYS_SETNS, ^uintptr(0), unix.CLONE_NEWUSER), nil},
		{"clone CLONE_NEWUSER, allowed", Options{AllowUserns: true}, cloneBad(unix.CLONE_NEWUSER), nil},
		{"clone3, allowed", Options{AllowUserns: true}, sys(unix.SYS_CLONE3), nil},
	}
	runProfileCases(t, cases)
}

// Every name the built-in profile refuses is known to libseccomp on this
// architecture, or is one it may not have (then the kernel has none).
func TestBuiltinProfileNames(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the list of names a table may lack is x86-64's")
	}
	mayLack := map[string]bool{"open_tree_attr": true, "umount": true, "stime": true, "vm86": true, "vm86old": true}
	for _, r := range DefaultProfile(Options{}).Syscalls {
		for _, n := range r.Names {
			if _, err := libseccomp.GetSyscallFromName(n); err != nil && !mayLack[n] {
				t.Errorf("%s: unknown to libseccomp on %s: Compile skips it, unfiltered", n, runtime.GOARCH)
			}
		}
	}
}

func TestCheckAllow(t *testing.T) {
	for _, c := range []struct {
		names []string
		ok    bool
	}{
		{nil, true}, {[]string{"io_uring"}, true}, {[]string{"vsock", "io_uring"}, true},
		{[]string{"iouring"}, false}, {[]string{""}, false}, {[]string{"vsock", "ptrace"}, false},
	} {
		err := CheckAllow(c.names)
		if (err == nil) != c.ok {
			t.Errorf("CheckAllow(%q) = %v, want ok %v", c.names, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "io_uring, vsock") {
			t.Errorf("CheckAllow(%q) = %v: want the valid names in it", c.names, err)
		}
	}
}

func TestBuiltinProfileKeepsMountAPIWithSysAdmin(t *testing.T) {
	with := DefaultProfile(Options{Capabilities: []string{"CAP_SYS_ADMIN"}})
	without := DefaultProfile(Options{})
	has := func(p *specs.LinuxSeccomp, name string) bool {
		for _, r := range p.Syscalls {
			for _, n := range r.Names {
				if n == name {
					return true
				}
			}
		}
		return false
	}
	if has(with, "fsopen") || !has(without, "fsopen") {
		t.Errorf("fsopen denied: with CAP_SYS_ADMIN %v, without %v; want false, true", has(with, "fsopen"), has(without, "fsopen"))
	}
}

func TestCompileFileProfiles(t *testing.T) {
	eperm := uint(unix.EPERM)
	cases := []struct {
		name    string
		json    string
		wantErr bool
	}{
		{"deny list", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ERRNO"}]}`, false},
		{"allow list", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`, false},
		{"unknown names are skipped", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_syscall","getcwd"],"action":"SCMP_ACT_ERRNO"}]}`, false},
		{"bad action", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_EXPLODE"}]}`, true},
		{"bad operator", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}`, true},
		{"notify", `{"defaultAction":"SCMP_ACT_NOTIFY"}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "profile.json")
			if err := os.WriteFile(path, []byte(c.json), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := LoadFile(path)
			if err == nil {
				_, err = Compile(p, false)
			}
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
		})
	}
	// A deny-list file profile really denies, with its own errno.
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno, ErrnoRet: &eperm}}}
	prog, err := Compile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	var got error
	onFilteredThread(t, prog, func() {
		buf := make([]byte, 256)
		_, got = unix.Getcwd(buf)
	})
	if !errors.Is(got, unix.EPERM) {
		t.Errorf("getcwd under a profile denying it: %v, want EPERM", got)
	}
}

func BenchmarkCompileBuiltin(b *testing.B) {
	p := DefaultProfile(Options{})
	for b.Loop() {
		if _, err := Compile(p, true); err != nil {
			b.Fatal(err)
		}
	}
}

// highestKnown must find what asking for every number finds.
func TestHighestKnown(t *testing.T) {
	var want uint32
	for n := 1023; n >= 0; n-- {
		if _, err := libseccomp.ScmpSyscall(n).GetName(); err == nil {
			want = uint32(n)
			break
		}
	}
	if got := highestKnown(); got != want || got == 0 {
		t.Errorf("highestKnown() = %d, a scan of every number finds %d", got, want)
	}
}

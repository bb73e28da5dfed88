package seccomp

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
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

func TestBuiltinProfile(t *testing.T) {
	prog, err := Compile(DefaultProfile(Options{DisableUserns: true}), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tableFacts(); err != nil {
		t.Fatal(err)
	}
	tty, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	c := byte('x')
	cases := []struct {
		name string
		call func() error
		want error // nil: not refused by the filter (any result but want)
	}{
		{"keyctl", func() error { return errnoOf(unix.RawSyscall(unix.SYS_KEYCTL, 0, 0, 0)) }, unix.EPERM},
		{"add_key", func() error { return errnoOf(unix.RawSyscall6(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0, 0)) }, unix.EPERM},
		{"bpf", func() error { return errnoOf(unix.RawSyscall(unix.SYS_BPF, 0, 0, 0)) }, unix.EPERM},
		{"userfaultfd", func() error { return errnoOf(unix.RawSyscall(unix.SYS_USERFAULTFD, 0, 0, 0)) }, unix.EPERM},
		{"perf_event_open", func() error { return errnoOf(unix.RawSyscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, 0, 0, 0, 0)) }, unix.EPERM},
		{"fsopen", func() error { return errnoOf(unix.RawSyscall(unix.SYS_FSOPEN, 0, 0, 0)) }, unix.EPERM},
		{"TIOCSTI", func() error {
			return errnoOf(unix.RawSyscall(unix.SYS_IOCTL, tty.Fd(), unix.TIOCSTI, uintptr(unsafe.Pointer(&c))))
		}, unix.EPERM},
		{"TIOCSTI with high bits set (CVE-2019-10063)", func() error {
			return errnoOf(unix.RawSyscall(unix.SYS_IOCTL, tty.Fd(), 1<<32|unix.TIOCSTI, uintptr(unsafe.Pointer(&c))))
		}, unix.EPERM},
		{"TIOCLINUX", func() error {
			return errnoOf(unix.RawSyscall(unix.SYS_IOCTL, tty.Fd(), unix.TIOCLINUX, uintptr(unsafe.Pointer(&c))))
		}, unix.EPERM},
		{"personality ADDR_NO_RANDOMIZE", func() error { return errnoOf(unix.RawSyscall(unix.SYS_PERSONALITY, 0x0040000, 0, 0)) }, unix.EPERM},
		{"personality READ_IMPLIES_EXEC", func() error { return errnoOf(unix.RawSyscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0)) }, unix.EPERM},
		{"personality query", func() error { return errnoOf(unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)) }, nil},
		{"personality PER_LINUX", func() error { return errnoOf(unix.RawSyscall(unix.SYS_PERSONALITY, 0, 0, 0)) }, nil},
		{"unshare CLONE_NEWUSER", func() error {
			return errnoOf(unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER|unix.CLONE_NEWNS, 0, 0))
		}, unix.EPERM},
		{"clone3", func() error { return errnoOf(unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)) }, unix.ENOSYS},
		{"newer than the table", func() error { return errnoOf(unix.RawSyscall(uintptr(maxKnown+1), 0, 0, 0)) }, unix.ENOSYS},
		{"getpid", func() error { return errnoOf(unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)) }, nil},
		{"ioctl FIONREAD", func() error {
			var n int
			return errnoOf(unix.RawSyscall(unix.SYS_IOCTL, tty.Fd(), unix.TIOCINQ, uintptr(unsafe.Pointer(&n))))
		}, nil},
	}
	results := make([]error, len(cases))
	onFilteredThread(t, prog, func() {
		for i, c := range cases {
			results[i] = c.call()
		}
	})
	for i, c := range cases {
		got := results[i]
		switch {
		case c.want != nil && !errors.Is(got, c.want):
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		case c.want == nil && (errors.Is(got, unix.EPERM) || errors.Is(got, unix.ENOSYS)):
			t.Errorf("%s: refused with %v, want it allowed", c.name, got)
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

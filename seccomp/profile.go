// Package seccomp builds the seccomp filters of sbx: the built-in default
// profile, OCI LinuxSeccomp profiles read from a file, their compilation
// into a classic BPF program (with libseccomp), and its installation on the
// thread that is about to exec the command.
//
// The sbx parent compiles the filter, so that a bad profile fails before
// anything is started; the sandbox only installs the finished program.
package seccomp

import (
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// BuiltinAnnotation marks a spec whose Linux.Seccomp is sbx's built-in
// profile; such a profile is compiled with the guards of Compile.
const BuiltinAnnotation = "sbx.seccomp"

// BuiltinValue is the value of BuiltinAnnotation for the built-in profile.
const BuiltinValue = "builtin"

// denied are syscalls the default profile answers with EPERM: kernel keyrings
// (shared with the host user), kernel modules, kexec and reboot, eBPF and
// perf events, swap, accounting and quotas, handle-based opens (the
// "shocker" escape), userfaultfd (a classic exploit primitive), the clock,
// and a few obsolete entry points.
var denied = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "get_kernel_syms", "init_module", "ioperm",
	"iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
	"nfsservctl", "open_by_handle_at", "perf_event_open", "query_module",
	"quotactl", "quotactl_fd", "reboot", "request_key", "settimeofday", "stime",
	"swapoff", "swapon", "syslog", "_sysctl", "uselib", "userfaultfd", "ustat",
	"vm86", "vm86old",
}

// mountAPI are the mount syscalls, new and old. Without CAP_SYS_ADMIN they
// fail anyway; denying them keeps a kernel bug in them out of reach too.
var mountAPI = []string{
	"fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
	"move_mount", "open_tree", "open_tree_attr", "pivot_root", "umount", "umount2",
}

// newUserNamespace are the clone flags that --disable-userns refuses.
const newUserNamespace = unix.CLONE_NEWUSER

// Ioctl requests nobody in a sandbox may make: TIOCSTI pushes input into a
// terminal (the caller's, if it leaked in), TIOCLINUX can do the same on a
// virtual console. The kernel reads the request as a 32-bit int, so only the
// low 32 bits are compared (bwrap/Flatpak CVE-2019-10063).
var deniedIoctls = []uint64{unix.TIOCSTI, unix.TIOCLINUX}

// Options are what the default profile depends on.
type Options struct {
	// Capabilities are the bounding set of the command ("CAP_SYS_ADMIN", ...).
	Capabilities []string
	// DisableUserns refuses new user namespaces.
	DisableUserns bool
}

// DefaultProfile returns sbx's built-in profile: allow by default, EPERM
// for the syscalls above, the mount API unless CAP_SYS_ADMIN is granted,
// TIOCSTI and TIOCLINUX, and (with DisableUserns) new user namespaces. The
// guards Compile adds for the built-in profile refuse personality flags
// other than the safe ones, 32-bit and x32 entry points, and answer ENOSYS
// to syscalls newer than sbx's syscall table.
func DefaultProfile(o Options) *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	names := slices.Clone(denied)
	if !slices.Contains(o.Capabilities, "CAP_SYS_ADMIN") {
		names = append(names, mountAPI...)
	}
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: specs.ActErrno, ErrnoRet: &eperm},
		},
	}
	for _, req := range deniedIoctls {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: req, Op: specs.OpMaskedEqual}},
		})
	}
	if o.DisableUserns {
		for _, call := range []struct {
			name string
			arg  uint
		}{{"unshare", 0}, {"clone", 0}} {
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
				Names: []string{call.name}, Action: specs.ActErrno, ErrnoRet: &eperm,
				Args: []specs.LinuxSeccompArg{{Index: call.arg, Value: newUserNamespace, ValueTwo: newUserNamespace, Op: specs.OpMaskedEqual}},
			})
		}
		// clone3 passes its flags in memory, out of a filter's sight: ENOSYS
		// makes the C library fall back to clone, which is checked above.
		enosys := uint(unix.ENOSYS)
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	}
	return p
}

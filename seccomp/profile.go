// Package seccomp builds the seccomp filters of sbx: the built-in default
// profile, OCI LinuxSeccomp profiles read from a file, their compilation
// into a classic BPF program (with libseccomp), and its installation on the
// thread that is about to exec the command.
//
// The sbx parent compiles the filter, so that a bad profile fails before
// anything is started; the sandbox only installs the finished program.
package seccomp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// denied are syscalls the default profile always answers with EPERM, as
// Docker's does: kernel keyrings (shared with the host user), kexec, swap,
// userfaultfd (a classic exploit primitive), page migration of other
// processes, obsolete entry points (sysfs, ustat, uselib, _sysctl, the old
// module calls, vm86) and ones Linux never implemented.
var denied = []string{
	"add_key", "keyctl", "request_key",
	"kexec_file_load", "kexec_load",
	"swapoff", "swapon",
	"userfaultfd",
	"migrate_pages", "move_pages",
	"create_module", "get_kernel_syms", "query_module", "nfsservctl",
	"_sysctl", "sysfs", "uselib", "ustat", "vm86", "vm86old",
	"afs_syscall", "getpmsg", "putpmsg", "security", "tuxcall", "vserver",
}

// mountAPI are the mount syscalls, new and old. Without CAP_SYS_ADMIN they
// fail anyway; denying them keeps a kernel bug in them out of reach too.
var mountAPI = []string{
	"fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
	"move_mount", "open_tree", "open_tree_attr", "pivot_root", "umount", "umount2",
}

// gated are syscalls answered with EPERM unless the command's bounding set
// holds one of caps: the exceptions of Docker's default profile (plus
// pivot_root with the mount API, name_to_handle_at with open_by_handle_at,
// and clock_adjtime with the other clock calls). Without the capability
// the kernel refuses most of them anyway, or they reach host-wide state.
var gated = []struct {
	caps  []string
	names []string
}{
	{[]string{"CAP_SYS_ADMIN"}, mountAPI},
	{[]string{"CAP_SYS_ADMIN"}, []string{"fanotify_init", "lookup_dcookie", "quotactl", "quotactl_fd", "sethostname", "setdomainname"}},
	{[]string{"CAP_SYS_ADMIN", "CAP_BPF"}, []string{"bpf"}},
	{[]string{"CAP_SYS_ADMIN", "CAP_PERFMON"}, []string{"perf_event_open"}},
	{[]string{"CAP_SYS_ADMIN", "CAP_SYSLOG"}, []string{"syslog"}},
	{[]string{"CAP_DAC_READ_SEARCH"}, []string{"open_by_handle_at", "name_to_handle_at"}},
	{[]string{"CAP_SYS_BOOT"}, []string{"reboot"}},
	{[]string{"CAP_SYS_CHROOT"}, []string{"chroot"}},
	{[]string{"CAP_SYS_MODULE"}, []string{"init_module", "finit_module", "delete_module"}},
	{[]string{"CAP_SYS_PACCT"}, []string{"acct"}},
	{[]string{"CAP_SYS_PTRACE"}, []string{"kcmp", "pidfd_getfd", "process_madvise"}},
	{[]string{"CAP_SYS_RAWIO"}, []string{"iopl", "ioperm"}},
	{[]string{"CAP_SYS_TIME"}, []string{"settimeofday", "stime", "clock_settime", "clock_adjtime"}},
	{[]string{"CAP_SYS_TTY_CONFIG"}, []string{"vhangup"}},
	{[]string{"CAP_SYS_NICE"}, []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
}

// namespaceFlags are the clone flags of new namespaces that clone(2) takes
// (CLONE_NEWTIME shares its bit with the exit signal there; only unshare
// and clone3 take it).
var namespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC,
	unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET,
}

// Ioctl requests nobody in a sandbox may make: TIOCSTI pushes input into a
// terminal (the caller's, if it leaked in), TIOCLINUX can do the same on a
// virtual console. The kernel reads the request as a 32-bit int, so only the
// low 32 bits are compared (bwrap/Flatpak CVE-2019-10063).
var deniedIoctls = []uint64{unix.TIOCSTI, unix.TIOCLINUX}

// deniedFcntls are fcntl(2) commands refused by default. F_SETSIG picks the
// signal the kernel sends the owner of a file description when I/O is
// possible: on a description shared with a host process that made itself
// its owner (an inherited pipe or socket), the sandbox could have the
// kernel send that process SIGKILL. The owner itself (F_SETOWN) can only be
// a process the sandbox sees, one of its own PID namespace. The kernel
// reads cmd as an unsigned int: the low 32 bits are compared.
var deniedFcntls = []uint64{unix.F_SETSIG}

// afVsock is AF_VSOCK: sockets to the hypervisor and other VMs, which no
// network namespace confines.
const afVsock = unix.AF_VSOCK

// Optional are the groups of calls refused by default that --seccomp-allow
// may allow again, by name.
var Optional = map[string]string{
	"io_uring": "io_uring_setup, io_uring_enter, io_uring_register",
	"vsock":    "socket and socketpair with AF_VSOCK",
}

// OptionalNames returns the names of Optional, sorted.
func OptionalNames() []string {
	names := make([]string, 0, len(Optional))
	for n := range Optional {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// CheckAllow checks the names of --seccomp-allow.
func CheckAllow(names []string) error {
	for _, n := range names {
		if _, ok := Optional[n]; !ok {
			return fmt.Errorf("--seccomp-allow %q: unknown name; valid: %s", n, strings.Join(OptionalNames(), ", "))
		}
	}
	return nil
}

// Options are what the default profile depends on.
type Options struct {
	// Capabilities are the bounding set of the command ("CAP_SYS_ADMIN", ...).
	Capabilities []string
	// AllowUserns lets the command create user namespaces, and with them
	// the other namespaces (the kernel decides, as without a filter).
	AllowUserns bool
	// Allow names groups of Optional to allow again.
	Allow []string
}

// DefaultProfile returns sbx's built-in profile: allow by default; EPERM
// for the syscalls above (the gated ones unless a capability allows them),
// io_uring and AF_VSOCK sockets (unless Allow names them), TIOCSTI,
// TIOCLINUX and F_SETSIG; and, unless AllowUserns, new user namespaces
// (unshare, clone and setns with CLONE_NEWUSER: EPERM; clone3, whose flags
// a filter cannot read: ENOSYS, so that the C library falls back to clone)
// and, without CAP_SYS_ADMIN, every unshare, setns and clone of a new
// namespace, as Docker's profile does. The guards Compile adds for the
// built-in profile refuse personality flags other than the safe ones,
// 32-bit and x32 entry points, and answer ENOSYS to syscalls newer than
// sbx's syscall table.
func DefaultProfile(o Options) *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	hasCap := func(caps []string) bool {
		return slices.ContainsFunc(caps, func(c string) bool { return slices.Contains(o.Capabilities, c) })
	}
	names := slices.Clone(denied)
	for _, g := range gated {
		if !hasCap(g.caps) {
			names = append(names, g.names...)
		}
	}
	if !slices.Contains(o.Allow, "io_uring") {
		names = append(names, "io_uring_setup", "io_uring_enter", "io_uring_register")
	}
	sysAdmin := slices.Contains(o.Capabilities, "CAP_SYS_ADMIN")
	if !o.AllowUserns && !sysAdmin {
		names = append(names, "unshare", "setns")
	}
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno, ErrnoRet: &eperm}},
	}
	// refuse adds a rule: call is refused with EPERM when the low 32 bits
	// of argument arg, masked with mask, equal value.
	refuse := func(call string, arg uint, mask, value uint64) {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names: []string{call}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: arg, Value: mask, ValueTwo: value, Op: specs.OpMaskedEqual}},
		})
	}
	for _, req := range deniedIoctls {
		refuse("ioctl", 1, 0xffffffff, req)
	}
	for _, cmd := range deniedFcntls {
		refuse("fcntl", 1, 0xffffffff, cmd)
	}
	if !slices.Contains(o.Allow, "vsock") {
		refuse("socket", 0, 0xffffffff, afVsock)
		refuse("socketpair", 0, 0xffffffff, afVsock)
	}
	if o.AllowUserns {
		return p
	}
	switch {
	case sysAdmin:
		// Namespaces other than the user namespace stay allowed. A
		// setns(fd, 0) with a user namespace's descriptor passes (the
		// filter cannot see what fd is), but finds nothing to join: the
		// sandbox can make no user namespace, the kernel refuses its own
		// (EINVAL) and an ancestor's wants capabilities over it.
		refuse("unshare", 0, unix.CLONE_NEWUSER, unix.CLONE_NEWUSER)
		refuse("setns", 1, unix.CLONE_NEWUSER, unix.CLONE_NEWUSER)
		refuse("clone", cloneFlagsArg(), unix.CLONE_NEWUSER, unix.CLONE_NEWUSER)
	default:
		// unshare and setns are refused whole, above.
		for _, f := range namespaceFlags {
			refuse("clone", cloneFlagsArg(), f, f)
		}
	}
	// clone3 passes its flags in memory, out of a filter's sight: ENOSYS
	// makes the C library fall back to clone, which is checked above.
	enosys := uint(unix.ENOSYS)
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	return p
}

// cloneFlagsArg is the argument of clone(2) that holds the flags: the
// first, but the second on s390x.
func cloneFlagsArg() uint {
	if hostArch() == "s390x" {
		return 1
	}
	return 0
}

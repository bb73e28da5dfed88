package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"

	"github.com/sbx-sandbox/sbx/state"
)

// An attached sandbox that runs for a while does not need the Go runtime of
// the sbx parent, only a process that forwards signals to it, waits for it
// and removes its record. So once its command has run for handOverAfter, the
// parent re-executes itself as a monitor that the C constructor runs
// (nsexec.c) before any Go starts: the same pid, still the parent of the
// sandbox's pid 1, at a fraction of the memory. A sandbox with a terminal
// stays with the Go parent, which relays the terminal.
const (
	// MonitorEnv holds "PID1 STARTTIME NAME" ("-" for no record) for the
	// monitor; nsexec.c reads it.
	MonitorEnv = "_SBX_MONITOR"
	// CleanupEnv holds "CODE PID1 STARTTIME NAME": the monitor re-executes
	// sbx once more with it to remove the record and exit with CODE.
	CleanupEnv = "_SBX_CLEANUP"

	handOverAfter = 200 * time.Millisecond
)

// exitsWithin reports whether the child pid exits within d, without
// reaping it.
func exitsWithin(pid int, d time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false // it will be reaped the plain way
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// handOver replaces this process with the monitor. It must run on the
// thread that started stage 0 (main locks the main goroutine to the main
// thread): the sandbox's pid 1 is that thread's child, and its parent-death
// signal fires when that thread ends. It returns only if the exec failed,
// and the caller then goes on waiting itself.
func (p *process) handOver() error {
	var set unix.Sigset_t
	for _, s := range ForwardedSignals {
		n := uint(s.(syscall.Signal)) - 1
		set.Val[n/64] |= 1 << (n % 64)
	}
	// Blocked in every thread (psx runs the call on all of them), a signal
	// that comes now stays pending, and the exec keeps it pending for the
	// monitor; the ones Go has caught already are passed on here.
	mask := func(how int) error {
		if _, _, e := psx.Syscall6(unix.SYS_RT_SIGPROCMASK, uintptr(how), uintptr(unsafe.Pointer(&set)), 0, unsafe.Sizeof(set.Val[0]), 0, 0); e != 0 {
			return fmt.Errorf("block signals for the hand-over: %w", e)
		}
		return nil
	}
	if err := mask(unix.SIG_BLOCK); err != nil {
		return err
	}
	for drained := false; !drained; {
		select {
		case s := <-p.sigs:
			unix.Kill(p.init, s.(syscall.Signal))
		default:
			drained = true
		}
	}
	record := p.record
	if record == "" {
		record = "-"
	}
	env := append(os.Environ(), fmt.Sprintf("%s=%d %d %s", MonitorEnv, p.init, p.initStart, record))
	err := unix.Exec("/proc/self/exe", []string{"sbx", "monitor"}, env)
	mask(unix.SIG_UNBLOCK)
	return fmt.Errorf("hand the sandbox over to the monitor: %w", err)
}

// Cleanup is the last step of a monitored sandbox: remove its record if it
// is still the sandbox's, and return the exit code to end with.
func Cleanup(arg string) int {
	f := strings.Fields(arg)
	if len(f) != 4 {
		fmt.Fprintf(os.Stderr, "sbx: bad %s=%q: it is internal to sbx, unset it\n", CleanupEnv, arg)
		return ExitSbxFailed
	}
	code, err1 := strconv.Atoi(f[0])
	pid, err2 := strconv.Atoi(f[1])
	start, err3 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		fmt.Fprintf(os.Stderr, "sbx: bad %s=%q: it is internal to sbx, unset it\n", CleanupEnv, arg)
		return ExitSbxFailed
	}
	if f[3] != "-" {
		state.RemoveIfOwned(f[3], pid, start)
	}
	return code
}

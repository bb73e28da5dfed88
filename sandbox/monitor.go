package sandbox

import (
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"

	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/stamp"
	"github.com/sbx-sandbox/sbx/state"
)

// An attached sandbox that runs for a while does not need the Go runtime of
// the sbx parent, only a process that forwards signals to it, waits for it
// and removes its record. So once its command has run for handOverAfter, the
// parent re-executes itself as a monitor that the C constructor runs
// (nsexec/monitor.c) before any Go starts: the same pid, still the parent of
// the sandbox's pid 1, at a fraction of the memory. A sandbox with a
// terminal stays with the Go parent, which relays the terminal.
// nsexec.MonitorEnv holds "PID1 STARTTIME DIR" for the monitor: DIR is the
// absolute path of the record's directory (the rest of the value, spaces
// included), or "-" for no record. nsexec/monitor.c reads it, and removes
// the record itself while it still names PID1 and STARTTIME.
const handOverAfter = 200 * time.Millisecond

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
	record := "-"
	if p.record != "" {
		dir, err := state.Dir(p.record)
		if err != nil {
			return fmt.Errorf("hand the sandbox over to the monitor: %w", err)
		}
		record = dir
	}
	var set unix.Sigset_t
	for _, s := range ForwardedSignals {
		n := uint(s.(syscall.Signal)) - 1
		set.Val[n/64] |= 1 << (n % 64)
	}
	// Blocked in every thread (psx runs the call on all of them), a signal
	// that comes now stays pending, and the exec keeps it pending for the
	// monitor; the ones Go has caught already are passed on here. A thread
	// Go starts from now on has SIGINT and SIGTERM unblocked again: what
	// lands there goes to late (see stopCatching), drained here too, but
	// for the moment between the drain and the exec.
	mask := func(how int) error {
		if _, _, e := psx.Syscall6(unix.SYS_RT_SIGPROCMASK, uintptr(how), uintptr(unsafe.Pointer(&set)), 0, unsafe.Sizeof(set.Val[0]), 0, 0); e != 0 {
			return fmt.Errorf("block signals for the hand-over: %w", e)
		}
		return nil
	}
	if err := mask(unix.SIG_BLOCK); err != nil {
		return err
	}
	late := stopCatching()
	for drained := false; !drained; {
		select {
		case s := <-p.sigs:
			p.forward(s.(syscall.Signal))
		case s := <-late:
			p.forward(s.(syscall.Signal))
		default:
			drained = true
		}
	}
	env := append(os.Environ(), fmt.Sprintf("%s=%d %d %s", nsexec.MonitorEnv, p.init, p.initStart, record))
	if fd := stamp.FD(); fd >= 0 {
		// make bench: the monitor stamps its steps too.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err == nil {
			env = append(env, fmt.Sprintf("%s=%d", nsexec.StampFDEnv, fd))
		}
	}
	err := unix.Exec("/proc/self/exe", []string{"sbx", "monitor"}, env)
	// Still caught, on late: the caller forwards them from there.
	p.sigs = late
	mask(unix.SIG_UNBLOCK)
	return fmt.Errorf("hand the sandbox over to the monitor: %w", err)
}

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/state"
)

// What sbx tells of a detached sandbox after the fact: its output (Logs)
// and how its command ended (Wait).

// followPoll is how often Logs looks for new output while it follows.
const followPoll = 100 * time.Millisecond

// Logs copies the log of the sandbox name to w; with follow, it goes on
// copying what the sandbox writes until it ends. Only a detached sandbox
// has a log.
func Logs(name string, follow bool, w io.Writer) error {
	st, err := Lookup(name)
	if err != nil {
		return err
	}
	f, err := state.OpenLogReader(name)
	if errors.Is(err, state.ErrNoLog) {
		return fmt.Errorf("sandbox %s has no log: it runs attached, its output goes to the sbx run that started it", name)
	}
	if err != nil {
		return fmt.Errorf("open the log of %s: %w", name, err)
	}
	defer f.Close()
	if !follow || st.Status != state.Running {
		return copyLog(f, w)
	}
	pidfd, err := openSandboxPid(st)
	if err != nil {
		return copyLog(f, w) // it has just ended
	}
	defer unix.Close(pidfd)
	for {
		if err := copyLog(f, w); err != nil {
			return err
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(followPoll/time.Millisecond))
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("follow the log of %s: %w", name, err)
		}
		if n > 0 {
			// Ended: its pid 1 relayed the last output before it exited.
			return copyLog(f, w)
		}
	}
}

// copyLog copies what the log f holds past the offset read so far to w.
// A log that reached its cap starts again from empty (nsexec/logrelay.c):
// then it is read from its start again.
func copyLog(f *os.File, w io.Writer) error {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() < off {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
	}
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	return nil
}

// CheckWait returns the record of the sandbox name for Wait: it must have
// been started detached (an attached one's exit code goes to its sbx run).
func CheckWait(name string) (*state.State, error) {
	st, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if st.Status == state.Creating {
		return nil, fmt.Errorf("sandbox %s is starting: try again", name)
	}
	if !st.Detached {
		return nil, fmt.Errorf("sandbox %s runs attached: its exit code goes to the sbx run that started it (sbx wait is for sandboxes run with -d)", name)
	}
	return st, nil
}

// Wait waits for the sandbox st (from CheckWait) to end and returns its
// command's exit code (128+N for signal N).
func Wait(st *state.State) (int, error) {
	if st.Status == state.Running {
		if err := waitEnd(st); err != nil {
			return ExitSbxFailed, err
		}
	}
	// Pid 1 wrote the exit code before it exited.
	now, err := state.Load(st.Name)
	if err != nil {
		return ExitSbxFailed, fmt.Errorf("sandbox %s was removed before its exit code could be read", st.Name)
	}
	if now.Pid != st.Pid || now.StartTime != st.StartTime {
		return ExitSbxFailed, fmt.Errorf("sandbox %s was replaced before its exit code could be read", st.Name)
	}
	if now.ExitCode == nil {
		return ExitSbxFailed, fmt.Errorf("sandbox %s ended without an exit code: its pid 1 was killed from outside sbx", st.Name)
	}
	return *now.ExitCode, nil
}

package sandbox

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/cgroupv2"
	"github.com/sbx-sandbox/sbx/state"
)

// NewName returns a generated sandbox name. It reads getrandom(2) itself:
// crypto/rand would add its packages' initialisation to every start of sbx.
func NewName() string {
	var b [4]byte
	for {
		if _, err := unix.Getrandom(b[:], 0); err != unix.EINTR {
			break
		}
	}
	return "sbx-" + hex.EncodeToString(b[:])
}

// ParseSignal parses a signal by name (with or without SIG, any case) or
// number.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("bad signal %q: numbers go from 1 to 64", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("bad signal %q: use a name like TERM, KILL, HUP or a number", s)
}

// Kill sends sig to running sandboxes' pid 1, which forwards INT, TERM,
// HUP, QUIT, USR1, USR2 and WINCH to the command's process group; KILL ends the sandbox,
// and with a cgroup every process in it (cgroup.kill), also one that left
// its PID namespace's reach. Every name is checked first: if one is not a
// running sandbox, none is signalled. A detached sandbox killed with KILL
// reads as exited with 137 unless its command ended first (its pid 1
// cannot write the exit code then: state.MarkKilled).
func Kill(names []string, sig unix.Signal) error {
	list := make([]*state.State, len(names))
	for i, name := range names {
		st, err := Lookup(name)
		if err != nil {
			return err
		}
		if st.Status != state.Running {
			return fmt.Errorf("sandbox %s is not running", name)
		}
		list[i] = st
	}
	for _, st := range list {
		if sig == unix.SIGKILL && st.Detached {
			if err := state.MarkKilled(st.Name, st.Pid, st.StartTime); err != nil {
				return err
			}
		}
		if err := signalSandbox(st, sig); err != nil {
			return err
		}
	}
	return nil
}

// signalSandbox sends sig to the running sandbox st (see Kill).
func signalSandbox(st *state.State, sig unix.Signal) error {
	name := st.Name
	fd, err := openSandboxPid(st)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if cg := CgroupOf(st); cg != nil && sig == unix.SIGKILL {
		// Checked to be the sandbox's (the pidfd), it ends whole.
		if err := cg.Kill(); err != nil {
			return fmt.Errorf("kill sandbox %s: %w", name, err)
		}
		if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && err != unix.ESRCH {
			return fmt.Errorf("signal sandbox %s: %w", name, err)
		}
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal sandbox %s: %w", name, err)
	}
	return nil
}

// Remove deletes exited sandboxes' records; with force running ones are
// killed first. Every name is checked first: if one cannot be removed,
// none is.
func Remove(names []string, force bool) error {
	list := make([]*state.State, len(names))
	for i, name := range names {
		st, err := state.Load(name)
		if err != nil {
			return err
		}
		if st.Status == state.Creating && !force {
			return fmt.Errorf("sandbox %s is starting: try again, or use sbx rm -f %s", name, name)
		}
		if st.Status == state.Running && !force {
			return fmt.Errorf("sandbox %s is running: stop it with sbx kill %s, or use sbx rm -f %s", name, name, name)
		}
		list[i] = st
	}
	for _, st := range list {
		if err := remove(st); err != nil {
			return err
		}
	}
	return nil
}

// RemoveAll deletes the record of every exited sandbox (sbx rm --all);
// with force, every sandbox's, running ones killed first. It returns the
// names removed.
func RemoveAll(force bool) ([]string, error) {
	list, err := state.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, st := range list {
		if st.Status != state.Exited && !force {
			continue
		}
		if err := remove(st); err != nil {
			return removed, err
		}
		removed = append(removed, st.Name)
	}
	return removed, nil
}

// Replace removes the sandbox name, killing it if it runs, for a new one
// of that name (sbx run --replace); no sandbox of that name is fine.
func Replace(name string) error {
	st, err := state.Load(name)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return remove(st)
}

// remove deletes the record of st, killing the sandbox first if it runs.
func remove(st *state.State) error {
	name := st.Name
	if st.Status == state.Running {
		if err := signalSandbox(st, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
		deadline := time.Now().Add(5 * time.Second)
		for state.Alive(st.Pid, st.StartTime) {
			if time.Now().After(deadline) {
				return fmt.Errorf("sandbox %s did not die within 5s of SIGKILL", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := cgroupv2.Remove(CgroupOf(st)); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", name, err)
	}
	return state.Remove(name)
}

// CgroupOf is the cgroup of a sandbox's record, nil for none, or for one
// that is not a sandbox cgroup as sbx makes them (sbx kills and removes
// what is in it).
func CgroupOf(st *state.State) *cgroupv2.Cgroup {
	if st.Cgroup == "" {
		return nil
	}
	c := &cgroupv2.Cgroup{Dir: st.Cgroup, Unit: st.CgroupUnit}
	if !c.Valid() {
		return nil
	}
	return c
}

// CleanStale removes the cgroups of sandboxes in list that have ended but
// whose cgroup stayed (their sbx was killed before it could remove it),
// and the records of those that ran attached (see stale). It returns list
// without the records it removed.
func CleanStale(list []*state.State) []*state.State {
	kept := list[:0]
	for _, st := range list {
		if st.Status != state.Exited {
			kept = append(kept, st)
			continue
		}
		if cg := CgroupOf(st); cg != nil && cg.Exists() {
			cgroupv2.Remove(cg)
		}
		if stale(st) && state.RemoveIfOwned(st.Name, st.Pid, st.StartTime) == nil {
			continue
		}
		kept = append(kept, st)
	}
	return kept
}

// stale reports whether st is the leftover of a sandbox run attached whose
// sbx was killed (SIGKILL) before it could remove the record: its pid 1 is
// gone. A detached sandbox's record stays until sbx rm; one being created
// has no plan yet.
func stale(st *state.State) bool {
	return st.Status == state.Exited && !st.Detached && st.Plan != nil && st.Pid > 0
}

// Lookup is state.Load that first removes a stale record (see stale), and
// then reports the name as unknown.
func Lookup(name string) (*state.State, error) {
	st, err := state.Load(name)
	if err != nil || !stale(st) {
		return st, err
	}
	if len(CleanStale([]*state.State{st})) == 0 {
		return nil, fmt.Errorf("%w %q (see sbx ps)", state.ErrNotFound, name)
	}
	return st, nil
}

// waitEnd waits for the sandbox st to end.
func waitEnd(st *state.State) error {
	fd, err := openSandboxPid(st)
	if err != nil {
		return nil // gone already
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, err := unix.Poll(fds, -1)
		if err == nil {
			return nil
		}
		if err != unix.EINTR {
			return fmt.Errorf("wait for sandbox %s: %w", st.Name, err)
		}
	}
}

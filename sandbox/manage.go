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

// Kill sends sig to a running sandbox's pid 1, which forwards INT, TERM,
// HUP, QUIT, USR1, USR2 and WINCH to the command's process group; KILL ends the sandbox,
// and with a cgroup every process in it (cgroup.kill), also one that left
// its PID namespace's reach.
func Kill(name string, sig unix.Signal) error {
	st, err := state.Load(name)
	if err != nil {
		return err
	}
	if st.Status != state.Running {
		return fmt.Errorf("sandbox %s is not running", name)
	}
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

// Remove deletes an exited sandbox's record; with force a running one is
// killed first.
func Remove(name string, force bool) error {
	st, err := state.Load(name)
	if err != nil {
		return err
	}
	if st.Status == state.Creating && !force {
		return fmt.Errorf("sandbox %s is starting: try again, or use sbx rm -f %s", name, name)
	}
	if st.Status == state.Running {
		if !force {
			return fmt.Errorf("sandbox %s is running: stop it with sbx kill %s, or use sbx rm -f %s", name, name, name)
		}
		if err := Kill(name, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
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
// whose cgroup stayed (their sbx was killed before it could remove it).
func CleanStale(list []*state.State) {
	for _, st := range list {
		if st.Status != state.Exited {
			continue
		}
		if cg := CgroupOf(st); cg != nil && cg.Exists() {
			cgroupv2.Remove(cg)
		}
	}
}

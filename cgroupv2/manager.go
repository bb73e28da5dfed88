package cgroupv2

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// Manager is who makes a sandbox's cgroup (--cgroup-manager, podman's
// words).
type Manager string

const (
	// Auto takes cgroupfs in a delegated cgroup, else systemd when the
	// user's manager is reachable, else none (which refuses limits).
	Auto Manager = "auto"
	// Systemd asks the user's systemd manager for a transient scope with
	// Delegate=yes and makes the sandbox's cgroup in it.
	Systemd Manager = "systemd"
	// Cgroupfs makes the sandbox's cgroup in the delegated subtree sbx
	// runs in.
	Cgroupfs Manager = "cgroupfs"
	// None makes no cgroup: the sandbox stays in sbx's, and no limit can
	// be set.
	None Manager = "none"
)

// ParseManager reads --cgroup-manager.
func ParseManager(s string) (Manager, error) {
	switch m := Manager(s); m {
	case Auto, Systemd, Cgroupfs, None:
		return m, nil
	case "":
		return Auto, nil
	}
	return "", fmt.Errorf("--cgroup-manager %q: want auto, systemd, cgroupfs or none", s)
}

// Backend is where a start makes its sandbox's cgroup, chosen before
// anything starts.
type Backend struct {
	// Manager is Systemd, Cgroupfs or None.
	Manager Manager
	// parent is, for cgroupfs, the delegated cgroup sandboxes are made
	// in; own says sbx runs in it (its processes may move to a leaf).
	parent string
	own    bool
	// dial is the connection to the user manager being made (systemd).
	dial chan dialed
}

type dialed struct {
	m   *UserManager
	err error
}

// Select chooses the backend for manager m, for a sandbox with the limits
// r. With no backend it returns None, or, when r asks for a limit or m
// names a backend, an error that says why and points to `sbx check`. On a
// host without cgroup v2 it costs one statfs.
func Select(m Manager, r plan.Resources) (*Backend, error) {
	b, why := choose(m)
	if b.Manager == None {
		if flag := FirstFlag(r); flag != "" {
			return nil, fmt.Errorf("%s needs a cgroup for the sandbox, and sbx cannot make one: %s (run `sbx check`)", flag, why)
		}
		if m != Auto && m != None {
			return nil, fmt.Errorf("--cgroup-manager %s: %s (run `sbx check`)", m, why)
		}
		return b, nil
	}
	if b.Manager == Systemd {
		// The connection is made while the rest is planned.
		b.dial = make(chan dialed, 1)
		go func() {
			um, err := DialUserManager()
			b.dial <- dialed{um, err}
		}()
	}
	return b, nil
}

// Probe tells what --cgroup-manager auto finds here (for `sbx check`): the
// backend, the delegated cgroup sandboxes go in (cgroupfs), and for None
// why there is none.
func Probe() (m Manager, parent, why string) {
	b, why := choose(Auto)
	return b.Manager, b.parent, why
}

// choose finds the backend m can have here, or None and why not.
func choose(m Manager) (*Backend, string) {
	none := &Backend{Manager: None}
	if m == None {
		return none, "--cgroup-manager none makes none"
	}
	if !Unified() {
		return none, "this host has cgroup v1 controllers (a v1 or hybrid hierarchy at " + Mount + "), not cgroup v2 alone"
	}
	self, err := Self()
	if err != nil {
		return none, err.Error()
	}
	if m != Systemd {
		if parent := delegatedParent(self); parent != "" {
			return &Backend{Manager: Cgroupfs, parent: parent, own: true}, ""
		}
		if m == Cgroupfs {
			return none, fmt.Sprintf("your cgroup %s is not delegated to you", strings.TrimPrefix(self, Mount))
		}
	}
	if !UserManagerReachable() {
		if m == Systemd {
			return none, "no systemd user manager is reachable (no bus in $XDG_RUNTIME_DIR)"
		}
		return none, fmt.Sprintf("your cgroup %s is not delegated to you, and no systemd user manager is reachable", strings.TrimPrefix(self, Mount))
	}
	return &Backend{Manager: Systemd}, ""
}

// delegatedParent returns the cgroup that sandboxes are made in when sbx
// runs in the cgroup self ("" if self is not the user's to manage): self,
// so that the sandboxes stay under whatever limits self has, or its parent
// when self is the leaf hostLeaf that the processes of a delegated cgroup
// were moved to.
func delegatedParent(self string) string {
	if !delegated(self) {
		return ""
	}
	if filepath.Base(self) == hostLeaf {
		if parent := filepath.Dir(self); delegated(parent) {
			return parent
		}
	}
	return self
}

// delegated reports whether the cgroup dir is the user's to manage: it and
// the files that manage it are the user's, and, within the part of the
// tree the user's systemd manager runs (user@UID.service), systemd marked
// it, or a cgroup above it there, delegated (the user.delegate attribute:
// the manager's own cgroups are the user's too, but not to be changed
// behind its back).
func delegated(dir string) bool {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil || int(st.Uid) != os.Geteuid() {
		return false
	}
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control"} {
		if unix.Access(filepath.Join(dir, f), unix.W_OK) != nil {
			return false
		}
	}
	manager := "/user@" + strconv.Itoa(os.Geteuid()) + ".service"
	i := strings.Index(dir, manager+"/")
	if i < 0 {
		return true
	}
	top := dir[:i+len(manager)]
	buf := make([]byte, 8)
	for d := dir; len(d) > len(top); d = filepath.Dir(d) {
		if n, err := unix.Getxattr(d, "user.delegate", buf); err == nil && string(buf[:n]) == "1" {
			return true
		}
	}
	return false
}

// name is a new cgroup's (and scope's) name for a sandbox: its name and a
// random part, so that it never meets another sandbox's, also one of the
// same name kept in another state directory. Records name their cgroup.
func name(sandbox string) string {
	var b [4]byte
	for {
		if _, err := unix.Getrandom(b[:], 0); err != unix.EINTR {
			break
		}
	}
	if !strings.HasPrefix(sandbox, "sbx-") {
		sandbox = "sbx-" + sandbox
	}
	return sandbox + "-" + hex.EncodeToString(b[:])
}

// NeedsProcess reports whether the cgroup can only be made around a
// running process (Adopt), not before (Create).
func (b *Backend) NeedsProcess() bool { return b.Manager == Systemd }

// Create makes the sandbox's cgroup with the limits r before its first
// process starts (cgroupfs).
func (b *Backend) Create(sandbox string, r plan.Resources) (*Cgroup, error) {
	if b.Manager != Cgroupfs {
		return nil, fmt.Errorf("cgroup manager %s cannot make a cgroup before the sandbox's first process", b.Manager)
	}
	return create(b.parent, name(sandbox), r, 0, b.own)
}

// Adopt makes the sandbox's cgroup with the limits r around pid, the
// sandbox's first process, which has not started any other yet (systemd:
// a transient scope holds pid and sbx, the cgroup is made in it and pid
// moves there, sbx to the scope's leaf init).
func (b *Backend) Adopt(sandbox string, r plan.Resources, pid int) (*Cgroup, error) {
	d := <-b.dial
	b.dial <- d
	if d.err != nil {
		return nil, d.err
	}
	cgroup := name(sandbox)
	unit := cgroup + ".scope"
	// sbx itself goes in the scope too (to its leaf init, see create):
	// systemd removes a scope's cgroups as soon as it is empty, and sbx
	// (or its monitor) reads the sandbox's OOM kills after it ended.
	path, err := d.m.StartScope(unit, "sbx sandbox "+sandbox, pid, os.Getpid())
	if err != nil {
		return nil, err
	}
	c, err := create(filepath.Join(Mount, path), cgroup, r, pid, true)
	if err != nil {
		d.m.StopUnit(unit)
		return nil, err
	}
	c.Unit = unit
	return c, nil
}

// Close ends the backend's connection, if it has one.
func (b *Backend) Close() {
	if b.dial == nil {
		return
	}
	if d := <-b.dial; d.m != nil {
		d.m.Close()
	}
	b.dial = nil
}

// Join moves pid, a new process that has not started any other yet, into
// the sandbox cgroup c's leaf: itself when it may (the common ancestor
// of its cgroup and the leaf is the user's), else through the user's
// systemd manager when c is in a scope of it.
func Join(c *Cgroup, pid int) error {
	err := Place(c.Leaf(), pid)
	if err == nil || c.Unit == "" || !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
		return err
	}
	m, derr := DialUserManager()
	if derr != nil {
		return fmt.Errorf("%w; and through systemd: %v", err, derr)
	}
	defer m.Close()
	scope, err := scopeDir(c)
	if err != nil {
		return err
	}
	sub := strings.TrimPrefix(c.Leaf(), scope)
	return m.Attach(c.Unit, sub, pid)
}

// scopeDir is the directory of the scope c was made in.
func scopeDir(c *Cgroup) (string, error) {
	dir := filepath.Dir(c.Dir)
	if filepath.Base(dir) != c.Unit {
		return "", fmt.Errorf("cgroup %s is not in scope %s", c.Dir, c.Unit)
	}
	return dir, nil
}

// Remove kills what is left of the sandbox and removes its cgroup (a
// systemd scope goes once it is empty).
func Remove(c *Cgroup) error {
	if c == nil || c.Dir == "" {
		return nil
	}
	return c.Remove()
}

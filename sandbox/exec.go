package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/cgroupv2"
	"github.com/sbx-sandbox/sbx/clonedbinary"
	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/state"
)

// ExecOptions are the choices of sbx exec.
type ExecOptions struct {
	Name     string
	Args     []string
	Env      []string // KEY=VAL (or KEY) over the sandbox's environment
	Workdir  string
	UID, GID *uint32
	TTY      bool
	// PreserveFDs passes descriptors 3 .. 3+PreserveFDs-1 to the command.
	PreserveFDs int
}

// Exec runs a command inside a running sandbox, in all of its namespaces,
// and returns the command's exit code.
func Exec(o ExecOptions) (int, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return ExitSbxFailed, errors.New("no command given: put it after --, e.g. sbx exec NAME -- sh")
	}
	if o.TTY {
		if err := checkTerminalInput(); err != nil {
			return ExitSbxFailed, err
		}
	}
	// Before sbx opens anything of its own, which could take the number
	// of a descriptor that is not open.
	if err := checkPreserveFDs(o.PreserveFDs); err != nil {
		return ExitSbxFailed, err
	}
	st, err := state.Load(o.Name)
	if err != nil {
		return ExitSbxFailed, err
	}
	if st.Old && st.Status == state.Running {
		return ExitSbxFailed, fmt.Errorf("sandbox %s was started by an older sbx, whose record holds no plan: use that sbx to exec into it, or restart the sandbox", o.Name)
	}
	if st.Status != state.Running || st.Plan == nil {
		return ExitSbxFailed, fmt.Errorf("sandbox %s is not running (remove it with sbx rm %s)", o.Name, o.Name)
	}
	pidfd, err := openSandboxPid(st)
	if err != nil {
		return ExitSbxFailed, err
	}
	defer unix.Close(pidfd)
	flags, err := joinFlags(st.Pid)
	if err != nil {
		return ExitSbxFailed, err
	}
	p, err := execPlan(st.Plan, o)
	if err != nil {
		return ExitSbxFailed, err
	}
	method, err := clonedbinary.FromEnv()
	if err != nil {
		return ExitSbxFailed, err
	}
	p.Stages = plan.Stages{
		CloneMethod: uint32(method),
		JoinPidfd:   extraFD(o.PreserveFDs, 0),
		JoinFlags:   flags,
		Pdeathsig:   uint32(unix.SIGKILL),
	}
	l := launch{
		plan:     p,
		stdio:    [3]uintptr{0, 1, 2},
		preserve: o.PreserveFDs,
		extra:    []uintptr{uintptr(pidfd)},
		tty:      o.TTY,
		join:     o.Name,
	}
	if l.cgroup, err = joinPlacement(st); err != nil {
		return ExitSbxFailed, fmt.Errorf("join sandbox %s: %w", o.Name, err)
	}
	if l.cgroup != nil {
		defer l.cgroup.close()
	}
	proc, err := start(&l)
	if err != nil {
		return ExitSbxFailed, err
	}
	if err := proc.proceed(p); err != nil {
		return ExitSbxFailed, err
	}
	return proc.wait()
}

// joinPlacement is where a process that joins the sandbox of record st
// (sbx exec, OCI exec) starts: in the sandbox's cgroup, under its limits
// and in reach of cgroup.kill; nil when the sandbox has none.
func joinPlacement(st *state.State) (*placement, error) {
	cg := CgroupOf(st)
	if cg == nil {
		return nil, nil
	}
	fd, err := cg.OpenLeaf()
	if err != nil {
		return nil, err
	}
	return &placement{fd: fd, place: func(pid int) error { return cgroupv2.Join(cg, pid) }}, nil
}

// openSandboxPid returns a pidfd of the sandbox's pid 1, checked to be the
// very process of the record (not a reused pid).
func openSandboxPid(st *state.State) (int, error) {
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return -1, fmt.Errorf("sandbox %s is not running: %w", st.Name, err)
	}
	// The pidfd pins the process: checked after opening, the start time
	// proves it is the sandbox's.
	if !state.Alive(st.Pid, st.StartTime) {
		unix.Close(fd)
		return -1, fmt.Errorf("sandbox %s is not running (its pid now belongs to another process)", st.Name)
	}
	return fd, nil
}

// joinFlags returns the namespaces of pid that the caller is not in yet:
// joining one's own user namespace again is an error.
func joinFlags(pid int) (uint32, error) {
	var flags uint32
	for _, n := range nsexec.Namespaces {
		ns, flag := n.Name, n.Flag
		var own, theirs unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+ns, &own); err != nil {
			return 0, fmt.Errorf("inspect own %s namespace: %w", ns, err)
		}
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), &theirs); err != nil {
			return 0, fmt.Errorf("inspect the sandbox's %s namespace: %w", ns, err)
		}
		if own.Ino != theirs.Ino || own.Dev != theirs.Dev {
			flags |= flag
		}
	}
	return flags, nil
}

// execPlan derives the plan of sbx exec from the sandbox's stored plan:
// the sandbox's own security settings (its compiled seccomp filter, its
// Landlock rules; capabilities computed again only for another uid) with a
// process of its own. The view is the sandbox's already: none of its
// operations goes along.
func execPlan(base *plan.Plan, o ExecOptions) (*plan.Plan, error) {
	p := &plan.Plan{Security: base.Security}
	p.Process = plan.Process{
		Terminal:    o.TTY,
		Args:        o.Args,
		Env:         slices.Clone(base.Process.Env),
		Cwd:         base.Process.Cwd,
		UID:         base.Process.UID,
		GID:         base.Process.GID,
		PreserveFDs: uint32(o.PreserveFDs),
		Rlimits:     base.Process.Rlimits,
	}
	if len(o.Env) > 0 {
		env, err := buildEnv(p.Process.Env, o.Env, false)
		if err != nil {
			return nil, err
		}
		p.Process.Env = env
	}
	if o.Workdir != "" {
		if !filepath.IsAbs(o.Workdir) {
			return nil, fmt.Errorf("--workdir %q: the directory must be an absolute path inside the sandbox", o.Workdir)
		}
		p.Process.Cwd = filepath.Clean(o.Workdir)
	}
	// The sandbox's PWD (sbx run sets it to its working directory unless
	// --clearenv) follows -w.
	if o.Workdir != "" && slices.ContainsFunc(p.Process.Env, func(kv string) bool { return strings.HasPrefix(kv, "PWD=") }) {
		p.Process.Env = withPWD(p.Process.Env, o.Env, p.Process.Cwd)
	}
	if o.UID != nil {
		p.Process.UID = *o.UID
		// Without --gid, the group is the uid's own in the sandbox's
		// /etc/passwd, which the joining process reads inside.
		p.Process.GIDFromPasswd = o.GID == nil
	}
	if o.GID != nil {
		p.Process.GID = *o.GID
	}
	if p.Process.UID != base.Process.UID {
		// The same rule as for the sandbox's command, for this uid.
		caps, err := capabilities.Compute(p.Process.UID, base.Security.CapAdd, base.Security.CapDrop)
		if err != nil {
			return nil, fmt.Errorf("the sandbox's capabilities: %w", err)
		}
		p.Security.Caps = caps
	}
	return p, nil
}

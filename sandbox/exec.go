package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/clonedbinary"
	"github.com/sbx-sandbox/sbx/nsexec"
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

// nsFlags maps the namespace names of /proc/PID/ns to CLONE_NEW* flags.
var nsFlags = map[string]uint32{
	"user": unix.CLONE_NEWUSER, "mnt": unix.CLONE_NEWNS, "pid": unix.CLONE_NEWPID,
	"ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS, "net": unix.CLONE_NEWNET,
	"cgroup": unix.CLONE_NEWCGROUP,
}

// Exec runs a command inside a running sandbox, in all of its namespaces,
// and returns the command's exit code.
func Exec(o ExecOptions) (int, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return ExitSbxFailed, errors.New("no command given: put it after --, e.g. sbx exec NAME -- sh")
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
	if st.Status != state.Running || st.Config == nil || st.Config.Process == nil {
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
	proc, err := execProcess(st.Config.Process, st.Config.Annotations, o)
	if err != nil {
		return ExitSbxFailed, err
	}
	// The command joins with the sandbox's own configuration (its view for
	// Landlock, its seccomp profile) and a process of its own.
	spec := *st.Config
	spec.Process = proc
	filter, err := compileSeccomp(&spec)
	if err != nil {
		return ExitSbxFailed, err
	}
	config, err := newInitConfig(&spec, filter, o.PreserveFDs).encode()
	if err != nil {
		return ExitSbxFailed, err
	}
	method, err := clonedbinary.FromEnv()
	if err != nil {
		return ExitSbxFailed, err
	}
	l := launch{
		boot: nsexec.Bootstrap{
			CloneMethod: uint32(method),
			JoinPidfd:   extraFD(o.PreserveFDs, 0),
			JoinFlags:   flags,
			Pdeathsig:   uint32(unix.SIGKILL),
		},
		config:   config,
		stdio:    [3]uintptr{0, 1, 2},
		preserve: o.PreserveFDs,
		extra:    []uintptr{uintptr(pidfd)},
		tty:      o.TTY,
		join:     o.Name,
	}
	p, err := start(&l)
	if err != nil {
		return ExitSbxFailed, err
	}
	return p.wait()
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
	for ns, flag := range nsFlags {
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

// execProcess derives the process of sbx exec from the sandbox's.
func execProcess(base *specs.Process, annotations map[string]string, o ExecOptions) (*specs.Process, error) {
	p := &specs.Process{
		Terminal:        o.TTY,
		Args:            o.Args,
		Env:             slices.Clone(base.Env),
		Cwd:             base.Cwd,
		User:            base.User,
		NoNewPrivileges: base.NoNewPrivileges,
		Rlimits:         base.Rlimits,
	}
	if len(o.Env) > 0 {
		env, err := buildEnv(p.Env, o.Env, false)
		if err != nil {
			return nil, err
		}
		p.Env = env
	}
	if o.Workdir != "" {
		if !filepath.IsAbs(o.Workdir) {
			return nil, fmt.Errorf("--workdir %q: the directory must be an absolute path inside the sandbox", o.Workdir)
		}
		p.Cwd = filepath.Clean(o.Workdir)
	}
	if o.UID != nil {
		p.User.UID = *o.UID
	}
	if o.GID != nil {
		p.User.GID = *o.GID
	}
	// The same rule as for the sandbox's command, for this command's uid.
	caps, err := capabilities.Compute(p.User.UID, splitList(annotations[AnnotationCapAdd]), splitList(annotations[AnnotationCapDrop]))
	if err != nil {
		return nil, fmt.Errorf("the sandbox's capabilities: %w", err)
	}
	p.Capabilities = caps
	return p, nil
}

// ExecInit is the Go side of a process that joined a running sandbox: it
// takes on the requested ids and working directory and execs the command.
// It never returns.
func ExecInit() {
	runtime.LockOSThread()
	sock := nsexec.InitSocket()
	err := execInit(sock)
	reportAndExit(sock, err)
}

func execInit(sock *os.File) error {
	var c initConfig
	if err := readConfig(sock, &c); err != nil {
		return err
	}
	if c.Process == nil || len(c.Process.Args) == 0 {
		return errNoCommand
	}
	user := c.Process.User
	return finishAndExec(sock, &c, func() error { return switchIDs(user.UID, user.GID) })
}

// switchIDs takes on the ids inside, when they differ from the ones the
// joining process got from the user namespace's map.
func switchIDs(uid, gid uint32) error {
	if uint32(unix.Getegid()) != gid {
		// Supplementary groups go first, where the namespace allows it.
		if err := unix.Setgroups(nil); err != nil && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("drop supplementary groups: %w", err)
		}
		if err := unix.Setresgid(int(gid), int(gid), int(gid)); err != nil {
			return fmt.Errorf("--gid %d: %w (is it mapped in the sandbox?)", gid, err)
		}
	}
	if uint32(unix.Geteuid()) != uid {
		if err := unix.Setresuid(int(uid), int(uid), int(uid)); err != nil {
			return fmt.Errorf("--uid %d: %w (is it mapped in the sandbox?)", uid, err)
		}
	}
	return nil
}

package inside

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/seccomp"
	"github.com/sbx-sandbox/sbx/stamp"
)

// defaultPath is the PATH inside when the environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// finishAndExec is the end of both Go inits: it takes on the command's
// limits, changes to its working directory (while it still may, as runc
// does: a command may start in a directory it could not enter itself),
// takes on its ids and capabilities, sets up its terminal, and execs it
// with nothing but its own descriptors, under no_new_privs, Landlock (if
// asked) and the seccomp filter, in that order.
// switchUser, if not nil, changes the ids once the capability bounding set
// is cut. It returns only on failure.
func finishAndExec(sock *os.File, p *plan.Plan, switchUser func() error) error {
	pr := &p.Process
	if err := applyRlimits(pr.Rlimits); err != nil {
		return err
	}
	if err := enterWorkdir(pr.Cwd); err != nil {
		return err
	}
	// From here on nothing but the command's descriptors is inheritable
	// (hooks get no more either), while close_range is surely allowed: a
	// filter that goes in early may refuse it.
	if err := passOnlyFDs(int(pr.PreserveFDs)); err != nil {
		return err
	}
	// A created OCI container (StartGate) waits for the start command
	// with everything checked that can fail (the command is found, the
	// client has the terminal) and before the ids and capabilities are
	// the command's: the record's directory, where the gate is, is the
	// caller's alone.
	path := ""
	if pr.StartGate != 0 {
		var err error
		if path, err = prepareCommand(sock, pr); err != nil {
			return err
		}
		if err := waitForStart(sock, int(pr.StartGate)); err != nil {
			return err
		}
	}
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the command's sets may not have: it goes in now, while the init
	// still holds every capability (an OCI config without
	// noNewPrivileges; runc does the same), and what follows must be
	// allowed by it.
	seccompFirst := !p.Security.NoNewPrivs && len(p.Security.Seccomp) > 0
	if seccompFirst {
		if err := seccomp.Install(p.Security.Seccomp); err != nil {
			return err
		}
	}
	// The stages raised every capability to carry it this far; the plan's
	// sets cut them down.
	if err := capabilities.Apply(p.Security.Caps, switchUser); err != nil {
		return err
	}
	if path == "" {
		var err error
		if path, err = prepareCommand(sock, pr); err != nil {
			return err
		}
	}
	if pr.SetUmask {
		unix.Umask(int(pr.Umask))
	}
	// An OCI config's startContainer hooks, as runc runs them: with the
	// command's ids and capabilities, under a filter that went in early.
	if err := runStartHooks(p.StartHooks, p.HookState); err != nil {
		return err
	}
	if p.Security.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if p.Security.Landlock != nil {
		if err := restrictToView(p.Security.Landlock); err != nil {
			return err
		}
	}
	stamp.Mark("init.exec")
	if len(p.Security.Seccomp) > 0 && !seccompFirst {
		if err := seccomp.Install(p.Security.Seccomp); err != nil {
			return err
		}
	}
	err := unix.Exec(path, pr.Args, pr.Env)
	return execError(pr.Args[0], err)
}

// prepareCommand sets up the command's terminal, if it has one, or else
// its process group, and finds the command.
func prepareCommand(sock *os.File, pr *plan.Process) (string, error) {
	if pr.Terminal {
		if err := setupConsole(sock, pr.ConsoleRows, pr.ConsoleCols); err != nil {
			return "", err
		}
	} else if err := ownProcessGroup(); err != nil {
		return "", err
	}
	return lookPath(pr.Args[0], envValue(pr.Env, "PATH"))
}

// ownProcessGroup makes the command the leader of a process group of its
// own, its job: what sbx forwards (Ctrl-C) goes to that group (see
// nsexec/pid1.c signal_job), so it reaches the children of a shell or of
// make as a terminal's would. With -t the command's new session is that
// group already; a session leader (sbx exec's joining process) leads its
// group already too, and setpgid says EPERM.
func ownProcessGroup() error {
	if err := unix.Setpgid(0, 0); err != nil && err != unix.EPERM {
		return fmt.Errorf("put the command in a process group of its own: %w", err)
	}
	return nil
}

// StartFIFO is the name of the FIFO in an OCI container's record directory
// that the Go init of a created container opens for writing: the open
// returns once the start command opens it for reading.
const StartFIFO = "exec.fifo"

// waitForStart tells the sbx parent that the sandbox is ready (OCI create
// returns then) and waits for the start command: it opens the FIFO in the
// record's directory (gate, a descriptor from the parent) for writing,
// which blocks until start opens it for reading, and writes one byte.
func waitForStart(sock *os.File, gate int) error {
	if err := nsexec.WriteFrame(sock, nsexec.MsgParked, nil); err != nil {
		return fmt.Errorf("tell sbx the container is created: %w", err)
	}
	how := unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
	var fd int
	var err error
	for {
		fd, err = unix.Openat2(gate, StartFIFO, &how)
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(gate)
	if err != nil {
		return fmt.Errorf("wait for the start command: open %s: %w", StartFIFO, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte{'0'}); err != nil {
		return fmt.Errorf("wait for the start command: %w", err)
	}
	return nil
}

// applyRlimits sets the sandbox's resource limits on this process. It uses
// package syscall's Setrlimit, which also keeps the Go runtime from putting
// its saved RLIMIT_NOFILE back on exec.
func applyRlimits(limits []plan.Rlimit) error {
	for _, l := range limits {
		if err := syscall.Setrlimit(int(l.Resource), &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fmt.Errorf("--ulimit %s=%s:%s: %w", l.Name(), plan.RlimitValue(l.Soft), plan.RlimitValue(l.Hard), err)
		}
	}
	return nil
}

// enterWorkdir changes to dir and checks that it is inside the sandbox's
// root: a directory reached through a descriptor leaked from outside (runc
// CVE-2024-21626: -w /proc/self/fd/N) has no path from the root, and
// getcwd(2) says so.
func enterWorkdir(dir string) error {
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("change to working directory %s inside the sandbox: %w", dir, err)
	}
	cwd, err := unix.Getwd()
	if err != nil || !strings.HasPrefix(cwd, "/") {
		return fmt.Errorf("working directory %s is outside the sandbox's view (unreachable from its root): pick a directory inside", dir)
	}
	return nil
}

// passOnlyFDs marks every descriptor from 3+preserve on close-on-exec, and
// the preserved ones 3 .. 3+preserve-1 inheritable.
func passOnlyFDs(preserve int) error {
	if err := unix.CloseRange(uint(3+preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("mark descriptors close-on-exec: %w", err)
	}
	for fd := 3; fd < 3+preserve; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("--preserve-fds: descriptor %d: %w", fd, err)
		}
	}
	return nil
}

// disableUserNamespaces stops the sandbox's user namespace from getting
// children, unless --allow-userns: its own max_user_namespaces (the sysctl
// is per user namespace, and counts the whole subtree) goes to 0. Only a
// process with CAP_SYS_RESOURCE in the sandbox could raise it again, and
// /proc/sys is read-only there; the seccomp profile refuses CLONE_NEWUSER
// as well. It is one write, at every start, through the sandbox's fresh
// proc instance (sources holds it, not attached yet): the /proc that the
// sandbox starts with may have a read-only /proc/sys (inside a container).
func disableUserNamespaces(sources []source) error {
	if err := writeProcSys(sources, "user/max_user_namespaces", "0\n"); err != nil {
		return fmt.Errorf("set user.max_user_namespaces to 0 in the sandbox's user namespace (--allow-userns leaves it): %w", err)
	}
	return nil
}

// writeSysctls sets the plan's sysctls ("KEY=VALUE", keys checked by the
// planner) through the sandbox's fresh proc instance, as
// disableUserNamespaces does.
func writeSysctls(sources []source, sysctls []string) error {
	for _, s := range sysctls {
		key, value, _ := strings.Cut(s, "=")
		if err := writeProcSys(sources, strings.ReplaceAll(key, ".", "/"), value); err != nil {
			return fmt.Errorf("--sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}

// writeProcSys writes value to /proc/sys/knob of the sandbox's fresh proc
// instance (sources holds it, not attached yet), or of the /proc at hand
// when the view has none.
func writeProcSys(sources []source, knob, value string) error {
	dir := unix.AT_FDCWD
	path := "/proc/sys/" + knob
	for _, s := range sources {
		if s.mount.Kind == plan.Proc && s.fd > 0 {
			dir, path = s.fd, "sys/"+knob
			break
		}
	}
	fd, err := unix.Openat(dir, path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		_, err = unix.Write(fd, []byte(value))
		unix.Close(fd)
	}
	return err
}

func execError(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return &codeError{code: exitNotFound, err: fmt.Errorf("%s: no such file or directory inside the sandbox (or its interpreter is missing)", name)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EPERM), errors.Is(err, unix.ETXTBSY):
		return &codeError{code: exitCannotExecute, err: fmt.Errorf("%s: cannot execute: %w", name, err)}
	}
	return &codeError{code: exitCannotExecute, err: fmt.Errorf("exec %s: %w", name, err)}
}

// lookPath resolves name like execvp(3) does, inside the sandbox: a name
// with a slash is used as it is; otherwise the first executable regular
// file of that name in PATH wins.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		// Checked now, as runc does (a created OCI container fails at
		// create); the exec says the rest.
		var st unix.Stat_t
		if err := unix.Stat(name, &st); err != nil {
			return "", execError(name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG || unix.Access(name, unix.X_OK) != nil {
			return "", execError(name, unix.EACCES)
		}
		return name, nil
	}
	if path == "" {
		path = defaultPath
	}
	var denied string
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Stat(candidate, &st); err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if unix.Access(candidate, unix.X_OK) == nil {
			return candidate, nil
		}
		if denied == "" {
			denied = candidate
		}
	}
	if denied != "" {
		return "", &codeError{code: exitCannotExecute, err: fmt.Errorf("%s: found %s but it is not executable: permission denied", name, denied)}
	}
	// The words of runc's message, which podman maps to exit code 127.
	return "", &codeError{code: exitNotFound, err: fmt.Errorf("%s: executable file not found in $PATH inside the sandbox (PATH=%s)", name, path)}
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

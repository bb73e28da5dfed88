package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/seccomp"
)

// initConfig is what the sbx parent sends to the Go init of a new sandbox
// and to the joining process of sbx exec: the parts of the spec they use
// (decoding a whole specs.Spec costs the Go init more than building the
// view), the compiled seccomp filter and the descriptors to pass on.
type initConfig struct {
	Process       *specs.Process    `json:"process"`
	Root          *specs.Root       `json:"root,omitempty"`
	Hostname      string            `json:"hostname,omitempty"`
	Mounts        []specs.Mount     `json:"mounts,omitempty"`
	MaskedPaths   []string          `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string          `json:"readonlyPaths,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	// Seccomp is the compiled filter, installed right before the exec.
	Seccomp seccomp.Program `json:"seccomp,omitempty"`
	// PreserveFDs is how many descriptors from 3 on the command keeps.
	PreserveFDs int `json:"preserveFds,omitempty"`
	// Sources are the identities of the view's host paths.
	Sources sourceIDs `json:"sources,omitempty"`
}

// newInitConfig takes from spec what the Go inits need.
func newInitConfig(spec *specs.Spec, filter seccomp.Program, preserveFDs int) *initConfig {
	c := &initConfig{
		Process:     spec.Process,
		Root:        spec.Root,
		Hostname:    spec.Hostname,
		Mounts:      spec.Mounts,
		Annotations: spec.Annotations,
		Seccomp:     filter,
		PreserveFDs: preserveFDs,
	}
	if spec.Linux != nil {
		c.MaskedPaths, c.ReadonlyPaths = spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths
	}
	return c
}

// spec returns the configuration as a spec again, with what the Go inits
// use filled in.
func (c *initConfig) spec() *specs.Spec {
	return &specs.Spec{
		Process:     c.Process,
		Root:        c.Root,
		Hostname:    c.Hostname,
		Mounts:      c.Mounts,
		Annotations: c.Annotations,
		Linux:       &specs.Linux{MaskedPaths: c.MaskedPaths, ReadonlyPaths: c.ReadonlyPaths},
	}
}

func (c *initConfig) encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	return b, nil
}

// compileSeccomp compiles the spec's seccomp profile; nil for none.
func compileSeccomp(spec *specs.Spec) (seccomp.Program, error) {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return nil, nil
	}
	builtin := spec.Annotations[seccomp.BuiltinAnnotation] == seccomp.BuiltinValue
	prog, err := seccomp.Compile(spec.Linux.Seccomp, builtin)
	if err != nil {
		return nil, fmt.Errorf("compile seccomp profile: %w", err)
	}
	return prog, nil
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
	const knob = "sys/user/max_user_namespaces"
	dir := unix.AT_FDCWD
	path := "/proc/" + knob
	for _, s := range sources {
		if s.mount.Type == "proc" && s.fd > 0 {
			dir, path = s.fd, knob
			break
		}
	}
	fd, err := unix.Openat(dir, path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		_, err = unix.Write(fd, []byte("0\n"))
		unix.Close(fd)
	}
	if err != nil {
		return fmt.Errorf("set user.max_user_namespaces to 0 in the sandbox's user namespace (--allow-userns leaves it): %w", err)
	}
	return nil
}

// finishAndExec is the end of both Go inits: it takes on the command's
// limits, changes to its working directory (while it still may, as runc
// does: a command may start in a directory it could not enter itself),
// takes on its ids and capabilities, sets up its terminal, and execs it
// with nothing but its own descriptors, under no_new_privs, Landlock (if
// asked) and the seccomp filter, in that order.
// switchUser, if not nil, changes the ids once the capability bounding set
// is cut. It returns only on failure.
func finishAndExec(sock *os.File, c *initConfig, switchUser func() error) error {
	p := c.Process
	if err := applyRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := enterWorkdir(p.Cwd); err != nil {
		return err
	}
	// The stages raised every capability to carry it this far: without a
	// set to cut them down to, the command would keep them all.
	if p.Capabilities == nil {
		return errors.New("configuration has no capability sets")
	}
	if err := capabilities.Apply(p.Capabilities, switchUser); err != nil {
		return err
	}
	if p.Terminal {
		if err := setupConsole(sock); err != nil {
			return err
		}
	}
	path, err := lookPath(p.Args[0], envValue(p.Env, "PATH"))
	if err != nil {
		return err
	}
	if err := passOnlyFDs(c.PreserveFDs); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if c.Annotations[AnnotationLandlock] == "true" {
		if err := restrictToView(c.spec()); err != nil {
			return err
		}
	}
	if len(c.Seccomp) > 0 {
		if err := seccomp.Install(c.Seccomp); err != nil {
			return err
		}
	}
	err = unix.Exec(path, p.Args, p.Env)
	return execError(p.Args[0], err)
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

// errNoCommand is a configuration without a command.
var errNoCommand = errors.New("configuration has no command")

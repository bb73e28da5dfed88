package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/nsexec"
)

// Init is the Go init of a new sandbox: pid 2 of its PID namespace, running
// with full capabilities in the new user namespace. It reads the
// configuration, builds the view, and execs the command. It never returns:
// on failure it reports to the sbx parent and exits with the code to use.
func Init() {
	// Thread-scoped state (prctl settings, later seccomp) must be set on
	// the thread that execs.
	runtime.LockOSThread()
	sock := nsexec.InitSocket()
	reportAndExit(sock, initSandbox(sock))
}

// reportAndExit sends why the command could not be exec'd to the sbx
// parent and exits with the code to use.
func reportAndExit(sock *os.File, err error) {
	code := ExitSbxFailed
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	msg, _ := json.Marshal(&InitError{Message: err.Error(), Code: code})
	if nsexec.WriteFrame(sock, nsexec.MsgInitError, msg) != nil {
		fmt.Fprintf(os.Stderr, "sbx: %v\n", err)
	}
	os.Exit(code)
}

// readConfig reads the configuration frame the sbx parent sends.
func readConfig(sock *os.File, v any) error {
	typ, payload, err := nsexec.ReadFrame(sock)
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	if typ != nsexec.MsgConfig {
		return fmt.Errorf("expected the configuration, got frame %d", typ)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("decode configuration: %w", err)
	}
	return nil
}

func initSandbox(sock *os.File) error {
	var c initConfig
	if err := readConfig(sock, &c); err != nil {
		return err
	}
	if c.Process == nil || len(c.Process.Args) == 0 {
		return errNoCommand
	}
	spec := c.spec()
	if err := buildView(spec, c.Sources); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
		return fmt.Errorf("set hostname %q: %w", spec.Hostname, err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	return finishAndExec(sock, &c, nil)
}

// loopbackUp brings up lo, the only interface of a fresh network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: set flags: %w", err)
	}
	return nil
}

func execError(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return &ExitError{Code: ExitNotFound, Err: fmt.Errorf("%s: not found inside the sandbox (or its interpreter is missing)", name)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EPERM), errors.Is(err, unix.ETXTBSY):
		return &ExitError{Code: ExitCannotExecute, Err: fmt.Errorf("%s: cannot execute: %w", name, err)}
	}
	return &ExitError{Code: ExitCannotExecute, Err: fmt.Errorf("exec %s: %w", name, err)}
}

// lookPath resolves name like execvp(3) does, inside the sandbox: a name
// with a slash is used as it is; otherwise the first executable regular
// file of that name in PATH wins.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	if path == "" {
		path = DefaultPath
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
		return "", &ExitError{Code: ExitCannotExecute, Err: fmt.Errorf("%s: found %s but it is not executable", name, denied)}
	}
	return "", &ExitError{Code: ExitNotFound, Err: fmt.Errorf("%s: command not found in PATH inside the sandbox (PATH=%s)", name, path)}
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

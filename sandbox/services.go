package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/desktop"
)

// The host services of a sandbox (desktop.Service: the session bus's
// filtering proxy) and their life. It must end with the sandbox, in every
// way a sandbox ends: its command exits, sbx kill or rm -f, the death of a
// SIGKILLed sbx (the sandbox's parent-death signal), attached (sbx or the
// monitor it becomes waits) or detached (no sbx waits). Only the sandbox's
// pid 1 lives exactly that long, so pid 1 holds it:
//
//   - sbx makes a pipe and starts each service with a copy of its write
//     end (xdg-dbus-proxy --fd), in a session of its own (no ^C from sbx's
//     terminal reaches it), stdin and stdout on /dev/null, stderr in a
//     file in memory that sbx reads if it fails (a pipe would break once
//     sbx has gone), and no other descriptor of sbx's;
//   - the read end goes to stage 0 as the plan's HoldFD, and on to the
//     sandbox's pid 1, which keeps it and nothing else does: not the Go
//     init nor the command (pid1.c), not an id map helper (close-on-exec),
//     not sbx once the services are ready (each writes one byte to the
//     pipe when it listens; sbx reads them, then closes its copy);
//   - when pid 1 exits, for whatever reason, the read end closes and each
//     service sees its write end fail (POLLERR) and exits. Nothing in the
//     sandbox can stop that: pid 1 is not dumpable, holds no capability,
//     and the services run outside, as the caller, out of the sandbox's
//     PID namespace.
//
// A failed start kills them at once and removes their sockets. The
// sockets live in a private directory of $XDG_RUNTIME_DIR (which the
// default view covers) only while the sandbox starts: once its command
// runs, the binds made from them are all that is needed, and the
// directory goes.
// The services are sbx's children: an attached sbx (or its monitor) reaps
// them when the sandbox has ended; a detached sandbox's are left to the
// system's init, like the sandbox itself.

// serviceReadyTimeout bounds how long a service may take to listen.
const serviceReadyTimeout = 10 * time.Second

// serviceExitWait bounds how long sbx waits for its services to end once
// an attached sandbox has ended (they end at once).
const serviceExitWait = 3 * time.Second

// services are the running host services of one start.
type services struct {
	list []*service
	// dir is the private directory of their sockets.
	dir string
	// sync is sbx's copy of the read end of the pipe, until ready.
	sync int
	// hold is the copy of the read end stage 0 gets, until it has it.
	hold   int
	unlink sync.Once
}

// service is one started desktop.Service.
type service struct {
	desktop.Service
	socket string
	pid    int
	stderr *os.File
}

// startServices starts defs, and adds the read end of their pipe to l as
// the plan's held descriptor. It returns nil for none. On error nothing is
// left running or on disk.
func startServices(defs []desktop.Service, l *launch) (s *services, err error) {
	if len(defs) == 0 {
		return nil, nil
	}
	s = &services{sync: -1, hold: -1}
	defer func() {
		if err != nil {
			s.abort()
			s = nil
		}
	}()
	if s.dir, err = privateServiceDir(); err != nil {
		return s, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return s, fmt.Errorf("create the services' pipe: %w", err)
	}
	s.sync = p[0]
	defer unix.Close(p[1])
	if s.hold, err = unix.FcntlInt(uintptr(p[0]), unix.F_DUPFD_CLOEXEC, 3); err != nil {
		return s, fmt.Errorf("create the services' pipe: %w", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return s, err
	}
	defer null.Close()
	for i, def := range defs {
		name := fmt.Sprintf("%d.sock", i)
		sv := &service{Service: def, socket: filepath.Join(s.dir, name)}
		errFD, err := unix.MemfdCreate("sbx-service-stderr", unix.MFD_CLOEXEC)
		if err != nil {
			return s, fmt.Errorf("--share %s: create the error file of %s: %w", def.Name, filepath.Base(def.Path), err)
		}
		sv.stderr = os.NewFile(uintptr(errFD), "sbx-service-stderr")
		s.list = append(s.list, sv)
		// The write end is the program's descriptor 3; the socket's
		// path is relative to its working directory, the private one (a
		// unix socket's path has 107 bytes at most).
		argv := append([]string{def.Path}, def.Args(name, 3)...)
		pid, err := syscall.ForkExec(def.Path, argv, &syscall.ProcAttr{
			Dir:   s.dir,
			Env:   os.Environ(),
			Files: []uintptr{null.Fd(), null.Fd(), sv.stderr.Fd(), uintptr(p[1])},
			Sys:   &syscall.SysProcAttr{Setsid: true},
		})
		if err != nil {
			return s, fmt.Errorf("--share %s: start %s: %w", def.Name, def.Path, err)
		}
		sv.pid = pid
	}
	l.plan.Stages.HoldFD = extraFD(l.preserve, len(l.extra))
	l.extra = append(l.extra, uintptr(s.hold))
	return s, nil
}

// privateServiceDir makes a private directory (0700) for the services'
// sockets in $XDG_RUNTIME_DIR, which the default view covers (or, without
// it, in $TMPDIR, which it covers too). Not among sbx's records: the
// planner refuses any bind from there.
func privateServiceDir() (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(base) {
		base = ""
	}
	removeStaleServiceDirs(base)
	dir, err := os.MkdirTemp(base, ".sbx-services-")
	if err != nil {
		return "", fmt.Errorf("create a private directory for the sandbox's services: %w", err)
	}
	return dir, nil
}

// staleServiceDir is the age past which a services' directory is a
// leftover: it lives while its sandbox starts (an sbx killed then leaves
// it behind), which takes milliseconds, and serviceReadyTimeout at most.
const staleServiceDir = time.Minute

// removeStaleServiceDirs removes the services' directories of sbx's that
// were killed while their sandbox started.
func removeStaleServiceDirs(base string) {
	if base == "" {
		base = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(base, ".sbx-services-*"))
	for _, dir := range dirs {
		var st unix.Stat_t
		if unix.Lstat(dir, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Getuid() {
			continue
		}
		if time.Since(time.Unix(st.Mtim.Unix())) > staleServiceDir {
			os.RemoveAll(dir)
		}
	}
}

// handed closes sbx's copy of the descriptor stage 0 has now.
func (s *services) handed() {
	if s != nil && s.hold >= 0 {
		unix.Close(s.hold)
		s.hold = -1
	}
}

// ready waits until every service listens (one byte each on the pipe), and
// closes sbx's end of it: from then on pid 1's is the only one.
func (s *services) ready() error {
	if s == nil {
		return nil
	}
	defer func() {
		unix.Close(s.sync)
		s.sync = -1
	}()
	deadline := time.Now().Add(serviceReadyTimeout)
	got := 0
	for got < len(s.list) {
		fds := []unix.PollFd{{Fd: int32(s.sync), Events: unix.POLLIN}}
		left := time.Until(deadline)
		if left <= 0 {
			return s.failed(fmt.Sprintf("did not listen within %v", serviceReadyTimeout))
		}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("wait for the sandbox's services: %w", err)
		}
		if fds[0].Revents == 0 {
			continue
		}
		var b [16]byte
		n, err := unix.Read(s.sync, b[:])
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil || n == 0 {
			// Every write end is closed: a service exited.
			return s.failed("exited")
		}
		got += n
	}
	return nil
}

// failed makes the error of a service that did not get ready: the first
// one that has exited, with what it said, or all of them.
func (s *services) failed(what string) error {
	time.Sleep(10 * time.Millisecond) // let an exiting one finish
	for _, sv := range s.list {
		var ws unix.WaitStatus
		if pid, _ := unix.Wait4(sv.pid, &ws, unix.WNOHANG, nil); pid == sv.pid {
			sv.pid = 0
			return fmt.Errorf("--share %s: %s failed (%s)%s", sv.Name, filepath.Base(sv.Path), describeStatus(ws), said(sv.stderr))
		}
	}
	sv := s.list[0]
	return fmt.Errorf("--share %s: %s %s%s", sv.Name, filepath.Base(sv.Path), what, said(sv.stderr))
}

// describeStatus says how a process ended.
func describeStatus(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit code %d", ws.ExitStatus())
}

// said is the last line a service wrote to its stderr, as ": LINE".
func said(f *os.File) string {
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	lines := strings.Split(strings.TrimSpace(string(b[:n])), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return ": " + last
	}
	return ""
}

// ops are the binds of the services' sockets.
func (s *services) ops() []desktop.Op {
	if s == nil {
		return nil
	}
	ops := make([]desktop.Op, 0, len(s.list))
	for _, sv := range s.list {
		ops = append(ops, desktop.Op{Kind: OpShareSocket, Arg: sv.socket + ":" + sv.Dst})
	}
	return ops
}

// removeSockets removes the sockets and their directory: once the
// sandbox's command runs (its binds are made), or the start failed.
func (s *services) removeSockets() {
	if s == nil || s.dir == "" {
		return
	}
	s.unlink.Do(func() {
		for _, sv := range s.list {
			os.Remove(sv.socket)
		}
		os.Remove(s.dir)
	})
}

// abort ends a failed start: it kills the services, reaps them and
// removes their sockets.
func (s *services) abort() {
	if s == nil {
		return
	}
	s.handed()
	if s.sync >= 0 {
		unix.Close(s.sync)
		s.sync = -1
	}
	for _, sv := range s.list {
		if sv.pid > 0 {
			unix.Kill(sv.pid, unix.SIGKILL)
			reap(sv.pid)
			sv.pid = 0
		}
	}
	s.removeSockets()
	s.close()
}

// wait reaps the services once the attached sandbox has ended (its pid 1
// has exited, so they are ending), waiting a few seconds at most.
func (s *services) wait() {
	if s == nil {
		return
	}
	deadline := time.Now().Add(serviceExitWait)
	for _, sv := range s.list {
		for sv.pid > 0 {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(sv.pid, &ws, unix.WNOHANG, nil)
			if pid == sv.pid || (err != nil && err != unix.EINTR) {
				sv.pid = 0
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	s.close()
}

// close releases sbx's copies of what the services have.
func (s *services) close() {
	for _, sv := range s.list {
		if sv.stderr != nil {
			sv.stderr.Close()
			sv.stderr = nil
		}
	}
}

// errNoServices is planRest's error for a share that needs a host service
// when nothing starts one (a plan that is not run).
var errNoServices = errors.New("needs its host service, which only sbx run starts")

package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests of -t/--tty on run and exec, and of a terminal passed through
// without it. Each test makes a pty pair and starts sbx as the session
// leader with the pty's slave as its controlling terminal and stdio, the
// way a shell in a terminal emulator would; the test plays the terminal
// emulator on the master.

// ptyPair is a pseudo-terminal: the test keeps the master.
type ptyPair struct {
	master *os.File // non-blocking, so that Close ends a pending Read
	slave  *os.File
	name   string
}

func openPty(t *testing.T) *ptyPair {
	t.Helper()
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		t.Fatalf("get the pty's number: %v", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		t.Fatalf("open %s: %v", name, err)
	}
	if err := unix.SetNonblock(mfd, true); err != nil {
		t.Fatal(err)
	}
	p := &ptyPair{master: os.NewFile(uintptr(mfd), "/dev/ptmx"), slave: os.NewFile(uintptr(sfd), name), name: name}
	t.Cleanup(func() {
		p.master.Close()
		p.slave.Close()
	})
	return p
}

// setSize sets the window size of the terminal.
func (p *ptyPair) setSize(t *testing.T, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(p.slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatalf("set the window size of %s: %v", p.name, err)
	}
}

// termios returns the terminal's mode.
func (p *ptyPair) termios(t *testing.T) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("get the mode of %s: %v", p.name, err)
	}
	return *tio
}

// isRaw reports whether the mode is raw enough for a terminal proxy: no
// line editing, no echo, no signals from keys.
func isRaw(tio unix.Termios) bool {
	return tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) == 0
}

// ttyProcess is sbx running on a pty.
type ttyProcess struct {
	pty  *ptyPair
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu       sync.Mutex
	out      []byte    // everything read from the master
	pos      int       // where the next expect starts
	seenDone time.Time // when expect first saw sbx ended
}

// startOnPty starts `sbx args...` in the home with the pty's slave as its
// controlling terminal, stdin, stdout and stderr.
func (h *stateHome) startOnPty(t *testing.T, p *ptyPair, args ...string) *ttyProcess {
	t.Helper()
	cmd := exec.Command(sbxBinary(t), args...)
	cmd.Dir, cmd.Env = h.dir, h.env
	return startCmdOnPty(t, p, cmd)
}

// startCmdOnPty starts cmd as a session leader with the pty's slave as its
// controlling terminal, stdin, stdout and stderr; it is killed when the
// test ends, if it still runs.
func startCmdOnPty(t *testing.T, p *ptyPair, cmd *exec.Cmd) *ttyProcess {
	t.Helper()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.slave, p.slave, p.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	tp := &ttyProcess{pty: p, cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		tp.err = cmd.Wait()
		close(tp.done)
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := p.master.Read(buf)
			tp.mu.Lock()
			tp.out = append(tp.out, buf[:n]...)
			tp.mu.Unlock()
			if err != nil && !errors.Is(err, syscall.EINTR) && !errors.Is(err, syscall.EAGAIN) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-tp.done
	})
	return tp
}

// output returns everything sbx wrote to the terminal so far.
func (tp *ttyProcess) output() string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return string(tp.out)
}

// expect waits until the terminal shows a match of re after the previous
// match, and returns its submatches.
func (tp *ttyProcess) expect(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(defaultTimeout)
	for {
		tp.mu.Lock()
		rest := tp.out[tp.pos:]
		if loc := rx.FindSubmatchIndex(rest); loc != nil {
			var m []string
			for i := 0; i+1 < len(loc); i += 2 {
				if loc[i] >= 0 {
					m = append(m, string(rest[loc[i]:loc[i+1]]))
				} else {
					m = append(m, "")
				}
			}
			tp.pos += loc[1]
			tp.mu.Unlock()
			return m
		}
		tp.mu.Unlock()
		select {
		case <-tp.done:
			// Give the last output a moment to arrive.
			if time.Now().After(deadline) || tp.exitedSince(200*time.Millisecond) {
				t.Fatalf("sbx ended (%v) before the terminal showed %q:\n%s", tp.err, re, indent(tp.output()))
			}
		default:
			if time.Now().After(deadline) {
				t.Fatalf("the terminal did not show %q within %v:\n%s", re, defaultTimeout, indent(tp.output()))
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exitedSince reports whether sbx has ended at least d ago (approximately:
// from the first time it was seen ended).
func (tp *ttyProcess) exitedSince(d time.Duration) bool {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.seenDone.IsZero() {
		tp.seenDone = time.Now()
	}
	return time.Since(tp.seenDone) >= d
}

// send types s on the terminal.
func (tp *ttyProcess) send(t *testing.T, s string) {
	t.Helper()
	if _, err := tp.pty.master.Write([]byte(s)); err != nil {
		t.Fatalf("write %q to the terminal: %v", s, err)
	}
}

// wait waits for sbx to end and returns its exit code.
func (tp *ttyProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-tp.done:
	case <-time.After(defaultTimeout):
		tp.cmd.Process.Kill()
		<-tp.done
		t.Fatalf("sbx did not end within %v:\n%s", defaultTimeout, indent(tp.output()))
	}
	ws := tp.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		t.Fatalf("sbx was killed by %v:\n%s", ws.Signal(), indent(tp.output()))
	}
	return ws.ExitStatus()
}

// ttyCommand returns the arguments of sbx that run cmd with a new terminal
// (flag "-t" or "--tty", or "" for none), in a new sandbox ("run") or in a
// detached one made for it ("exec").
func ttyCommand(t *testing.T, h *stateHome, how, flag string, cmd ...string) []string {
	t.Helper()
	var args []string
	switch how {
	case "run":
		args = []string{"run"}
		if flag != "" {
			args = append(args, flag)
		}
	case "exec":
		name := h.detach(t, sandboxName("tty"), "--", "sleep", token())
		args = []string{"exec"}
		if flag != "" {
			args = append(args, flag)
		}
		args = append(args, name)
	default:
		t.Fatalf("bad mode %q", how)
	}
	return append(append(args, "--"), cmd...)
}

// checkRestored fails the test unless the terminal's mode is before.
func checkRestored(t *testing.T, p *ptyPair, before unix.Termios) {
	t.Helper()
	if after := p.termios(t); after != before {
		t.Errorf("the terminal's mode was not restored after sbx ended:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestTTY checks the terminal that -t gives: a pty of the sandbox's own,
// with the window size of the caller's, the caller's terminal raw while
// sbx runs and restored after, input and output both ways, and the exit
// code.
func TestTTY(t *testing.T) {
	t.Parallel()
	script := `tty; [ -c "$(tty)" ] && echo tty-exists
		stty size
		[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo stdio-ttys
		echo ready; read line; echo "got-$line"; exit 3`
	for _, c := range []struct{ how, flag string }{{"run", "-t"}, {"run", "--tty"}, {"exec", "-t"}, {"exec", "--tty"}} {
		t.Run(c.how+c.flag, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			p := openPty(t)
			p.setSize(t, 37, 101)
			before := p.termios(t)
			if isRaw(before) {
				t.Fatalf("a new pty should start in cooked mode: %+v", before)
			}
			tp := h.startOnPty(t, p, ttyCommand(t, h, c.how, c.flag, "sh", "-c", script)...)
			tty := tp.expect(t, `(/dev/pts/[0-9]+)\r?\n`)[1]
			tp.expect(t, `tty-exists\r?\n`)
			tp.expect(t, `37 101\r?\n`)
			tp.expect(t, `stdio-ttys\r?\n`)
			tp.expect(t, `ready\r?\n`)
			if during := p.termios(t); !isRaw(during) {
				t.Errorf("the caller's terminal is not in raw mode while sbx -t runs: %+v", during)
			}
			tp.send(t, "hello\r")
			tp.expect(t, `got-hello\r?\n`)
			if code := tp.wait(t); code != 3 {
				t.Errorf("want exit 3, got %d:\n%s", code, indent(tp.output()))
			}
			checkRestored(t, p, before)
			t.Logf("the command's terminal was %s", tty)
		})
	}
}

// TestTTYWindowSize changes the caller's window size while the command
// runs: the command's terminal follows.
func TestTTYWindowSize(t *testing.T) {
	t.Parallel()
	script := `stty size; echo ready
		while [ "$(stty size)" != "50 120" ]; do sleep 0.05; done; echo resized-1
		while [ "$(stty size)" != "10 200" ]; do sleep 0.05; done; echo resized-2`
	for _, how := range []string{"run", "exec"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			p := openPty(t)
			p.setSize(t, 31, 97)
			before := p.termios(t)
			tp := h.startOnPty(t, p, ttyCommand(t, h, how, "-t", "sh", "-c", script)...)
			tp.expect(t, `31 97\r?\n`)
			tp.expect(t, `ready\r?\n`)
			p.setSize(t, 50, 120)
			tp.expect(t, `resized-1\r?\n`)
			p.setSize(t, 10, 200)
			tp.expect(t, `resized-2\r?\n`)
			if code := tp.wait(t); code != 0 {
				t.Errorf("want exit 0, got %d:\n%s", code, indent(tp.output()))
			}
			checkRestored(t, p, before)
		})
	}
}

// TestTTYJobControl runs an interactive shell with -t: Ctrl-C interrupts
// its foreground job and not the shell, and the shell's exit code is
// sbx's.
func TestTTYJobControl(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"run", "exec"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			p := openPty(t)
			p.setSize(t, 24, 80)
			before := p.termios(t)
			tp := h.startOnPty(t, p, ttyCommand(t, h, how, "-t", "sh", "-i")...)
			// The arithmetic shows only in the output, not in the echo of
			// what was typed.
			tp.send(t, "echo shell-$((20+1))\r")
			tp.expect(t, `shell-21\r?\n`)

			tok := token()
			tp.send(t, "sleep "+tok+"\r")
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok); !ok {
				t.Fatalf("the shell did not start `sleep %s` (pids %v):\n%s", tok, pids, indent(tp.output()))
			} else {
				waitForeground(t, pids[0], tp)
			}
			tp.send(t, "\x03")
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
				killPids(pids)
				t.Fatalf("Ctrl-C did not interrupt the foreground `sleep %s`:\n%s", tok, indent(tp.output()))
			}
			tp.send(t, "echo alive-$((40+2))\r")
			tp.expect(t, `alive-42\r?\n`)

			// Once more: the shell keeps handling Ctrl-C.
			tok = token()
			tp.send(t, "sleep "+tok+"\r")
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok); !ok {
				t.Fatalf("the shell did not start `sleep %s` (pids %v):\n%s", tok, pids, indent(tp.output()))
			} else {
				waitForeground(t, pids[0], tp)
			}
			tp.send(t, "\x03")
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
				killPids(pids)
				t.Fatalf("the second Ctrl-C did not interrupt `sleep %s`:\n%s", tok, indent(tp.output()))
			}

			// Ctrl-Z stops the foreground job, fg resumes it.
			tok = token()
			tp.send(t, "sleep "+tok+"\r")
			pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok)
			if !ok {
				t.Fatalf("the shell did not start `sleep %s` (pids %v):\n%s", tok, pids, indent(tp.output()))
			}
			waitForeground(t, pids[0], tp)
			tp.send(t, "\x1a")
			waitProcState(t, pids[0], "T", "after Ctrl-Z", tp)
			tp.send(t, "fg\r")
			waitProcState(t, pids[0], "S", "after fg", tp)
			tp.send(t, "\x03")
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
				killPids(pids)
				t.Fatalf("Ctrl-C did not interrupt the resumed `sleep %s`:\n%s", tok, indent(tp.output()))
			}

			tp.send(t, "exit 42\r")
			if code := tp.wait(t); code != 42 {
				t.Errorf("want the shell's exit code 42, got %d:\n%s", code, indent(tp.output()))
			}
			if out := tp.output(); strings.Contains(out, "job control") || strings.Contains(out, "can't access tty") {
				t.Errorf("the shell has no job control:\n%s", indent(out))
			}
			checkRestored(t, p, before)
		})
	}
}

// TestNoTTYPassthrough checks that without -t the caller's terminal is
// handed over untouched: the command's stdio is that terminal, in its
// mode, with its size.
func TestNoTTYPassthrough(t *testing.T) {
	t.Parallel()
	script := `[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo stdio-ttys
		stty size
		echo ready; read line; echo "got-$line"; exit 4`
	for _, how := range []string{"run", "exec"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			p := openPty(t)
			p.setSize(t, 33, 99)
			before := p.termios(t)
			tp := h.startOnPty(t, p, ttyCommand(t, h, how, "", "sh", "-c", script)...)
			tp.expect(t, `stdio-ttys\r?\n`)
			tp.expect(t, `33 99\r?\n`)
			tp.expect(t, `ready\r?\n`)
			if during := p.termios(t); during != before {
				t.Errorf("sbx without -t changed the terminal's mode:\nbefore %+v\nduring %+v", before, during)
			}
			tp.send(t, "hi\n")
			tp.expect(t, `got-hi\r?\n`)
			if code := tp.wait(t); code != 4 {
				t.Errorf("want exit 4, got %d:\n%s", code, indent(tp.output()))
			}
			checkRestored(t, p, before)
		})
	}
}

// TestTTYRestoredAfterSignal ends a -t sandbox from outside: by a signal
// to sbx, forwarded to the command, and by sbx kill. The caller's terminal
// is restored either way.
func TestTTYRestoredAfterSignal(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"signal", "sbx kill"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			p := openPty(t)
			before := p.termios(t)
			name := sandboxName("ttysig")
			tp := h.startOnPty(t, p, "run", "-t", "--name", name, "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", token())
			tp.expect(t, `ready\r?\n`)
			if during := p.termios(t); !isRaw(during) {
				t.Errorf("the caller's terminal is not in raw mode while sbx -t runs: %+v", during)
			}
			if how == "signal" {
				if err := tp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			} else {
				h.waitStatus(t, name, "running")
				h.sbx(t, "kill", name).ok(t)
			}
			if code := tp.wait(t); code != 128+int(syscall.SIGTERM) {
				t.Errorf("want exit %d, got %d:\n%s", 128+int(syscall.SIGTERM), code, indent(tp.output()))
			}
			checkRestored(t, p, before)
		})
	}
}

// TestTTYExecBackground leaves a process of an exec -t running in the
// sandbox, holding the terminal: sbx exec still ends with the command's
// code and restores the caller's terminal.
func TestTTYExecBackground(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	p := openPty(t)
	before := p.termios(t)
	tok := token()
	args := ttyCommand(t, h, "exec", "-t", "sh", "-c", `sleep "$1" & echo started; exit 5`, "sh", tok)
	tp := h.startOnPty(t, p, args...)
	tp.expect(t, `started\r?\n`)
	if code := tp.wait(t); code != 5 {
		t.Errorf("want exit 5, got %d:\n%s", code, indent(tp.output()))
	}
	checkRestored(t, p, before)
}

// waitProcState waits until the host process pid is in state want (the
// third field of /proc/PID/stat: S sleeping, T stopped...).
func waitProcState(t *testing.T, pid int, want, when string, tp *ttyProcess) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("%s: process %d: %v\n%s", when, pid, err, indent(tp.output()))
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 0 && f[0] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: process %d is in state %q, want %q:\n%s", when, pid, f, want, indent(tp.output()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDetachReleasesTerminal runs sbx run -d on a terminal: the detached
// sandbox keeps neither the terminal as its stdio nor as its controlling
// terminal.
func TestDetachReleasesTerminal(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	p := openPty(t)
	name := sandboxName("noterm")
	h.cleanup(t, name)
	tok := token()
	tp := h.startOnPty(t, p, "run", "-d", "--name", name, "--", "sleep", tok)
	tp.expect(t, regexp.QuoteMeta(name)+`\r?\n`)
	if code := tp.wait(t); code != 0 {
		t.Fatalf("want exit 0, got %d:\n%s", code, indent(tp.output()))
	}
	st := h.state(t, name)
	pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok)
	if !ok {
		t.Fatalf("want one `sleep %s`, found %v", tok, pids)
	}
	var slave unix.Stat_t
	if err := unix.Fstat(int(p.slave.Fd()), &slave); err != nil {
		t.Fatal(err)
	}
	// The fds of the sandbox's pid 1 are out of reach (it is not
	// dumpable); those of the command are not.
	for _, pid := range []int{st.Pid, pids[0]} {
		for fd := 0; fd <= 2 && pid != st.Pid; fd++ {
			var fi unix.Stat_t
			path := fmt.Sprintf("/proc/%d/fd/%d", pid, fd)
			if err := unix.Stat(path, &fi); err != nil {
				t.Errorf("%s: %v", path, err)
			} else if fi.Rdev == slave.Rdev && fi.Mode&unix.S_IFMT == unix.S_IFCHR {
				t.Errorf("the detached sandbox's process %d has the caller's terminal %s as fd %d", pid, p.name, fd)
			}
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		// Field 7 is tty_nr; f[0] is field 3.
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) < 5 || f[4] != "0" {
			t.Errorf("the detached sandbox's process %d has a controlling terminal (tty_nr %v)", pid, f[4:5])
		}
	}
}

// waitForeground waits until pid leads the foreground process group of its
// terminal, where the shell puts a job it starts: a Ctrl-C or Ctrl-Z typed
// before that goes to the shell's own group (a race of the test, not of
// sbx, seen on a loaded machine).
func waitForeground(t *testing.T, pid int, tp *ttyProcess) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil {
			s := string(b)
			// Fields after the command name: state ppid pgrp session tty_nr tpgid.
			if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 5 && f[2] == f[5] {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never became the terminal's foreground job (%v):\n%s", pid, err, indent(tp.output()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

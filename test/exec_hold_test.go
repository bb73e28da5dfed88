package test

// sbx exec cannot be held by the sandbox (issue #19): the process that
// joins a running sandbox lives in the sandbox's PID namespace as the
// sandbox's own uid until it execs the command, so the sandbox can stop it,
// and it must look up nothing inside the sandbox that could block it. sbx
// gets the binary for it before it joins, kills it when it has not exec'd
// the command within a bound (sandbox.JoinBound), and ends it at once on
// INT, TERM and HUP, -t included. On the code before, each of these tests
// hangs until the test's own timeout.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// joinBound is sandbox.JoinBound.
const joinBound = 10 * time.Second

// joinKilled is what sbx says when it killed a joining process at the bound.
const joinKilled = "did not start the command within"

func init() {
	tools["stopper"] = stopperTool
}

// stopperTool is the attacker of these tests: it stops (SIGSTOP) every
// process of the sandbox but pid 1 and itself as soon as it sees it, and
// lets go only of those that turn out to have exec'd a command named
// args[0] (once a process has stopped, its name is settled). It never
// returns.
func stopperTool(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: stopper COMMAND-NAME")
		return 2
	}
	self := os.Getpid()
	seen := map[int]bool{}
	for {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == 1 || pid == self || seen[pid] {
				continue
			}
			seen[pid] = true
			if unix.Kill(pid, unix.SIGSTOP) != nil {
				continue
			}
			for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
				if state, _, ok := procState(pid); !ok || state == 'T' {
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
			if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == args[0] {
				unix.Kill(pid, unix.SIGCONT)
			}
			fmt.Printf("stopped %d\n", pid)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// procState returns the state letter and parent of pid, from its stat.
func procState(pid int) (byte, int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) S ppid ...": comm may hold anything but the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return f[0][0], ppid, true
}

// stoppedChild waits until a child of parent is stopped and returns its
// pid, or 0 once done is closed (parent ended) or after pollTimeout.
func stoppedChild(parent int, done <-chan struct{}) int {
	deadline := time.Now().Add(pollTimeout)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if state, ppid, ok := procState(pid); ok && ppid == parent && state == 'T' {
				return pid
			}
		}
		select {
		case <-done:
			return 0
		case <-time.After(2 * time.Millisecond):
		}
	}
	return 0
}

// stopperSandbox starts a detached sandbox whose command is the stopper,
// which lets the command `true` run.
func stopperSandbox(t *testing.T, h *stateHome) string {
	t.Helper()
	return h.detach(t, sandboxName("stopper"), toolArgs(t, "stopper", "true")...)
}

// TestExecHoldFIFO plants a FIFO at the path of the sbx binary as the
// sandbox sees it: the binary lives in a directory the sandbox covers
// with a tmpfs it may write (`--tmpfs "$HOME"` with sbx in ~/go/bin, say).
// A joining process that opened the binary by its path inside the sandbox
// waited forever for a writer; sbx exec gets it before joining.
func TestExecHoldFIFO(t *testing.T) {
	t.Parallel()
	bin := sbxBinary(t)
	for _, method := range []string{"auto", "memfd"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			if method != "auto" {
				h.env = append(h.env, "SBX_CLONE="+method)
			}
			name := sandboxName("fifo")
			h.cleanup(t, name)
			p := h.start(t, "run", "--name", name, "--tmpfs", filepath.Dir(bin)+":mode=1777", "--",
				"sh", "-c", `mkfifo "$1" && echo ready && exec sleep "$2"`, "sh", bin, token())
			p.waitLine(t, "ready")
			inv := h.inv("exec", name, "--", "sh", "-c", `[ -p "$1" ] && echo fifo-planted`, "sh", bin)
			inv.timeout = joinBound + 5*time.Second
			began := time.Now()
			r := inv.run(t)
			if r.code != 0 || r.stdout != "fifo-planted\n" {
				t.Errorf("want sbx exec to run beside the FIFO at %s:\n%s", bin, r)
			}
			if d := time.Since(began); d > joinBound/2 {
				t.Errorf("sbx exec took %v", d)
			}
		})
	}
}

// TestExecHoldStopped stops the joining process from inside the sandbox:
// sbx exec kills it at the bound and fails with exit 125 and one line.
func TestExecHoldStopped(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := stopperSandbox(t, h)
	for attempt := 1; ; attempt++ {
		began := time.Now()
		p := h.start(t, "exec", name, "--", "true")
		stopped := stoppedChild(p.cmd.Process.Pid, p.done)
		if stopped == 0 {
			// Not caught: it joined and ran before the stopper saw it.
			r := p.wait(t)
			if attempt == 5 {
				t.Fatalf("the stopper caught none of 5 sbx exec:\n%s", r)
			}
			continue
		}
		r := p.wait(t)
		took := time.Since(began)
		expectBadInput(t, r, joinKilled, name)
		if took < joinBound-time.Second || took > joinBound+5*time.Second {
			t.Errorf("sbx exec ended after %v, want about %v", took, joinBound)
		}
		if state, _, ok := procState(stopped); ok && state == 'T' {
			t.Errorf("the stopped joining process %d is still there", stopped)
		}
		t.Logf("caught at attempt %d, ended after %v", attempt, took.Round(time.Millisecond))
		return
	}
}

// TestExecHoldSignals sends INT, TERM or HUP to sbx exec while its joining
// process is stopped, with and without -t (which waits for the terminal
// the joining process would send): sbx ends at once, like a command killed
// by that signal (128+N), and leaves no joining process behind.
func TestExecHoldSignals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		tty bool
		sig syscall.Signal
	}{
		{false, unix.SIGINT}, {false, unix.SIGTERM}, {true, unix.SIGHUP}, {true, unix.SIGTERM},
	} {
		mode := "exec"
		if c.tty {
			mode = "exec-t"
		}
		t.Run(mode+"-"+unix.SignalName(c.sig), func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			name := stopperSandbox(t, h)
			for attempt := 1; ; attempt++ {
				var (
					pid    int
					done   <-chan struct{}
					result func() (int, string)
					pty    *ptyPair
					before unix.Termios
				)
				if c.tty {
					pty = openPty(t)
					before = pty.termios(t)
					tp := h.startOnPty(t, pty, "exec", "-t", name, "--", "true")
					pid, done = tp.cmd.Process.Pid, tp.done
					result = func() (int, string) { return tp.wait(t), tp.output() }
				} else {
					p := h.start(t, "exec", name, "--", "true")
					pid, done = p.cmd.Process.Pid, p.done
					result = func() (int, string) { r := p.wait(t); return r.code, r.String() }
				}
				stopped := stoppedChild(pid, done)
				if stopped == 0 {
					code, out := result()
					if attempt == 5 {
						t.Fatalf("the stopper caught none of 5 sbx exec: exit %d\n%s", code, out)
					}
					continue
				}
				if err := unix.Kill(pid, c.sig); err != nil {
					t.Fatal(err)
				}
				sent := time.Now()
				select {
				case <-done:
				case <-time.After(3 * time.Second):
					t.Fatalf("sbx exec still runs 3s after %v, its joining process %d stopped%s", c.sig, stopped, ignoredNote(c.sig))
				}
				code, out := result()
				if want := 128 + int(c.sig); code != want {
					t.Errorf("want exit %d after %v, got %d:\n%s", want, c.sig, code, out)
				}
				if state, _, ok := procState(stopped); ok && state == 'T' {
					t.Errorf("the stopped joining process %d is still there", stopped)
				}
				if c.tty {
					checkRestored(t, pty, before)
				}
				t.Logf("caught at attempt %d, ended %v after %v", attempt, time.Since(sent).Round(time.Millisecond), c.sig)
				return
			}
		})
	}
}

// TestExecHoldGoRuntime plants a FIFO where the Go runtime reads a file
// when it starts (the huge page size under /sys), in a sandbox with a
// writable rootfs: the joining process starts the Go runtime inside the
// sandbox, which sbx cannot change, so it waits there; sbx kills it at the
// bound and fails with one line rather than waiting forever.
func TestExecHoldGoRuntime(t *testing.T) {
	t.Parallel()
	root := busyboxRootfs(t)
	h := newStateHome(t)
	dir := "/sys/kernel/mm/transparent_hugepage"
	name := sandboxName("gofifo")
	h.cleanup(t, name)
	p := h.start(t, "run", "--name", name, "--rootfs", root, "--rootfs-rw", "-e", "PATH=/bin", "--",
		"/bin/sh", "-c", `mkdir -p "$1" && busybox mkfifo "$1/hpage_pmd_size" && echo ready && exec sleep "$2"`, "sh", dir, token())
	p.waitLine(t, "ready")
	inv := h.inv("exec", name, "--", "true")
	inv.timeout = joinBound + 10*time.Second
	began := time.Now()
	r := inv.run(t)
	took := time.Since(began)
	expectBadInput(t, r, joinKilled)
	if took > joinBound+5*time.Second {
		t.Errorf("sbx exec ended after %v, want about %v", took, joinBound)
	}
}

// TestExecOtherBinary joins a sandbox started by another copy of sbx (as
// after an upgrade): pid 1's read-only bind is of another file, so the
// joining process runs from a sealed memfd copy of its own binary instead;
// with SBX_CLONE=bind, sbx refuses with one line.
func TestExecOtherBinary(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	other := filepath.Join(testDir(t), "sbx-other")
	copyFile(t, sbxBinary(t), other, 0o755)
	name := sandboxName("other")
	h.cleanup(t, name)
	tok := token()
	for tries := 0; ; tries++ {
		run := exec.Command(other, "run", "-d", "--name", name, "--", "sleep", tok)
		run.Dir, run.Env = h.dir, h.env
		out, err := run.CombinedOutput()
		// A process forked by another test while the copy was open for
		// writing holds it until its exec (golang/go#22315).
		if errors.Is(err, syscall.ETXTBSY) && tries < 100 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("%s run -d: %v\n%s", other, err, out)
		}
		break
	}
	if got := h.sbx(t, "exec", name, "--", "echo", "joined").ok(t); got != "joined\n" {
		t.Errorf("want joined, got %q", got)
	}
	bind := h.inv("exec", name, "--", "true")
	bind.env = append(append([]string{}, h.env...), "SBX_CLONE=bind")
	expectBadInput(t, bind.run(t), "SBX_CLONE=bind")
}

// TestRunSignalAtStart sends TERM (or HUP, with -t) to sbx run a few
// milliseconds after its start, while the sandbox is being set up: the
// signal is forwarded to the sandbox's pid 1 as soon as it exists, which
// drops a signal it neither blocks nor handles (the init of a PID
// namespace), so pid 1 blocks the forwarded signals from its creation on.
// Before, about one in three of these ran on.
func TestRunSignalAtStart(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{false, true} {
		sig, mode := unix.SIGTERM, "run"
		if tty {
			sig, mode = unix.SIGHUP, "run-t"
		}
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			for i := range 20 {
				delay := time.Duration(2+i%10) * time.Millisecond
				var (
					cmd  *exec.Cmd
					done <-chan struct{}
				)
				if tty {
					tp := h.startOnPty(t, openPty(t), "run", "-t", "--", "sleep", token())
					cmd, done = tp.cmd, tp.done
				} else {
					p := h.start(t, "run", "--", "sleep", token())
					cmd, done = p.cmd, p.done
				}
				time.Sleep(delay)
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				select {
				case <-done:
				case <-time.After(3 * time.Second):
					t.Fatalf("sbx run still runs 3s after %v sent %v after its start%s", sig, delay, ignoredNote(sig))
				}
				// Killed by it itself when it came before sbx
				// caught signals: there was no sandbox to end yet.
				ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !(ws.Exited() && ws.ExitStatus() == 128+int(sig)) && !(ws.Signaled() && ws.Signal() == sig) {
					t.Fatalf("want exit %d after %v sent %v after the start, got wait status %#x", 128+int(sig), sig, delay, int(ws))
				}
			}
		})
	}
}

package test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of what a forwarded signal reaches: the command's whole job (its
// process group), as the terminal's own signal would, for sbx run and sbx
// exec without -t; and of -t refused without a terminal on stdin.

// jobEndBound is how long sbx may take to end once the job got its signal.
const jobEndBound = 3 * time.Second

// TestCtrlCReachesJob types ^C on the terminal that sbx runs on, without
// -t: the kernel sends SIGINT to sbx's foreground process group, sbx
// forwards it, and it must reach the children of the command's shell too,
// so that the shell dies of it as it would outside the sandbox: sbx exits
// 130 at once, the shell goes no further, and nothing of the job is left.
func TestCtrlCReachesJob(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, how, script string }{
		// The shell waits for its foreground child, and dies of
		// SIGINT only once that child has.
		{"run foreground child", "run", `echo ready; sleep "$1"; echo survived`},
		// A background child ignores SIGINT (a shell without job
		// control); the sandbox's end takes it down.
		{"run background child", "run", `sleep "$1" & echo ready; wait; echo survived`},
		{"exec foreground child", "exec", `echo ready; sleep "$1"; echo survived`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			p := openPty(t)
			if p.termios(t).Lflag&syscall.ISIG == 0 {
				t.Fatalf("the new pty %s has ISIG off: ^C would be no signal", p.name)
			}
			tok := token()
			tp := h.startOnPty(t, p, ttyCommand(t, h, c.how, "", "sh", "-c", c.script, "sh", tok)...)
			tp.expect(t, `ready\r?\n`)
			if _, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok); !ok {
				t.Fatalf("the command's `sleep %s` did not start:\n%s", tok, indent(tp.output()))
			}
			// Past the hand-over to the monitor (0.2 s), where a job
			// that runs a while is when ^C comes.
			time.Sleep(300 * time.Millisecond)
			sent := time.Now()
			tp.send(t, "\x03")
			select {
			case <-tp.done:
			case <-time.After(jobEndBound):
				t.Fatalf("sbx did not end within %v of ^C (the signal did not reach the job):\n%s", jobEndBound, indent(tp.output()))
			}
			if code := tp.wait(t); code != 130 {
				t.Errorf("want exit 130 after ^C, got %d (after %v):\n%s", code, time.Since(sent), indent(tp.output()))
			}
			if strings.Contains(tp.output(), "survived") {
				t.Errorf("the shell went on after ^C:\n%s", indent(tp.output()))
			}
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
				t.Errorf("`sleep %s` of the job outlived ^C as pids %v", tok, pids)
				killPids(pids)
			}
		})
	}
}

// TestSignalReachesJob sends SIGTERM to sbx without a terminal: it must
// reach every process of the command's job, not only the shell. The shell
// traps TERM, and a shell runs a trap only once its foreground child has
// ended: the child ends at once only if it got the signal too.
func TestSignalReachesJob(t *testing.T) {
	t.Parallel()
	script := `trap "echo shell-got-TERM" TERM; echo ready; sleep "$1"; echo "sleep-ended-$?"`
	for _, c := range []struct {
		how   string
		delay time.Duration // before the signal: past 0.2 s, the monitor forwards it
	}{{"run", 0}, {"run", 300 * time.Millisecond}, {"exec", 0}, {"exec", 300 * time.Millisecond}} {
		how := c.how
		t.Run(fmt.Sprintf("%s after %v", how, c.delay), func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			tok := token()
			var args []string
			if how == "run" {
				args = []string{"run", "--", "sh", "-c", script, "sh", tok}
			} else {
				name := h.detach(t, sandboxName("sigjob"), "--", "sleep", token())
				args = []string{"exec", name, "--", "sh", "-c", script, "sh", tok}
			}
			p := h.start(t, args...)
			p.waitLine(t, "ready")
			if _, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok); !ok {
				t.Fatalf("the command's `sleep %s` did not start:\n%s", tok, p.stdout.String())
			}
			time.Sleep(c.delay)
			p.signal(t, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(jobEndBound):
				t.Fatalf("sbx did not end within %v of SIGTERM (the signal did not reach the shell's child)%s:\n%s",
					jobEndBound, ignoredNote(syscall.SIGTERM), indent(p.stdout.String()))
			}
			r := p.wait(t)
			if r.code != 0 || !strings.Contains(r.stdout, "shell-got-TERM\n") || !strings.Contains(r.stdout, "sleep-ended-143\n") {
				t.Errorf("want shell-got-TERM, sleep-ended-143 and exit 0:\n%s", r)
			}
		})
	}
}

// TestTTYWithoutTerminal gives -t a stdin that is not a terminal (a
// pipe): sbx refuses at once with one line and 125, as docker and podman
// do, instead of waiting forever for an end of input the pty never sees.
func TestTTYWithoutTerminal(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"run", "exec"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			args := []string{"run", "-t", "--", "cat"}
			if how == "exec" {
				name := h.detach(t, sandboxName("ttypipe"), "--", "sleep", token())
				args = []string{"exec", "-t", name, "--", "cat"}
			}
			inv := h.inv(args...)
			inv.stdin = strings.NewReader("hi\n")
			inv.timeout = 3 * time.Second
			r := inv.run(t)
			r.expect(t, 125)
			if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], "not a TTY") || !strings.Contains(l[0], "drop -t") {
				t.Errorf("want one line on stderr saying stdin is not a TTY and to drop -t:\n%s", r)
			}
			if r.stdout != "" {
				t.Errorf("want nothing on stdout:\n%s", r)
			}
			if how == "run" {
				if ps := h.ps(t); len(ps) != 0 {
					t.Errorf("a refused run left sandboxes behind: %v", ps)
				}
			}
		})
	}
}

package test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// TestSignalForwarding checks that signals sent to sbx reach the command.
func TestSignalForwarding(t *testing.T) {
	t.Parallel()
	for _, sig := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"TERM", syscall.SIGTERM},
		{"INT", syscall.SIGINT},
		{"HUP", syscall.SIGHUP},
		{"QUIT", syscall.SIGQUIT},
		{"USR1", syscall.SIGUSR1},
		{"USR2", syscall.SIGUSR2},
		{"WINCH", syscall.SIGWINCH},
	} {
		t.Run(sig.name, func(t *testing.T) {
			t.Parallel()
			script := fmt.Sprintf(`trap "echo got-%[1]s; exit 7" %[1]s; echo ready; while :; do sleep 0.1; done`, sig.name)
			p := start(t, "run", "--", "sh", "-c", script)
			p.waitLine(t, "ready")
			p.signal(t, sig.sig)
			r := p.wait(t)
			if r.code != 7 || !strings.Contains(r.stdout, "got-"+sig.name+"\n") {
				t.Errorf("want got-%s and exit 7 after SIG%s%s:\n%s", sig.name, sig.name, ignoredNote(sig.sig), r)
			}
		})
	}
	// Without a trap, the forwarded signal kills the command, and sbx
	// exits with 128+N.
	for _, sig := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"TERM", syscall.SIGTERM},
		{"INT", syscall.SIGINT},
		{"HUP", syscall.SIGHUP},
	} {
		t.Run(sig.name+" kills the command", func(t *testing.T) {
			t.Parallel()
			p := start(t, "run", "--", "sh", "-c", `echo ready; exec sleep 1000`)
			p.waitLine(t, "ready")
			p.signal(t, sig.sig)
			r := p.wait(t)
			if r.code != 128+int(sig.sig) {
				t.Errorf("want exit %d after SIG%s%s:\n%s", 128+int(sig.sig), sig.name, ignoredNote(sig.sig), r)
			}
		})
	}
}

// TestDieWithParent checks that killing sbx with SIGKILL kills everything in
// the sandbox: the command and its children.
func TestDieWithParent(t *testing.T) {
	t.Parallel()
	tok := token()
	// Two processes with the argv `sleep TOKEN`: the command's child and
	// the command itself, after exec.
	p := start(t, "run", "--", "sh", "-c", `sleep "$1" & echo ready; exec sleep "$1"`, "sh", tok)
	p.waitLine(t, "ready")
	sleep := []string{"sleep", tok}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 2 }, sleep...); !ok {
		t.Fatalf("want 2 host processes `sleep %s` in the sandbox, found %v", tok, pids)
	}
	p.signal(t, syscall.SIGKILL)
	r := p.wait(t)
	if r.code != exitSignaled || r.signal != syscall.SIGKILL {
		t.Errorf("sbx was not killed by SIGKILL:\n%s", r)
	}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, sleep...); !ok {
		t.Errorf("the sandbox outlived sbx: `sleep %s` still runs as pids %v", tok, pids)
		killPids(pids)
	}
}

// TestSandboxEndsWithCommand checks that when the command exits, sbx exits
// with its code at once, and what the command left running in the
// background is killed.
func TestSandboxEndsWithCommand(t *testing.T) {
	t.Parallel()
	tok := token()
	r := sbx(t, "run", "--", "sh", "-c", `sleep "$1" >/dev/null 2>&1 & echo started; exit 5`, "sh", tok)
	r.expect(t, 5)
	if r.stdout != "started\n" {
		t.Errorf("want stdout started:\n%s", r)
	}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Errorf("a background process outlived its sandbox: `sleep %s` still runs as pids %v", tok, pids)
		killPids(pids)
	}
}

// killPids kills processes that a failed test left behind.
func killPids(pids []int) {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestRunConcurrent starts many short sandboxes at once. Under load a
// command can end before sbx has read its pid 1's start time for the record:
// that zombie is still sbx's child, and the run must succeed all the same.
func TestRunConcurrent(t *testing.T) {
	t.Parallel()
	const n = 40
	procs := make([]*process, n)
	for i := range procs {
		procs[i] = start(t, "run", "--", "true")
	}
	for _, p := range procs {
		if r := p.wait(t); r.code != 0 {
			t.Errorf("one of %d concurrent runs failed:\n%s", n, r)
		}
	}
}

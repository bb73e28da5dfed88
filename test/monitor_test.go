package test

// An attached sandbox that runs for a while is handed from the Go sbx
// parent to a small C monitor, the same process after an exec (see
// sandbox/monitor.go). These tests wait for that handover and check that
// nothing a user relies on changes: signals still reach the command, sbx
// ends with the command's code, the record goes, the sandbox dies with sbx,
// and the monitor is as small as promised.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitMonitor waits until pid is the monitor (its argv is "sbx monitor").
func waitMonitor(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Equal(argv, []byte("sbx\x00monitor\x00")) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	t.Fatalf("sbx (pid %d) did not hand its sandbox over to the monitor within 5 s; its argv is %q", pid, argv)
}

// procStatus returns a field of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

func TestMonitorForwardsSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"TERM", syscall.SIGTERM}, {"INT", syscall.SIGINT}, {"HUP", syscall.SIGHUP},
		{"USR1", syscall.SIGUSR1}, {"WINCH", syscall.SIGWINCH},
	} {
		t.Run(sig.name, func(t *testing.T) {
			t.Parallel()
			script := fmt.Sprintf(`trap "echo got-%[1]s; exit 7" %[1]s; echo ready; while :; do sleep 0.1; done`, sig.name)
			p := start(t, "run", "--", "sh", "-c", script)
			p.waitLine(t, "ready")
			waitMonitor(t, p.cmd.Process.Pid)
			p.signal(t, sig.sig)
			r := p.wait(t)
			if r.code != 7 || !strings.Contains(r.stdout, "got-"+sig.name+"\n") {
				t.Errorf("after the handover, want got-%s and exit 7 after SIG%s%s:\n%s", sig.name, sig.name, ignoredNote(sig.sig), r)
			}
		})
	}
	t.Run("TERM kills the command", func(t *testing.T) {
		t.Parallel()
		p := start(t, "run", "--", "sh", "-c", `echo ready; exec sleep 1000`)
		p.waitLine(t, "ready")
		waitMonitor(t, p.cmd.Process.Pid)
		p.signal(t, syscall.SIGTERM)
		if r := p.wait(t); r.code != 128+int(syscall.SIGTERM) {
			t.Errorf("after the handover, want exit %d after SIGTERM:\n%s", 128+int(syscall.SIGTERM), r)
		}
	})
}

func TestMonitorExitCodesAndRecord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script string
		code   int
	}{
		{"exit 0", "exit 0", 0},
		{"exit 7", "exit 7", 7},
		{"killed by KILL", "kill -KILL $$", 128 + int(syscall.SIGKILL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "mon-" + token()
			p := start(t, "run", "--name", name, "--", "sh", "-c", "echo ready; sleep 0.6; "+tc.script)
			p.waitLine(t, "ready")
			pid := p.cmd.Process.Pid
			waitMonitor(t, pid)
			// What the monitor costs: one thread, little memory.
			if threads := procStatus(t, pid, "Threads"); threads != "1" {
				t.Errorf("the monitor runs %s threads, want 1", threads)
			}
			rss, _ := strconv.Atoi(strings.TrimSuffix(procStatus(t, pid, "VmRSS"), " kB"))
			if rss == 0 || rss > 3*1024 {
				t.Errorf("the monitor's RSS is %d KiB, want at most 3 MiB", rss)
			}
			if r := sbx(t, "state", name); r.code != 0 || !strings.Contains(r.stdout, `"status": "running"`) {
				t.Errorf("sbx state %s during the handover:\n%s", name, r)
			}
			r := p.wait(t)
			if r.code != tc.code || r.stderr != "" {
				t.Errorf("want exit %d and no stderr:\n%s", tc.code, r)
			}
			if r := sbx(t, "state", name); r.code != 125 {
				t.Errorf("the record of %s outlived its attached sandbox:\n%s", name, r)
			}
		})
	}
}

func TestMonitorDiesWithSandbox(t *testing.T) {
	t.Parallel()
	tok := token()
	p := start(t, "run", "--", "sh", "-c", `sleep "$1" & echo ready; exec sleep "$1"`, "sh", tok)
	p.waitLine(t, "ready")
	waitMonitor(t, p.cmd.Process.Pid)
	p.signal(t, syscall.SIGKILL)
	p.wait(t)
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Errorf("the sandbox outlived its monitor: `sleep %s` still runs as pids %v", tok, pids)
		killPids(pids)
	}
}

func TestMonitorExec(t *testing.T) {
	t.Parallel()
	name := "monx-" + token()
	r := sbx(t, "run", "--name", name, "-d", "--", "sleep", "1000")
	r.expect(t, 0)
	t.Cleanup(func() { sbx(t, "rm", "-f", name) })
	p := start(t, "exec", name, "--", "sh", "-c", `trap "exit 9" USR1; echo ready; while :; do sleep 0.1; done`)
	p.waitLine(t, "ready")
	waitMonitor(t, p.cmd.Process.Pid)
	p.signal(t, syscall.SIGUSR1)
	if r := p.wait(t); r.code != 9 {
		t.Errorf("sbx exec after the handover: want exit 9 after SIGUSR1:\n%s", r)
	}
	if r := sbx(t, "state", name); !strings.Contains(r.stdout, `"status": "running"`) {
		t.Errorf("the end of sbx exec touched the sandbox's record:\n%s", r)
	}
}

// The monitor's own variable is refused when a user sets it by mistake.
func TestMonitorEnvIsInternal(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"_SBX_MONITOR=1 2 x", "_SBX_MONITOR=junk"} {
		r := invocation{args: []string{"version"}, env: append(os.Environ(), v)}.run(t)
		if r.code != 125 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "internal to sbx") {
			t.Errorf("%s sbx version: want exit 125 and one line naming it internal:\n%s", v, r)
		}
	}
}

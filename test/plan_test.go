package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPlanLargeCommandLine: the plan carries the command line and the
// environment to every stage; one near the kernel's limit (here 1.2 MB of
// arguments and 0.12 MB of environment) starts as it would without sbx.
func TestPlanLargeCommandLine(t *testing.T) {
	t.Parallel()
	arg := strings.Repeat("x", 100000)
	args := []string{"run", "-e", "BIG=" + strings.Repeat("y", 120000), "--", "sh", "-c", `echo $# ${#1} ${#BIG}`, "sh"}
	for range 12 {
		args = append(args, arg)
	}
	r := sbx(t, args...)
	if out := r.ok(t); out != "12 100000 120000\n" {
		t.Errorf("want 12 arguments of 100000 bytes and BIG of 120000, got %q", out)
	}
}

// TestPlanSignalWhileReading: until sbx starts making a sandbox, a signal
// ends it as it ends any program. Here the planner waits on a --seccomp
// file that is a FIFO nobody writes: Ctrl-C (SIGINT) must end sbx at once,
// with nothing left (no record, no process).
func TestPlanSignalWhileReading(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	fifo := filepath.Join(testDir(t), "profile.json")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	name := sandboxName("fifo")
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	cmd, _ := h.inv("run", "--name", name, "--seccomp", fifo, "--", "true").command(t, ctx)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once sbx has the FIFO open for reading, a writer's open succeeds;
	// the writer then writes nothing, so sbx waits in its read.
	var w *os.File
	for deadline := time.Now().Add(defaultTimeout); ; time.Sleep(10 * time.Millisecond) {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			w = f
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("sbx never opened the --seccomp FIFO: %v", err)
		}
	}
	defer w.Close()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second * time.Duration(timeScale())):
		cmd.Process.Kill()
		<-done
		t.Fatalf("sbx kept waiting on the FIFO after SIGINT")
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("want sbx ended by SIGINT, got wait status %v", ws)
	}
	if _, err := os.Stat(filepath.Join(h.runtime, "sbx", name)); !os.IsNotExist(err) {
		t.Errorf("a record of %s was left: %v", name, err)
	}
}

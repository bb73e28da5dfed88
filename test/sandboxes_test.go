package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Helpers of the tests of named sandboxes (sbx run --name/-d, exec, ps,
// state, kill, rm).

// pollTimeout bounds every wait for a state change of a sandbox.
const pollTimeout = 10 * time.Second

// stateHome is a private state directory of sbx for one test: every sbx it
// runs has XDG_RUNTIME_DIR set to a fresh directory, so that tests running
// in parallel never see each other's sandboxes.
type stateHome struct {
	runtime string   // XDG_RUNTIME_DIR
	dir     string   // working directory of every sbx it runs
	env     []string // the test's environment with XDG_RUNTIME_DIR
}

func newStateHome(t *testing.T) *stateHome {
	t.Helper()
	runtime := testDir(t)
	// exec.Cmd keeps the last value of a variable set twice.
	return &stateHome{
		runtime: runtime,
		dir:     testDir(t),
		env:     append(os.Environ(), "XDG_RUNTIME_DIR="+runtime),
	}
}

// inv returns an invocation of `sbx args...` in the home.
func (h *stateHome) inv(args ...string) invocation {
	return invocation{args: args, dir: h.dir, env: h.env}
}

// sbx runs `sbx args...` in the home.
func (h *stateHome) sbx(t *testing.T, args ...string) result {
	t.Helper()
	return h.inv(args...).run(t)
}

// start starts `sbx args...` in the home, in the background; it is killed
// when the test ends, if it still runs.
func (h *stateHome) start(t *testing.T, args ...string) *process {
	t.Helper()
	return startInvocation(t, h.inv(args...))
}

// startInvocation is start for any invocation.
func startInvocation(t *testing.T, inv invocation) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*defaultTimeout)
	cmd, dir := inv.command(t, ctx)
	p := &process{cmd: cmd, inv: inv, dir: dir, stdout: newLineBuffer(), stderr: newLineBuffer(),
		done: make(chan struct{}), cancel: cancel}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sbx: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		cancel()
	})
	return p
}

// detach runs `sbx run -d --name NAME args...` (args: more flags, "--" and
// the command), checks that it printed exactly NAME and exited 0, and
// returns NAME. The sandbox is removed with `sbx rm -f` when the test ends.
func (h *stateHome) detach(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := h.sbx(t, append([]string{"run", "-d", "--name", name}, args...)...)
	h.cleanup(t, name)
	r.expect(t, 0)
	if r.stdout != name+"\n" {
		t.Fatalf("want exactly the name %s on one stdout line:\n%s", name, r)
	}
	return name
}

// cleanup removes the sandbox name (killing it if needed) when the test
// ends.
func (h *stateHome) cleanup(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() {
		r := h.sbx(t, "rm", "-f", name)
		if r.code == 0 {
			return
		}
		// Already removed by the test, or rm -f failed: then kill what
		// is left, which the test user may.
		if st, ok := h.tryState(t, name); ok && st.Status == "running" && st.Pid > 0 {
			t.Errorf("cleanup: sbx rm -f %s failed; killing pid %d:\n%s", name, st.Pid, r)
			killPids([]int{st.Pid})
		}
	})
}

// sbxState is the output of `sbx state NAME`.
type sbxState struct {
	Name       string            `json:"name"`
	Pid        int               `json:"pid"`
	Status     string            `json:"status"`
	ExitCode   *int              `json:"exit_code"`
	Created    string            `json:"created"`
	Command    []string          `json:"command"`
	Detached   bool              `json:"detached"`
	Namespaces map[string]string `json:"namespaces"`
	Config     struct {
		Process *struct {
			Args []string `json:"args"`
		} `json:"process"`
	} `json:"config"`
}

// state runs `sbx state NAME` and parses it; it fails the test unless sbx
// exits 0 with one JSON object.
func (h *stateHome) state(t *testing.T, name string) sbxState {
	t.Helper()
	r := h.sbx(t, "state", name)
	out := r.ok(t)
	var st sbxState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("sbx state %s: not a JSON object (%v):\n%s", name, err, r)
	}
	return st
}

// tryState is state for cleanups: it reports false instead of failing.
func (h *stateHome) tryState(t *testing.T, name string) (sbxState, bool) {
	t.Helper()
	var st sbxState
	r := h.sbx(t, "state", name)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		return st, false
	}
	return st, true
}

// waitStatus polls `sbx state NAME` until its status is want.
func (h *stateHome) waitStatus(t *testing.T, name, want string) sbxState {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		st := h.state(t, name)
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox %s: status %q after %v, want %q", name, st.Status, pollTimeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// psEntry is one element of `sbx ps --json`.
type psEntry struct {
	Name     string   `json:"name"`
	Pid      int      `json:"pid"`
	Status   string   `json:"status"`
	ExitCode *int     `json:"exit_code"`
	Created  string   `json:"created"`
	Command  []string `json:"command"`
	// Memory and Pids are what its cgroup uses, if it has one.
	Memory *int64 `json:"memory_bytes"`
	Pids   *int64 `json:"pids"`
}

// ps runs `sbx ps --json` and returns its entries by name.
func (h *stateHome) ps(t *testing.T) map[string]psEntry {
	t.Helper()
	r := h.sbx(t, "ps", "--json")
	out := r.ok(t)
	var list []psEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("sbx ps --json: not a JSON array of objects (%v):\n%s", err, r)
	}
	if list == nil {
		t.Fatalf("sbx ps --json: want a JSON array, got null:\n%s", r)
	}
	m := map[string]psEntry{}
	for _, e := range list {
		if _, dup := m[e.Name]; dup {
			t.Fatalf("sbx ps --json lists %s twice:\n%s", e.Name, r)
		}
		m[e.Name] = e
	}
	return m
}

// waitPs polls `sbx ps --json` until cond holds for its entries.
func (h *stateHome) waitPs(t *testing.T, cond func(map[string]psEntry) bool) map[string]psEntry {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		list := h.ps(t)
		if cond(list) {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("sbx ps --json after %v: %v", pollTimeout, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExecOK polls `sbx exec NAME -- args...` until it exits 0, and
// returns its stdout: for what the sandbox's command does after it started.
func (h *stateHome) waitExecOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		r := h.sbx(t, append([]string{"exec", name, "--"}, args...)...)
		if r.code == 0 {
			return r.stdout
		}
		if time.Now().After(deadline) {
			t.Fatalf("sbx exec did not succeed within %v:\n%s", pollTimeout, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sandboxName returns a valid, unique sandbox name.
func sandboxName(prefix string) string {
	return prefix + "-" + token()
}

// generatedName is what a generated name looks like.
var generatedName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// expectBadInput checks that r is sbx refusing bad input: exit 125, no
// stdout, exactly one stderr line, holding every string of mention.
func expectBadInput(t *testing.T, r result, mention ...string) {
	t.Helper()
	if r.code != 125 {
		t.Errorf("want exit 125:\n%s", r)
		return
	}
	if r.stdout != "" {
		t.Errorf("want no stdout:\n%s", r)
	}
	l := lines(r.stderr)
	if len(l) != 1 || strings.TrimSpace(l[0]) == "" {
		t.Errorf("want exactly one stderr line:\n%s", r)
		return
	}
	for _, m := range mention {
		if !strings.Contains(l[0], m) {
			t.Errorf("want the error line to name %q:\n%s", m, r)
		}
	}
}

// sameStrings reports whether a and b hold the same strings in order.
func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// namespaceTypes are the namespaces of a sandbox.
var namespaceTypes = []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"}

// nsLink reads the namespace link /proc/PID/ns/TYPE, e.g. "net:[4026532008]".
func nsLink(t *testing.T, pid int, typ string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, typ))
	if err != nil {
		t.Fatalf("read the %s namespace of pid %d: %v", typ, pid, err)
	}
	return l
}

package test

import (
	"bytes"
	"context"
	"encoding/json"
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
)

// Tests of named sandboxes: sbx run --name/-d, ps, state, kill, rm, and the
// records sbx keeps of them. Every test has its own XDG_RUNTIME_DIR (see
// stateHome).

// TestNamedDetach checks the life of a detached sandbox: run -d prints its
// name and returns while the command keeps running without its sbx parent;
// it stays listed as exited after it ends, until sbx rm.
func TestNamedDetach(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	tok := token()
	name := h.detach(t, sandboxName("detached"), "--", "sleep", tok)

	// sbx run -d has exited: the sandbox runs on, at once.
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok); !ok {
		t.Fatalf("want the detached command `sleep %s` running after sbx run -d returned, found pids %v", tok, pids)
	}
	st := h.state(t, name)
	if st.Status != "running" || !st.Detached || st.Name != name {
		t.Errorf("want %s running and detached, got %+v", name, st)
	}
	if e, ok := h.ps(t)[name]; !ok || e.Status != "running" {
		t.Errorf("want %s listed as running by sbx ps, got %+v (listed: %v)", name, e, ok)
	}
	if out := h.sbx(t, "exec", name, "--", "echo", "in").ok(t); out != "in\n" {
		t.Errorf("exec into the detached sandbox: want in, got %q", out)
	}
	if fi, err := os.Stat(filepath.Join(h.runtime, "sbx", name)); err != nil || !fi.IsDir() {
		t.Errorf("want the state of %s in $XDG_RUNTIME_DIR/sbx/%s: %v", name, name, err)
	}

	// Ended, it stays listed as exited, and its name stays taken.
	h.sbx(t, "kill", name, "KILL").ok(t)
	h.waitStatus(t, name, "exited")
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Errorf("`sleep %s` outlived its killed sandbox: pids %v", tok, pids)
		killPids(pids)
	}
	if e, ok := h.ps(t)[name]; !ok || e.Status != "exited" {
		t.Errorf("want %s listed as exited by sbx ps, got %+v (listed: %v)", name, e, ok)
	}
	expectBadInput(t, h.sbx(t, "run", "--name", name, "--", "true"), name)

	// sbx rm forgets it.
	if r := h.sbx(t, "rm", name); r.code != 0 || r.stdout != "" {
		t.Errorf("want sbx rm to exit 0 and print nothing:\n%s", r)
	}
	if _, ok := h.ps(t)[name]; ok {
		t.Errorf("sbx ps still lists %s after sbx rm", name)
	}
	expectBadInput(t, h.sbx(t, "state", name), name)
	if _, err := os.Stat(filepath.Join(h.runtime, "sbx", name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want $XDG_RUNTIME_DIR/sbx/%s gone after sbx rm, got %v", name, err)
	}
	// The name is free again.
	h.sbx(t, "run", "--name", name, "--", "true").ok(t)
}

// TestDetachedCommandEnds checks that a detached sandbox whose command ends
// on its own shows as exited, and can then be removed.
func TestDetachedCommandEnds(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("ends"), "--", "sh", "-c", "exit 3")
	h.waitStatus(t, name, "exited")
	if e, ok := h.ps(t)[name]; !ok || e.Status != "exited" {
		t.Errorf("want %s listed as exited, got %+v (listed: %v)", name, e, ok)
	}
	h.sbx(t, "rm", name).ok(t)
	if _, ok := h.ps(t)[name]; ok {
		t.Errorf("sbx ps still lists %s after sbx rm", name)
	}
}

// TestGeneratedName checks the names sbx makes up when --name is absent.
func TestGeneratedName(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)

	// Detached: the name is printed, and usable.
	var names []string
	for range 2 {
		r := h.sbx(t, "run", "-d", "--", "sleep", token())
		l := lines(r.stdout)
		if len(l) == 1 {
			h.cleanup(t, l[0])
		}
		r.expect(t, 0)
		if len(l) != 1 || !generatedName.MatchString(l[0]) {
			t.Fatalf("want one stdout line with a name matching %s:\n%s", generatedName, r)
		}
		names = append(names, l[0])
		if st := h.state(t, l[0]); st.Status != "running" || st.Name != l[0] {
			t.Errorf("want %s running, got %+v", l[0], st)
		}
	}
	if names[0] == names[1] {
		t.Errorf("two sandboxes got the same generated name %s", names[0])
	}
	for _, n := range names {
		h.sbx(t, "rm", "-f", n).ok(t)
	}

	// Attached: listed under a generated name while it runs.
	tok := token()
	p := h.start(t, "run", "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", tok)
	p.waitLine(t, "ready")
	list := h.waitPs(t, func(list map[string]psEntry) bool {
		for _, e := range list {
			return len(list) == 1 && e.Status == "running"
		}
		return false
	})
	for n, e := range list {
		if !generatedName.MatchString(n) || e.Status != "running" {
			t.Errorf("want a running sandbox with a name matching %s, got %+v", generatedName, e)
		}
		if st := h.state(t, n); st.Detached {
			t.Errorf("an attached sandbox shows as detached: %+v", st)
		}
	}
}

// TestAttachedStateGoesAway checks that an attached sandbox is listed while
// it runs, and forgotten when it ends.
func TestAttachedStateGoesAway(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := sandboxName("attached")
	tok := token()
	p := h.start(t, "run", "--name", name, "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", tok)
	p.waitLine(t, "ready")
	// The record may follow the command's first output closely.
	st := h.waitStatus(t, name, "running")
	if st.Status != "running" || st.Detached || st.Name != name {
		t.Errorf("want %s running and not detached, got %+v", name, st)
	}
	if !sameStrings(st.Command, []string{"sh", "-c", `echo ready; exec sleep "$1"`, "sh", tok}) {
		t.Errorf("state of %s: wrong command %q", name, st.Command)
	}
	if e, ok := h.ps(t)[name]; !ok || e.Status != "running" || e.Pid != st.Pid {
		t.Errorf("want %s listed as running with pid %d, got %+v (listed: %v)", name, st.Pid, e, ok)
	}
	// A second sandbox of that name is refused, and the first one runs on.
	expectBadInput(t, h.sbx(t, "run", "--name", name, "--", "true"), name)

	h.sbx(t, "kill", name).ok(t)
	if r := p.wait(t); r.code != 128+int(syscall.SIGTERM) {
		t.Errorf("want sbx run to exit %d after sbx kill %s:\n%s", 128+int(syscall.SIGTERM), name, r)
	}
	// sbx run has returned: its record is gone already.
	expectBadInput(t, h.sbx(t, "state", name), name)
	if list := h.ps(t); len(list) != 0 {
		t.Errorf("want no sandbox listed after the attached one ended, got %v", list)
	}
	if _, err := os.Stat(filepath.Join(h.runtime, "sbx", name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want $XDG_RUNTIME_DIR/sbx/%s gone, got %v", name, err)
	}
	// The same with a command that ends on its own, twice with one name.
	for range 2 {
		h.sbx(t, "run", "--name", name, "--", "true").ok(t)
		expectBadInput(t, h.sbx(t, "state", name), name)
	}
}

// TestDuplicateName checks that a name in use, by a running or an exited
// sandbox, is refused.
func TestDuplicateName(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	tok := token()
	name := h.detach(t, sandboxName("dup"), "--", "sleep", tok)
	st := h.state(t, name)
	for _, args := range [][]string{
		{"run", "--name", name, "--", "sh", "-c", "echo ran"},
		{"run", "-d", "--name", name, "--", "sh", "-c", "echo ran"},
	} {
		expectBadInput(t, h.sbx(t, args...), name)
	}
	if st2 := h.state(t, name); st2.Status != "running" || st2.Pid != st.Pid {
		t.Errorf("the first %s changed: %+v, then %+v", name, st, st2)
	}
	if pids := hostProcesses(t, "sleep", tok); len(pids) != 1 {
		t.Errorf("want one `sleep %s`, found pids %v", tok, pids)
	}
	h.sbx(t, "kill", name, "KILL").ok(t)
	h.waitStatus(t, name, "exited")
	expectBadInput(t, h.sbx(t, "run", "--name", name, "--", "true"), name)
}

// TestConcurrentSameName starts several sandboxes of one name at once:
// exactly one wins.
func TestConcurrentSameName(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := sandboxName("race")
	tok := token()
	h.cleanup(t, name)
	const n = 6
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	type racer struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
	}
	racers := make([]*racer, n)
	for i := range racers {
		inv := h.inv("run", "-d", "--name", name, "--", "sleep", tok)
		r := &racer{}
		r.cmd, _ = inv.command(t, ctx)
		r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
		racers[i] = r
	}
	// Start them all before waiting for any.
	for _, r := range racers {
		if err := r.cmd.Start(); err != nil {
			t.Fatalf("start sbx: %v", err)
		}
	}
	won := 0
	for _, r := range racers {
		err := r.cmd.Wait()
		res := result{args: r.cmd.Args[1:], dir: r.cmd.Dir, stdout: r.stdout.String(), stderr: r.stderr.String()}
		res.code, res.signal = exitStatus(t, err, r.cmd)
		switch res.code {
		case 0:
			won++
			if res.stdout != name+"\n" {
				t.Errorf("the winner should print its name:\n%s", res)
			}
		default:
			expectBadInput(t, res, name)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the racers did not end within %v", defaultTimeout)
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent `sbx run -d --name %s` won, want exactly 1", won, n, name)
	}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 1 }, "sleep", tok); !ok {
		t.Errorf("want exactly one `sleep %s` running, found pids %v", tok, pids)
	}
	if e, ok := h.ps(t)[name]; !ok || e.Status != "running" {
		t.Errorf("want %s listed once, running: %+v (listed: %v)", name, e, ok)
	}
}

// TestSandboxNames checks which names are accepted, and that a bad one is
// refused by every command without touching anything.
func TestSandboxNames(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	for _, name := range []string{strings.Repeat("a", 64), "A.b_c-9", "0", "x..y"} {
		h.sbx(t, "run", "--name", name, "--", "true").ok(t)
	}
	keep := h.detach(t, sandboxName("keep"), "--", "sleep", token())
	bad := []string{
		strings.Repeat("a", 65), "a b", ".x", "_x", "-x", "a/b", "..", ".", "../" + keep,
		"a:b", "a*", "é", "x\ny", "a\tb", "x\n",
	}
	for _, name := range bad {
		mention := []string{name}
		if strconv.Quote(name) != `"`+name+`"` {
			mention = nil // printed escaped
		}
		// --name=NAME, so that a name starting with - is a value.
		expectBadInput(t, h.sbx(t, "run", "--name="+name, "--", "sh", "-c", "echo ran"), mention...)
		expectBadInput(t, h.sbx(t, "run", "-d", "--name="+name, "--", "sh", "-c", "echo ran"), mention...)
		if strings.HasPrefix(name, "-") {
			continue // a positional argument starting with - is a flag
		}
		for _, args := range [][]string{
			{"state", name}, {"kill", name}, {"kill", name, "KILL"}, {"rm", name}, {"rm", "-f", name},
			{"exec", name, "--", "true"},
		} {
			r := h.sbx(t, args...)
			if r.code != 125 || r.stdout != "" || len(lines(r.stderr)) != 1 {
				t.Errorf("want exit 125 and one stderr line:\n%s", r)
			}
		}
	}
	// Nothing was started, nothing was removed.
	list := h.ps(t)
	if len(list) != 1 || list[keep].Status != "running" {
		t.Errorf("want only %s listed, running; got %v", keep, list)
	}
	if _, err := os.Stat(filepath.Join(h.runtime, "sbx", keep)); err != nil {
		t.Errorf("the state of %s: %v", keep, err)
	}
}

// TestUnknownSandbox checks that every command refuses a name without a
// sandbox.
func TestUnknownSandbox(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := sandboxName("nosuch")
	for _, args := range [][]string{
		{"state", name}, {"kill", name}, {"kill", name, "KILL"}, {"rm", name}, {"rm", "-f", name},
		{"exec", name, "--", "true"},
	} {
		expectBadInput(t, h.sbx(t, args...), name)
	}
}

// TestNotRunning checks exec and kill on an exited sandbox.
func TestNotRunning(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("exited"), "--", "true")
	h.waitStatus(t, name, "exited")
	for _, args := range [][]string{
		{"exec", name, "--", "true"}, {"kill", name}, {"kill", name, "KILL"}, {"kill", name, "HUP"},
	} {
		expectBadInput(t, h.sbx(t, args...), name)
	}
	if st := h.state(t, name); st.Status != "exited" || st.Name != name {
		t.Errorf("want %s exited, got %+v", name, st)
	}
}

// TestKill checks the signals sbx kill takes and that they reach the
// command.
func TestKill(t *testing.T) {
	t.Parallel()
	t.Run("forwarded", func(t *testing.T) {
		t.Parallel()
		h := newStateHome(t)
		// The command logs each signal it gets to sig.log in its working
		// directory (the test's, bound read-write), and ends on TERM.
		script := `for s in HUP INT QUIT USR1 USR2; do trap "echo $s >>sig.log" $s; done
			trap 'echo TERM >>sig.log; exit 0' TERM
			echo ready >ready
			while :; do sleep 0.05; done`
		name := h.detach(t, sandboxName("kill"), "--", "sh", "-c", script)
		waitFile(t, filepath.Join(h.dir, "ready"))
		var want []string
		for _, sig := range []struct{ arg, got string }{
			{"HUP", "HUP"}, {"SIGUSR1", "USR1"}, {"USR2", "USR2"}, {"10", "USR1"}, {"1", "HUP"},
			{"SIGINT", "INT"}, {"QUIT", "QUIT"}, {"12", "USR2"},
		} {
			r := h.sbx(t, "kill", name, sig.arg)
			if r.code != 0 || r.stdout != "" || r.stderr != "" {
				t.Errorf("want sbx kill %s %s to exit 0 silently:\n%s", name, sig.arg, r)
				continue
			}
			want = append(want, sig.got)
			waitLog(t, filepath.Join(h.dir, "sig.log"), want, "sbx kill "+sig.arg)
		}
		// No signal: TERM.
		h.sbx(t, "kill", name).ok(t)
		want = append(want, "TERM")
		waitLog(t, filepath.Join(h.dir, "sig.log"), want, "sbx kill")
		h.waitStatus(t, name, "exited")
		expectBadInput(t, h.sbx(t, "kill", name), name)
	})
	for _, sig := range []string{"KILL", "SIGKILL", "9", "TERM", "SIGTERM", "15"} {
		t.Run(sig, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			tok := token()
			name := h.detach(t, sandboxName("kill"), "--", "sleep", tok)
			h.sbx(t, "kill", name, sig).ok(t)
			h.waitStatus(t, name, "exited")
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
				t.Errorf("`sleep %s` outlived sbx kill %s %s: pids %v", tok, name, sig, pids)
				killPids(pids)
			}
		})
	}
	t.Run("bad signal", func(t *testing.T) {
		t.Parallel()
		h := newStateHome(t)
		name := h.detach(t, sandboxName("badsig"), "--", "sleep", token())
		st := h.state(t, name)
		for _, sig := range []string{"FOO", "SIGFOO", "999", "65", "1x", "SIG"} {
			expectBadInput(t, h.sbx(t, "kill", name, sig), sig)
		}
		if st2 := h.state(t, name); st2.Status != "running" || st2.Pid != st.Pid {
			t.Errorf("a refused signal changed the sandbox: %+v, then %+v", st, st2)
		}
	})
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, pollTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLog waits until the file path holds exactly the lines want.
func waitLog(t *testing.T, path string, want []string, after string) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		b, _ := os.ReadFile(path)
		got := lines(string(b))
		if sameStrings(got, want) {
			return
		}
		if len(got) > len(want) || time.Now().After(deadline) {
			t.Fatalf("after %s: want the command to have got %q, got %q", after, want, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRm checks sbx rm and rm -f on running and exited sandboxes.
func TestRm(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	tok := token()
	running := h.detach(t, sandboxName("running"), "--", "sleep", tok)
	st := h.state(t, running)

	expectBadInput(t, h.sbx(t, "rm", running), running)
	if st2 := h.state(t, running); st2.Status != "running" || st2.Pid != st.Pid {
		t.Errorf("a refused sbx rm changed the sandbox: %+v, then %+v", st, st2)
	}
	if r := h.sbx(t, "rm", "-f", running); r.code != 0 || r.stdout != "" {
		t.Errorf("want sbx rm -f to exit 0 and print nothing:\n%s", r)
	}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Errorf("`sleep %s` outlived sbx rm -f: pids %v", tok, pids)
		killPids(pids)
	}
	expectBadInput(t, h.sbx(t, "state", running), running)
	expectBadInput(t, h.sbx(t, "rm", running), running)

	exited := h.detach(t, sandboxName("exited"), "--", "true")
	h.waitStatus(t, exited, "exited")
	h.sbx(t, "rm", exited).ok(t)
	expectBadInput(t, h.sbx(t, "state", exited), exited)

	// -f on an exited one is fine too.
	exited2 := h.detach(t, sandboxName("exited"), "--", "true")
	h.waitStatus(t, exited2, "exited")
	h.sbx(t, "rm", "-f", exited2).ok(t)

	if list := h.ps(t); len(list) != 0 {
		t.Errorf("want no sandbox left, got %v", list)
	}
	entries, _ := os.ReadDir(filepath.Join(h.runtime, "sbx"))
	for _, e := range entries {
		t.Errorf("left in $XDG_RUNTIME_DIR/sbx after sbx rm: %s", e.Name())
	}
}

// TestPs checks both forms of sbx ps.
func TestPs(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)

	// Nothing yet.
	if r := h.sbx(t, "ps", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("want an empty JSON array:\n%s", r)
	}
	if r := h.sbx(t, "ps"); r.code != 0 || len(lines(r.stdout)) != 1 {
		t.Errorf("want only the header:\n%s", r)
	}

	before := time.Now()
	tok := token()
	running := h.detach(t, sandboxName("running"), "--", "sleep", tok)
	exited := h.detach(t, sandboxName("exited"), "--", "sh", "-c", "exit 0")
	after := time.Now()
	h.waitStatus(t, exited, "exited")
	st := h.state(t, running)

	// --json
	r := h.sbx(t, "ps", "--json")
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.ok(t)), &raw); err != nil {
		t.Fatalf("not a JSON array of objects: %v\n%s", err, r)
	}
	for _, obj := range raw {
		for _, key := range []string{"name", "pid", "status", "created", "command"} {
			if _, ok := obj[key]; !ok {
				t.Errorf("sbx ps --json: an object lacks %q:\n%s", key, r)
			}
		}
		if p, ok := obj["pid"]; ok {
			if _, err := strconv.Atoi(string(p)); err != nil {
				t.Errorf("sbx ps --json: pid %s is not an integer", p)
			}
		}
	}
	list := h.ps(t)
	if len(list) != 2 {
		t.Fatalf("want 2 sandboxes listed, got %v", list)
	}
	want := map[string]struct {
		status  string
		command []string
	}{
		running: {"running", []string{"sleep", tok}},
		exited:  {"exited", []string{"sh", "-c", "exit 0"}},
	}
	for name, w := range want {
		e, ok := list[name]
		if !ok {
			t.Errorf("%s is not listed: %v", name, list)
			continue
		}
		if e.Status != w.status || !sameStrings(e.Command, w.command) {
			t.Errorf("%s: want status %s and command %q, got %+v", name, w.status, w.command, e)
		}
		created, err := time.Parse(time.RFC3339, e.Created)
		if err != nil {
			t.Errorf("%s: created %q is not RFC 3339: %v", name, e.Created, err)
		} else if created.Before(before.Add(-time.Second).Truncate(time.Second)) || created.After(after.Add(time.Second)) {
			t.Errorf("%s: created %v, want between %v and %v", name, created, before, after)
		}
	}
	if list[running].Pid != st.Pid || st.Pid <= 0 {
		t.Errorf("%s: ps says pid %d, state says %d", running, list[running].Pid, st.Pid)
	}

	// The table.
	r = h.sbx(t, "ps")
	l := lines(r.ok(t))
	if len(l) != 3 {
		t.Fatalf("want a header and 2 lines:\n%s", r)
	}
	if head := strings.Fields(l[0]); !sameStrings(head, []string{"NAME", "PID", "STATUS", "CREATED", "MEM", "PIDS", "NET", "PORTS", "COMMAND"}) {
		t.Errorf("want the header NAME PID STATUS CREATED MEM PIDS NET PORTS COMMAND, got %q", l[0])
	}
	seen := map[string]bool{}
	for _, row := range l[1:] {
		f := strings.Fields(row)
		if len(f) < 5 {
			t.Errorf("short row %q", row)
			continue
		}
		name := f[0]
		w, ok := want[name]
		if !ok || seen[name] {
			t.Errorf("unexpected row %q:\n%s", row, r)
			continue
		}
		seen[name] = true
		if f[2] != w.status {
			t.Errorf("row %q: want status %s", row, w.status)
		}
		if pid, err := strconv.Atoi(f[1]); err != nil || pid != list[name].Pid {
			t.Errorf("row %q: want pid %d", row, list[name].Pid)
		}
		if !strings.HasSuffix(strings.TrimRight(row, " "), strings.Join(w.command, " ")) {
			t.Errorf("row %q: want the command %q at its end", row, strings.Join(w.command, " "))
		}
	}
}

// TestState checks what sbx state says of a running sandbox.
func TestState(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	tok := token()
	command := []string{"sleep", tok}
	name := h.detach(t, sandboxName("state"), append([]string{"--hostname", "stated", "--"}, command...)...)

	r := h.sbx(t, "state", name)
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.ok(t)), &raw); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, r)
	}
	for key, kind := range map[string]string{
		"name": "string", "pid": "number", "status": "string", "created": "string",
		"command": "array", "detached": "bool", "namespaces": "object", "config": "object",
	} {
		v, ok := raw[key]
		if !ok {
			t.Errorf("sbx state lacks %q:\n%s", key, r)
			continue
		}
		var got string
		switch v.(type) {
		case string:
			got = "string"
		case float64:
			got = "number"
		case bool:
			got = "bool"
		case []any:
			got = "array"
		case map[string]any:
			got = "object"
		}
		if got != kind {
			t.Errorf("sbx state: %q is a %s, want a %s:\n%s", key, got, kind, r)
		}
	}

	st := h.state(t, name)
	if st.Name != name || st.Status != "running" || !st.Detached || !sameStrings(st.Command, command) {
		t.Errorf("want %s running, detached, with command %q; got %+v", name, command, st)
	}
	if _, err := time.Parse(time.RFC3339, st.Created); err != nil {
		t.Errorf("created %q is not RFC 3339: %v", st.Created, err)
	}
	if st.Config.Process == nil || !sameStrings(st.Config.Process.Args, command) {
		t.Errorf("want config.process.args %q, got %+v", command, st.Config.Process)
	}
	// pid is the sandbox's pid 1, seen from the host.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatalf("pid %d of %s: %v", st.Pid, name, err)
	}
	for _, l := range lines(string(status)) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "NSpid:" && f[len(f)-1] != "1" {
			t.Errorf("pid %d of %s is not pid 1 of its PID namespace: %s", st.Pid, name, l)
		}
	}
	// namespaces: every type, each the namespace of pid 1.
	for _, typ := range namespaceTypes {
		path, ok := st.Namespaces[typ]
		if !ok {
			t.Errorf("namespaces lacks %q: %v", typ, st.Namespaces)
			continue
		}
		if !strings.HasPrefix(path, "/proc/") || !strings.HasSuffix(path, "/ns/"+typ) {
			t.Errorf("namespaces[%q] = %q, want a path like /proc/PID/ns/%s", typ, path, typ)
		}
		link, err := os.Readlink(path)
		if err != nil {
			t.Errorf("namespaces[%q]: %v", typ, err)
			continue
		}
		if want := nsLink(t, st.Pid, typ); link != want {
			t.Errorf("namespaces[%q] = %q is %s, pid 1 of the sandbox is in %s", typ, path, link, want)
		}
		if own := nsLink(t, os.Getpid(), typ); link == own {
			t.Errorf("the sandbox shares the test's %s namespace %s", typ, own)
		}
	}

	// Exited, state still answers.
	h.sbx(t, "kill", name, "KILL").ok(t)
	h.waitStatus(t, name, "exited")
	if st := h.state(t, name); st.Name != name || !sameStrings(st.Command, command) {
		t.Errorf("state of the exited %s: %+v", name, st)
	}
}

// TestStateWithoutRuntimeDir checks that sbx keeps its records without
// XDG_RUNTIME_DIR, in a private directory.
func TestStateWithoutRuntimeDir(t *testing.T) {
	t.Parallel()
	tmp := testDir(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	// If sbx's fallback follows TMPDIR, it lands in this test's own
	// directory; it may also be elsewhere, shared with other tests:
	// look only at this test's sandbox.
	env = append(env, "TMPDIR="+tmp)
	h := &stateHome{dir: testDir(t), env: env}
	tok := token()
	name := h.detach(t, sandboxName("noxdg"), "--", "sleep", tok)
	if st := h.state(t, name); st.Status != "running" {
		t.Errorf("want %s running, got %+v", name, st)
	}
	if e, ok := h.ps(t)[name]; !ok || e.Status != "running" {
		t.Errorf("want %s listed as running, got %+v (listed: %v)", name, e, ok)
	}
	h.sbx(t, "exec", name, "--", "true").ok(t)
	filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == name {
			parent := filepath.Dir(p)
			var st syscall.Stat_t
			if err := syscall.Stat(parent, &st); err != nil {
				t.Errorf("%s: %v", parent, err)
			} else if st.Mode&0o077 != 0 || int(st.Uid) != os.Getuid() {
				t.Errorf("the fallback state directory %s has mode %o, owner %d: want private to uid %d",
					parent, st.Mode&0o7777, st.Uid, os.Getuid())
			}
		}
		return nil
	})
	h.sbx(t, "rm", "-f", name).ok(t)
	if _, ok := h.ps(t)[name]; ok {
		t.Errorf("%s still listed after sbx rm -f", name)
	}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Errorf("`sleep %s` outlived sbx rm -f: pids %v", tok, pids)
		killPids(pids)
	}
}

// TestSandboxProcessGone kills a detached sandbox's pid 1 from the host,
// behind sbx's back: the sandbox shows as exited, and sbx rm cleans it.
func TestSandboxProcessGone(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	tok := token()
	name := h.detach(t, sandboxName("gone"), "--", "sleep", tok)
	st := h.state(t, name)
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill pid %d of %s: %v", st.Pid, name, err)
	}
	h.waitStatus(t, name, "exited")
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Errorf("`sleep %s` outlived its sandbox's pid 1: pids %v", tok, pids)
		killPids(pids)
	}
	expectBadInput(t, h.sbx(t, "kill", name), name)
	expectBadInput(t, h.sbx(t, "exec", name, "--", "true"), name)
	h.sbx(t, "rm", name).ok(t)
	if list := h.ps(t); len(list) != 0 {
		t.Errorf("want nothing listed after sbx rm, got %v", list)
	}
}

// TestRmForceAttachedThenReuse removes a running attached sandbox with
// rm -f while its sbx run is stopped, and reuses the name at once: when
// the old sbx run gets to clean up, the new sandbox's record must stay.
func TestRmForceAttachedThenReuse(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := sandboxName("reuse")
	old := token()
	p := h.start(t, "run", "--name", name, "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", old)
	p.waitLine(t, "ready")
	h.waitStatus(t, name, "running")
	// A stopped sbx run (Ctrl-Z, a loaded machine) is slow to notice the
	// end of its sandbox.
	p.signal(t, syscall.SIGSTOP)
	h.sbx(t, "rm", "-f", name).ok(t)
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", old); !ok {
		t.Errorf("`sleep %s` outlived sbx rm -f: pids %v", old, pids)
		killPids(pids)
	}
	tok := token()
	h.detach(t, name, "--", "sleep", tok)
	t.Cleanup(func() {
		// If the record was lost, sbx cannot remove the sandbox.
		if pids := hostProcesses(t, "sleep", tok); len(pids) > 0 {
			if _, ok := h.tryState(t, name); !ok {
				killPids(pids)
			}
		}
	})
	p.signal(t, syscall.SIGCONT)
	p.wait(t)
	r := h.sbx(t, "state", name)
	if r.code != 0 {
		t.Fatalf("the old sbx run removed the record of the new sandbox %s on its way out:\n%s", name, r)
	}
	if st := h.state(t, name); st.Status != "running" || !sameStrings(st.Command, []string{"sleep", tok}) {
		t.Errorf("want the new %s running `sleep %s`, got %+v", name, tok, st)
	}
}

package test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of the lifecycle commands of named sandboxes: the exit code of a
// detached sandbox (ps, state, wait), its log (logs), kill and rm of
// several at once, rm --all, run --replace, and the records of attached
// sandboxes whose sbx was killed.

// holdScript waits for the file go in the working directory, then runs
// rest: the test decides when the command ends.
func holdScript(rest string) string {
	return `while [ ! -e go ]; do sleep 0.02; done; ` + rest
}

// release lets the commands of holdScript in h's working directory go on.
func (h *stateHome) release(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rawState returns `sbx state NAME` as a map of its keys.
func (h *stateHome) rawState(t *testing.T, name string) map[string]json.RawMessage {
	t.Helper()
	r := h.sbx(t, "state", name)
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.ok(t)), &m); err != nil {
		t.Fatalf("sbx state %s: not one JSON object (%v):\n%s", name, err, r)
	}
	return m
}

// psRow returns the row of NAME in `sbx ps`, split in fields.
func (h *stateHome) psRow(t *testing.T, name string) []string {
	t.Helper()
	r := h.sbx(t, "ps")
	for _, l := range lines(r.ok(t)) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return f
		}
	}
	t.Fatalf("sbx ps does not list %s:\n%s", name, r)
	return nil
}

// TestDetachedExitCode checks that the exit code of a detached sandbox's
// command is recorded and shown by sbx state (exit_code), sbx ps --json
// (exit_code) and sbx ps (STATUS "exited (N)"), and is absent while it
// runs: an exit of its own, a signal forwarded by sbx kill (128+N) and
// sbx kill KILL (137).
func TestDetachedExitCode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		command []string
		kill    []string // sbx kill arguments after the name, if any
		want    int
	}{
		{"exit", []string{"sh", "-c", holdScript("exit 3")}, nil, 3},
		{"zero", []string{"sh", "-c", holdScript("exit 0")}, nil, 0},
		{"term", []string{"sleep", token()}, []string{"TERM"}, 143},
		{"kill", []string{"sleep", token()}, []string{"KILL"}, 137},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			name := h.detach(t, sandboxName(c.name), append([]string{"--"}, c.command...)...)
			if raw := h.rawState(t, name); raw["exit_code"] != nil {
				t.Errorf("sbx state of a running sandbox has exit_code %s", raw["exit_code"])
			}
			if e := h.ps(t)[name]; e.ExitCode != nil {
				t.Errorf("sbx ps --json: a running sandbox has exit_code %d", *e.ExitCode)
			}
			if c.kill != nil {
				h.sbx(t, append([]string{"kill", name}, c.kill...)...).ok(t)
			} else {
				h.release(t)
			}
			st := h.waitStatus(t, name, "exited")
			if st.ExitCode == nil || *st.ExitCode != c.want {
				t.Errorf("sbx state: want exit_code %d, got %v", c.want, fmtCode(st.ExitCode))
			}
			if e := h.ps(t)[name]; e.Status != "exited" || e.ExitCode == nil || *e.ExitCode != c.want {
				t.Errorf("sbx ps --json: want status exited and exit_code %d, got %+v (exit_code %s)", c.want, e, fmtCode(e.ExitCode))
			}
			if f := h.psRow(t, name); len(f) < 4 || f[2] != "exited" || f[3] != "("+strconv.Itoa(c.want)+")" {
				t.Errorf("sbx ps: want STATUS \"exited (%d)\", got row %q", c.want, f)
			}
		})
	}
}

// fmtCode renders an optional exit code.
func fmtCode(p *int) string {
	if p == nil {
		return "none"
	}
	return strconv.Itoa(*p)
}

// TestWait checks sbx wait: it waits for each sandbox to end, prints one
// exit code per name in order, and exits with the last one's; unknown
// and attached sandboxes are refused at once.
func TestWait(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	a := h.detach(t, sandboxName("waita"), "--", "sh", "-c", holdScript("exit 3"))
	b := h.detach(t, sandboxName("waitb"), "--", "sh", "-c", holdScript("exit 5"))
	p := h.start(t, "wait", a, b)
	select {
	case <-p.done:
		t.Fatalf("sbx wait returned while both sandboxes run:\n%s", p.result(t))
	case <-time.After(300 * time.Millisecond):
	}
	h.release(t)
	r := p.wait(t)
	if r.code != 5 || r.stdout != "3\n5\n" || r.stderr != "" {
		t.Errorf("want sbx wait to print 3 and 5 and exit 5:\n%s", r)
	}
	// Ended already: at once.
	if r := h.sbx(t, "wait", b, a); r.code != 3 || r.stdout != "5\n3\n" {
		t.Errorf("want sbx wait of ended sandboxes to print 5 and 3 and exit 3:\n%s", r)
	}
	// Killed by sbx: 137.
	k := h.detach(t, sandboxName("waitk"), "--", "sleep", token())
	p = h.start(t, "wait", k)
	h.sbx(t, "kill", "-s", "KILL", k).ok(t)
	if r := p.wait(t); r.code != 137 || r.stdout != "137\n" {
		t.Errorf("want sbx wait of a killed sandbox to print 137 and exit 137:\n%s", r)
	}

	nosuch := sandboxName("nosuch")
	expectBadInput(t, h.sbx(t, "wait", nosuch), nosuch)
	expectBadInput(t, h.sbx(t, "wait", a, nosuch), nosuch)
	attached := sandboxName("attached")
	ap := h.start(t, "run", "--name", attached, "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", token())
	ap.waitLine(t, "ready")
	h.waitStatus(t, attached, "running")
	expectBadInput(t, h.sbx(t, "wait", attached), attached)
	h.sbx(t, "kill", attached).ok(t)
	ap.wait(t)
}

// TestLogs checks sbx logs: it prints a detached sandbox's output (stdout
// and stderr), and with -f goes on until the sandbox ends.
func TestLogs(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("logs"), "--", "sh", "-c", "echo one; echo two >&2; "+holdScript("echo three"))
	deadline := time.Now().Add(pollTimeout)
	for {
		r := h.sbx(t, "logs", name)
		if r.code == 0 && r.stdout == "one\ntwo\n" && r.stderr == "" {
			break
		}
		if time.Now().After(deadline) || r.code != 0 || !strings.HasPrefix("one\ntwo\n", r.stdout) {
			t.Fatalf("want sbx logs to print one and two:\n%s", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p := h.start(t, "logs", "-f", name)
	p.waitLine(t, "two")
	select {
	case <-p.done:
		t.Fatalf("sbx logs -f returned while the sandbox runs:\n%s", p.result(t))
	case <-time.After(300 * time.Millisecond):
	}
	h.release(t)
	if r := p.wait(t); r.code != 0 || r.stdout != "one\ntwo\nthree\n" || r.stderr != "" {
		t.Errorf("want sbx logs -f to print one, two, three and exit 0 when the sandbox ends:\n%s", r)
	}
	h.waitStatus(t, name, "exited")
	if r := h.sbx(t, "logs", "--follow", name); r.code != 0 || r.stdout != "one\ntwo\nthree\n" {
		t.Errorf("want sbx logs -f of an exited sandbox to print its whole log:\n%s", r)
	}

	nosuch := sandboxName("nosuch")
	expectBadInput(t, h.sbx(t, "logs", nosuch), nosuch)
	attached := sandboxName("attached")
	ap := h.start(t, "run", "--name", attached, "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", token())
	ap.waitLine(t, "ready")
	h.waitStatus(t, attached, "running")
	expectBadInput(t, h.sbx(t, "logs", attached), attached)
	h.sbx(t, "kill", attached).ok(t)
	ap.wait(t)
}

// TestKillRmSeveral checks that sbx kill and rm take several names, and
// act on none of them when one is refused; kill -s names the signal, and
// the older form NAME SIGNAL still works.
func TestKillRmSeveral(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	toks := []string{token(), token(), token()}
	a := h.detach(t, sandboxName("a"), "--", "sleep", toks[0])
	b := h.detach(t, sandboxName("b"), "--", "sleep", toks[1])
	c := h.detach(t, sandboxName("c"), "--", "sleep", toks[2])
	nosuch := sandboxName("nosuch")

	// One unknown name: nothing is signalled.
	expectBadInput(t, h.sbx(t, "kill", a, nosuch, "KILL"), nosuch)
	expectBadInput(t, h.sbx(t, "kill", "-s", "KILL", a, nosuch), nosuch)
	for _, n := range []string{a, b, c} {
		if st := h.state(t, n); st.Status != "running" {
			t.Errorf("a refused sbx kill changed %s: %+v", n, st)
		}
	}
	if r := h.sbx(t, "kill", "-s", "KILL", a, b); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("want sbx kill -s KILL %s %s to exit 0 silently:\n%s", a, b, r)
	}
	h.waitStatus(t, a, "exited")
	h.waitStatus(t, b, "exited")
	if st := h.state(t, c); st.Status != "running" {
		t.Errorf("sbx kill of a and b changed c: %+v", st)
	}
	// Two names and a signal, without -s; then TERM by default.
	x := h.detach(t, sandboxName("x"), "--", "sleep", token())
	h.sbx(t, "kill", c, x, "9").ok(t)
	h.waitStatus(t, c, "exited")
	h.waitStatus(t, x, "exited")
	for _, tok := range toks {
		if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
			t.Errorf("`sleep %s` outlived sbx kill: pids %v", tok, pids)
			killPids(pids)
		}
	}

	// rm: one running without -f, or unknown: nothing is removed.
	r1 := h.detach(t, sandboxName("r"), "--", "sleep", token())
	expectBadInput(t, h.sbx(t, "rm", a, r1), r1)
	expectBadInput(t, h.sbx(t, "rm", a, nosuch), nosuch)
	if _, ok := h.ps(t)[a]; !ok {
		t.Errorf("a refused sbx rm removed %s", a)
	}
	if r := h.sbx(t, "rm", a, b); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("want sbx rm %s %s to exit 0 silently:\n%s", a, b, r)
	}
	h.sbx(t, "rm", "-f", c, r1).ok(t)
	if list := h.ps(t); len(list) != 1 || list[x].Status != "exited" {
		t.Errorf("want only %s left, got %v", x, list)
	}
}

// TestRmAll checks sbx rm --all: every exited sandbox goes, running ones
// stay; with -f they go too.
func TestRmAll(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	tok := token()
	running := h.detach(t, sandboxName("running"), "--", "sleep", tok)
	e1 := h.detach(t, sandboxName("e1"), "--", "true")
	e2 := h.detach(t, sandboxName("e2"), "--", "sh", "-c", "exit 4")
	h.waitStatus(t, e1, "exited")
	h.waitStatus(t, e2, "exited")

	expectBadInput(t, h.sbx(t, "rm"))
	expectBadInput(t, h.sbx(t, "rm", "--all", e1), e1)
	if r := h.sbx(t, "rm", "--all"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("want sbx rm --all to exit 0 silently:\n%s", r)
	}
	list := h.ps(t)
	if len(list) != 1 || list[running].Status != "running" {
		t.Errorf("after sbx rm --all, want only %s left running, got %v", running, list)
	}
	h.sbx(t, "rm", "-a", "-f").ok(t)
	if list := h.ps(t); len(list) != 0 {
		t.Errorf("after sbx rm -a -f, want nothing left, got %v", list)
	}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
		t.Errorf("`sleep %s` outlived sbx rm -a -f: pids %v", tok, pids)
		killPids(pids)
	}
}

// TestRunReplace checks sbx run --replace: a sandbox of that name is
// removed first, killed if it runs; none is fine; it needs --name.
func TestRunReplace(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	old := token()
	name := h.detach(t, sandboxName("replace"), "--", "sleep", old)
	tok := token()
	r := h.sbx(t, "run", "-d", "--replace", "--name", name, "--", "sleep", tok)
	if r.code != 0 || r.stdout != name+"\n" {
		t.Fatalf("want sbx run -d --replace to print %s:\n%s", name, r)
	}
	if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", old); !ok {
		t.Errorf("`sleep %s` outlived its replacement: pids %v", old, pids)
		killPids(pids)
	}
	if st := h.state(t, name); st.Status != "running" || !sameStrings(st.Command, []string{"sleep", tok}) {
		t.Errorf("want %s running `sleep %s`, got %+v", name, tok, st)
	}
	// An exited one, attached.
	h.sbx(t, "kill", name, "KILL").ok(t)
	h.waitStatus(t, name, "exited")
	if out := h.sbx(t, "run", "--replace", "--name", name, "--", "echo", "new").ok(t); out != "new\n" {
		t.Errorf("want the replacing sandbox to print new, got %q", out)
	}
	// None of that name.
	fresh := sandboxName("fresh")
	h.sbx(t, "run", "--replace", "--name", fresh, "--", "true").ok(t)
	expectBadInput(t, h.sbx(t, "run", "--replace", "--", "true"), "--name")
	if list := h.ps(t); len(list) != 0 {
		t.Errorf("want nothing left, got %v", list)
	}
}

// waitPidEnded waits until pid has ended (gone, or a zombie).
func waitPidEnded(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not end within %v", pid, pollTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCrashedRunCleaned kills an attached sbx run with SIGKILL: the
// sandbox dies with it, and the record it could not remove is removed by
// the next command that looks: sbx ps, or a run of that name.
func TestCrashedRunCleaned(t *testing.T) {
	t.Parallel()
	for _, next := range []string{"ps", "run", "state"} {
		t.Run(next, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			name := sandboxName("crash")
			tok := token()
			h.cleanup(t, name)
			p := h.start(t, "run", "--name", name, "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", tok)
			p.waitLine(t, "ready")
			st := h.waitStatus(t, name, "running")
			p.signal(t, syscall.SIGKILL)
			if r := p.wait(t); r.code != exitSignaled {
				t.Fatalf("sbx was not killed:\n%s", r)
			}
			if pids, ok := waitHostProcesses(t, func(n int) bool { return n == 0 }, "sleep", tok); !ok {
				t.Errorf("the sandbox outlived its killed sbx run: `sleep %s` runs as pids %v", tok, pids)
				killPids(pids)
			}
			// Its pid 1 ends last, once the rest of its PID namespace is
			// gone.
			waitPidEnded(t, st.Pid)
			dir := filepath.Join(h.runtime, "sbx", name)
			switch next {
			case "ps":
				if list := h.ps(t); len(list) != 0 {
					t.Errorf("want sbx ps to list nothing, got %v", list)
				}
			case "run":
				if out := h.sbx(t, "run", "--name", name, "--", "echo", "again").ok(t); out != "again\n" {
					t.Errorf("want the new sandbox to print again, got %q", out)
				}
			case "state":
				expectBadInput(t, h.sbx(t, "state", name), name)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("want %s removed after sbx %s, got %v", dir, next, err)
			}
		})
	}
}

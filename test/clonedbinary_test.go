package test

// The CVE-2019-5736 class: from inside a sandbox, grab handles on the
// /proc/PID/exe of every other process (the sbx processes among them) and
// try to reopen them for writing, to replace the host's sbx binary. The
// test binary itself is the attacker: run inside the sandbox with
// SBX_TEST_ATTACKER set, it runs attackExe instead of the tests.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const attackerEnv = "SBX_TEST_ATTACKER"

func TestMain(m *testing.M) {
	if name := os.Getenv(toolEnv); name != "" {
		os.Exit(runTool(name, os.Args[1:]))
	}
	if d := os.Getenv(attackerEnv); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(attackExe(dur))
	}
	os.Exit(m.Run())
}

// attackExe grabs O_PATH handles on the exe of every process it can see,
// keeps them, and keeps trying to reopen each for writing and write to it.
// It prints one line per success ("WROTE pid" or "REOPENED pid dev:ino") and
// a summary line "handles N attempts M".
func attackExe(dur time.Duration) int {
	self := os.Getpid()
	handles := map[int]int{} // pid -> O_PATH fd
	attempts := 0
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			if _, ok := handles[pid]; !ok {
				fd, err := unix.Open(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH|unix.O_CLOEXEC, 0)
				if err == nil {
					handles[pid] = fd
				}
			}
		}
		for pid, fd := range handles {
			attempts++
			w, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			var st unix.Stat_t
			unix.Fstat(w, &st)
			fmt.Printf("REOPENED %d %d:%d\n", pid, st.Dev, st.Ino)
			if n, err := unix.Pwrite(w, []byte("pwned"), 0); err == nil && n > 0 {
				fmt.Printf("WROTE %d\n", pid)
			}
			unix.Close(w)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("handles %d attempts %d\n", len(handles), attempts)
	return 0
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// attackTarget is the sbx binary under attack, as it was before.
type attackTarget struct {
	bin  string
	st   unix.Stat_t
	hash [32]byte
	self string // the test binary, which plays the attacker inside
}

func newAttackTarget(t *testing.T) attackTarget {
	t.Helper()
	tg := attackTarget{bin: sbxBinary(t)}
	if err := unix.Stat(tg.bin, &tg.st); err != nil {
		t.Fatal(err)
	}
	if int(tg.st.Uid) != os.Getuid() {
		t.Fatalf("%s is owned by uid %d, not by the test user %d: the attack would prove nothing (make test copies it for the test user)", tg.bin, tg.st.Uid, os.Getuid())
	}
	tg.hash = fileHash(t, tg.bin)
	var err error
	if tg.self, err = os.Executable(); err != nil {
		t.Fatal(err)
	}
	return tg
}

// check reads the attacker's output: it must have run, and neither a
// write nor a reopen of the host binary may have succeeded.
func (tg attackTarget) check(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "handles ") {
		t.Fatalf("the attacker did not run:\n%s", out)
	}
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "WROTE") {
			t.Errorf("a write through /proc/PID/exe succeeded: %s", l)
		}
		if strings.HasPrefix(l, "REOPENED") && strings.HasSuffix(l, fmt.Sprintf(" %d:%d", tg.st.Dev, tg.st.Ino)) {
			t.Errorf("the host binary was reopened for writing: %s", l)
		}
	}
	if fileHash(t, tg.bin) != tg.hash {
		t.Fatal("the sbx binary changed")
	}
}

// TestClonedBinaryAttack runs the attacker in sandboxes made with each
// method, as the caller's uid and as root inside. The sbx binary under test
// is owned by the test user, so only the protection stands in the way.
func TestClonedBinaryAttack(t *testing.T) {
	t.Parallel()
	target := newAttackTarget(t)
	for _, method := range []string{"bind", "memfd"} {
		for _, uid := range []string{"", "0"} {
			name := method + "/caller-uid"
			args := []string{"run"}
			if uid != "" {
				name = method + "/root-inside"
				args = append(args, "--uid", uid)
			}
			t.Run(name, func(t *testing.T) {
				args := append(args, "-e", attackerEnv+"=1s", "--", target.self)
				env := append(os.Environ(), "SBX_CLONE="+method)
				r := invocation{args: args, env: env}.run(t)
				target.check(t, r.ok(t))
			})
		}
	}
}

// TestClonedBinaryFromHost checks the sandbox's pid 1 from the outside: it
// runs from a read-only, pathless mount (bind) or a sealed memfd, never
// from the host's file.
func TestClonedBinaryFromHost(t *testing.T) {
	t.Parallel()
	bin := sbxBinary(t)
	for _, tt := range []struct {
		method, link string
	}{
		{"bind", "/"}, // a detached mount of the file: no path reaches it
		{"memfd", "/memfd:sbx (deleted)"},
	} {
		t.Run(tt.method, func(t *testing.T) {
			tok := token()
			inv := invocation{args: []string{"run", "--", "sleep", tok}, env: append(os.Environ(), "SBX_CLONE="+tt.method)}
			ctxCmd, _ := inv.command(t, t.Context())
			if err := ctxCmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctxCmd.Process.Kill()
				ctxCmd.Wait()
			}()
			// Stage 1 is briefly a child named sbx too; the init is the
			// one that stays and has a readable exe.
			var init int
			var link string
			for i := 0; i < 300; i++ {
				time.Sleep(10 * time.Millisecond)
				init = childNamed(t, ctxCmd.Process.Pid, "sbx")
				if init == 0 {
					continue
				}
				var err error
				if link, err = os.Readlink(fmt.Sprintf("/proc/%d/exe", init)); err == nil && sleeping(tok) {
					break
				}
			}
			if init == 0 || link == "" {
				t.Fatal("no sandbox init found below sbx run")
			}
			if link != tt.link {
				t.Errorf("pid 1 runs from %q, want %q", link, tt.link)
			}
			_, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", init), os.O_WRONLY, 0)
			if err == nil {
				t.Errorf("opened the exe of the sandbox's pid 1 for writing")
			}
			if real, _ := filepath.EvalSymlinks(bin); link == real {
				t.Errorf("pid 1 runs from the host binary %s", real)
			}
		})
	}
}

// sleeping reports whether a sleep with the token as argument runs.
func sleeping(tok string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && string(b) == "sleep\x00"+tok+"\x00" {
			return true
		}
	}
	return false
}

// childNamed returns the pid of a child of parent whose comm is name.
func childNamed(t *testing.T, parent int, name string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 || s[open+1:close] != name {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			return pid
		}
	}
	return 0
}

// TestClonedBinaryAttackDuringExec is the attack of CVE-2019-5736 proper:
// the attacker runs as root inside a sandbox and keeps grabbing the exe of
// every process it sees while sbx exec joins the sandbox again and again.
func TestClonedBinaryAttackDuringExec(t *testing.T) {
	t.Parallel()
	target := newAttackTarget(t)
	for _, method := range []string{"bind", "memfd"} {
		t.Run(method, func(t *testing.T) {
			env := append(os.Environ(), "SBX_CLONE="+method, "XDG_RUNTIME_DIR="+testDir(t))
			name := "attack-" + method
			// Slow machines (a VM under TCG: scripts/vm-test.sh) stretch
			// the attack and the window of the joins.
			// A machine busy with other work stretches them further:
			// the joins go on past the window until there are enough,
			// while the attack (twice as long as the window) lasts.
			scale := time.Duration(timeScale())
			inv := invocation{args: []string{"run", "--name", name, "--uid", "0", "-e", attackerEnv + "=" + (8 * scale * time.Second).String(), "--", target.self}, env: env}
			cmd, _ := inv.command(t, t.Context())
			out := newLineBuffer()
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			joins := 0
			var waitErr error
			ended := false
			for deadline := time.Now().Add(3 * scale * time.Second); !ended && (time.Now().Before(deadline) || joins < 5); {
				r := invocation{args: []string{"exec", name, "--", "true"}, env: env}.run(t)
				if r.code == 0 {
					joins++
				}
				select {
				case waitErr = <-done:
					ended = true
				default:
				}
			}
			if !ended {
				waitErr = <-done
			}
			if waitErr != nil {
				t.Fatalf("attacker sandbox: %v\n%s", waitErr, out)
			}
			if joins < 5 {
				t.Fatalf("only %d sbx exec joined during the attack", joins)
			}
			text := out.String()
			target.check(t, text)
			t.Logf("%d joins; attacker: %s", joins, lines(text)[len(lines(text))-1])
		})
	}
}

// timeScale is SBX_TEST_TIME_SCALE (default 1): how many times slower
// than a plain machine this one runs sbx, for the tests that need a
// number of things done within a time.
func timeScale() int {
	n, err := strconv.Atoi(os.Getenv("SBX_TEST_TIME_SCALE"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

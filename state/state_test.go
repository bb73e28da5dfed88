package state

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sbx-sandbox/sbx/plan"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "build-1", "x.y_z", strings.Repeat("n", 64)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", ".hidden", "a/b", "a b", "..", strings.Repeat("n", 65)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

func TestRecordLifecycle(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if err := Create("box"); err != nil {
		t.Fatal(err)
	}
	if err := Create("box"); err == nil {
		t.Fatal("second Create of the same name succeeded")
	}
	start, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	s := &plan.Record{Name: "box", Pid: uint32(os.Getpid()), StartTime: start, Created: time.Now().UnixNano(),
		Plan: plan.Plan{Process: plan.Process{Args: []string{"sh"}}}}
	if err := Save(s); err != nil {
		t.Fatal(err)
	}
	got, err := Load("box")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Running || got.Pid != int(s.Pid) || !slices.Equal(got.Command(), []string{"sh"}) {
		t.Errorf("loaded %+v, want running pid %d", got, s.Pid)
	}

	// Same pid, another start time: a reused pid is not the sandbox.
	s.StartTime = start + 1
	if err := Save(s); err != nil {
		t.Fatal(err)
	}
	if got, _ := Load("box"); got.Status != Exited {
		t.Errorf("record with a wrong start time reads as %s", got.Status)
	}
	list, err := List()
	if err != nil || len(list) != 1 || list[0].Name != "box" {
		t.Fatalf("List = %v, %v", list, err)
	}
	if err := Remove("box"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("box"); err == nil {
		t.Fatal("Load after Remove succeeded")
	}
}

func TestCreateRace(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	var wg sync.WaitGroup
	wins := make(chan bool, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wins <- Create("race") == nil
		}()
	}
	wg.Wait()
	close(wins)
	n := 0
	for w := range wins {
		if w {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d callers won the name, want exactly 1", n)
	}
}

func TestPrivateFallback(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", t.TempDir())
	dir, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("fallback %s: %v %v", dir, st.Mode(), err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Root(); err == nil {
		t.Fatal("a group/world-readable fallback directory was accepted")
	}
}

func TestReadExit(t *testing.T) {
	for _, c := range []struct {
		exit   *string // the exit file's content, nil for none
		killed bool
		want   int // -1: none
	}{
		{ptr("3\n"), false, 3},
		{ptr("0\n"), false, 0},
		{ptr("255\n"), false, 255},
		{ptr("137\n"), true, 137},
		{ptr("0\n"), true, 0}, // pid 1 wrote it before the kill
		{ptr(""), false, -1},  // not written yet
		{ptr(""), true, 137},
		{nil, true, 137},
		{nil, false, -1},
		{ptr("3"), false, -1}, // no newline: a partial write
		{ptr("256\n"), false, -1},
		{ptr("-1\n"), false, -1},
		{ptr("x\n"), false, -1},
		{ptr("0\n7\n"), false, -1},
	} {
		dir := t.TempDir()
		// Records are private (readPrivate).
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if c.exit != nil {
			if err := os.WriteFile(dir+"/"+ExitFile, []byte(*c.exit), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if c.killed {
			if err := os.WriteFile(dir+"/"+KilledFile, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got := -1
		if p := readExit(dir); p != nil {
			got = *p
		}
		if got != c.want {
			t.Errorf("exit %q, killed %v: got %d, want %d", deref(c.exit), c.killed, got, c.want)
		}
	}
}

func TestExitOfDetachedRecord(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if err := Create("gone"); err != nil {
		t.Fatal(err)
	}
	f, err := OpenExit("gone")
	if err != nil {
		t.Fatal(err)
	}
	// A pid above the default pid_max: no process has it.
	r := &plan.Record{Name: "gone", Pid: 1 << 22, StartTime: 1, Created: time.Now().UnixNano(), Detached: true}
	if err := Save(r); err != nil {
		t.Fatal(err)
	}
	if s, err := Load("gone"); err != nil || s.Status != Exited || s.ExitCode != nil {
		t.Fatalf("before the write: %+v, %v", s, err)
	}
	if _, err := f.WriteAt([]byte("7\n"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if s, err := Load("gone"); err != nil || s.ExitCode == nil || *s.ExitCode != 7 {
		t.Fatalf("after the write: %+v, %v", s, err)
	}
	// MarkKilled only for the process the record names.
	if err := MarkKilled("gone", 5, 1); err != nil {
		t.Fatal(err)
	}
	dir, _ := Dir("gone")
	if _, err := os.Stat(dir + "/" + KilledFile); !os.IsNotExist(err) {
		t.Errorf("MarkKilled of another process marked the record: %v", err)
	}
	if err := MarkKilled("gone", 1<<22, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/" + KilledFile); err != nil {
		t.Errorf("MarkKilled: %v", err)
	}
	if err := Remove("gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Remove left %s: %v", dir, err)
	}
}

func ptr(s string) *string { return &s }

func deref(p *string) string {
	if p == nil {
		return "(none)"
	}
	return *p
}

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

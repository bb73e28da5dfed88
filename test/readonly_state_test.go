package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoWritableState: where sbx has no state directory it may write (a
// read-only host, a container: here $XDG_RUNTIME_DIR is read-only), an
// unnamed attached sandbox still runs, without a record (unlisted, not
// joinable); what needs a record (a name, -d) fails with one line naming
// the directory, and nothing is left behind.
func TestNoWritableState(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	if err := os.Chmod(h.runtime, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(h.runtime, 0o700) })

	// Without a cgroup (where the tests run with a cgroup backend, it is
	// asked for none): its cgroup would need a record.
	r := h.sbx(t, "run", "--cgroup-manager", "none", "--", "sh", "-c", "echo ran; exit 3")
	if r.code != 3 || r.stdout != "ran\n" {
		t.Fatalf("an unnamed attached sandbox should run without a state directory:\n%s", r)
	}
	// A longer one, past the hand-over to the monitor: still no record
	// wanted, and sbx ps lists nothing.
	if r := h.sbx(t, "run", "--cgroup-manager", "none", "--", "sleep", "1.5"); r.code != 0 {
		t.Fatalf("a sandbox handed over to the monitor, without a record:\n%s", r)
	}
	if backend := os.Getenv("SBX_TEST_CGROUP"); backend != "" && backend != "none" {
		expectBadInput(t, h.sbx(t, "run", "--", "true"), "--cgroup-manager none")
	}
	for _, args := range [][]string{
		{"run", "--name", "named", "--", "true"},
		{"run", "-d", "--", "sleep", "1"},
	} {
		r := h.sbx(t, args...)
		expectBadInput(t, r, "state")
		if !strings.Contains(r.stderr, filepath.Join(h.runtime, "sbx")) {
			t.Errorf("%v: the error should name the state directory:\n%s", args, r)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if entries, _ := os.ReadDir(h.runtime); len(entries) != 0 {
		t.Errorf("something was left in the runtime directory: %v", entries)
	}
}

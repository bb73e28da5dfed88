package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStamps: with SBX_STAMPS (make bench), every process of a start
// stamps its steps into the file, from sbx through the stages to the Go
// init and the joining process of sbx exec; and the file's descriptor
// never reaches the command.
func TestStamps(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	stamps := filepath.Join(testDir(t), "stamps")
	h.env = append(h.env, "SBX_STAMPS="+stamps)
	name := h.detach(t, sandboxName("stamps"), "--", "sleep", token())
	// The command's descriptors (sh's own): stdio only.
	script := `ls /proc/$$/fd`
	for _, args := range [][]string{
		{"run", "--", "sh", "-c", script},
		{"exec", name, "--", "sh", "-c", script},
	} {
		r := h.inv(args...).run(t)
		if out := r.ok(t); out != "0\n1\n2\n" {
			t.Errorf("%s: the command has more than its stdio:\n%s", args[0], r)
		}
	}
	b, err := os.ReadFile(stamps)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Errorf("stamp line %q is not LABEL NANOSECONDS", l)
			continue
		}
		seen[f[0]] = true
	}
	for _, want := range []string{"parent.main", "parent.planned", "stage0.start", "stage0.mapped", "stage1.unshared",
		"stage2.resumed", "pid1.forked", "init.main", "init.view", "init.exec", "exec.start", "exec.main"} {
		if !seen[want] {
			t.Errorf("no %s stamp in %s:\n%s", want, stamps, b)
		}
	}
}

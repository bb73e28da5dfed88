package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestViewTry: the -try forms (bwrap's names) of --bind, --ro-bind,
// --dev-bind and --hide do nothing where the source (for --hide-try, the
// path in the view) does not exist, and what the plain form does where it
// does; bad input is still one line naming the -try flag.
func TestViewTry(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	present := filepath.Join(dir, "present")
	writeTree(t, filepath.Join(present, "f"), "here\n")
	missing := filepath.Join(dir, "missing")
	check := `for p in /mnt/a /mnt/b; do if [ -e $p/f ]; then echo "$p $(cat $p/f)"; else echo "$p none"; fi; done
		touch /mnt/a/w 2>/dev/null && echo a-writable || echo a-not-writable
		cat ` + present + `/f 2>&1 | grep -c here; true`
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"missing sources", []string{"--tmpfs", "/mnt", "--bind-try", missing + ":/mnt/a", "--ro-bind-try", missing + ":/mnt/b",
			"--dev-bind-try", missing + ":/mnt/c", "--hide-try", missing, "--hide-try", "/nowhere/at/all"},
			"/mnt/a none\n/mnt/b none\na-not-writable\n1\n"},
		{"present sources", []string{"--tmpfs", "/mnt", "--bind-try", present + ":/mnt/a", "--ro-bind-try", present + ":/mnt/b",
			"--hide-try", present},
			"/mnt/a here\n/mnt/b here\na-writable\n0\n"},
		{"read-only", []string{"--tmpfs", "/mnt", "--ro-bind-try", present + ":/mnt/a"},
			"/mnt/a here\n/mnt/b none\na-not-writable\n1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run", "--no-cwd"}, tt.flags...), "--", "sh", "-c", check)
			if r := sbxIn(t, dir, args...); r.ok(t) != tt.want {
				t.Errorf("want %q:\n%s", tt.want, r)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(present, "w")); err != nil {
		t.Errorf("the --bind-try of an existing source is not the host's directory, read-write: %v", err)
	}
	r := sbxIn(t, dir, "run", "--bind-try", present+":relative", "--", "true")
	expectBadInput(t, r, "--bind-try")
	if strings.Contains(r.stderr, "--bind ") {
		t.Errorf("the error should name --bind-try, not --bind:\n%s", r)
	}
}

package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	out := sbx(t, "version").ok(t)
	l := lines(out)
	if len(l) != 1 || !strings.HasPrefix(l[0], "sbx ") || strings.TrimSpace(strings.TrimPrefix(l[0], "sbx ")) == "" {
		t.Fatalf("want one line `sbx VERSION`, got %q", out)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"sbx --help", []string{"--help"}, []string{"run", "version"}},
		{"sbx run --help", []string{"run", "--help"},
			[]string{"--uid", "--gid", "--map", "--hostname", "--env", "-e", "--clearenv", "--workdir", "-w"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := sbx(t, tc.args...)
			r.expect(t, 0)
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help does not mention %q:\n%s", w, r)
				}
			}
		})
	}
}

// TestExitCodes checks that sbx exits as podman does: with the command's
// own code, 126 when it cannot be executed, 127 when it is not found, and
// 128+N when signal N killed it.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		command []string
		code    int
		// names, if set, must appear on stderr: the command sbx could not
		// run.
		names string
	}{
		{name: "true", command: []string{"true"}, code: 0},
		{name: "false", command: []string{"false"}, code: 1},
		{name: "own code", command: []string{"sh", "-c", "exit 3"}, code: 3},
		{name: "code 255", command: []string{"sh", "-c", "exit 255"}, code: 255},
		{name: "absolute path", command: []string{"/bin/sh", "-c", "exit 42"}, code: 42},
		{
			name: "file without exec permission",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "notexec"), "#!/bin/sh\nexit 0\n", 0o644)
			},
			command: []string{"./notexec"}, code: 126, names: "notexec",
		},
		{
			name: "directory",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			command: []string{"./subdir"}, code: 126, names: "subdir",
		},
		{name: "directory on the host", command: []string{"/etc"}, code: 126, names: "/etc"},
		{name: "not in PATH", command: []string{"sbx-no-such-command"}, code: 127, names: "sbx-no-such-command"},
		{name: "missing relative path", command: []string{"./missing"}, code: 127, names: "missing"},
		{name: "missing absolute path", command: []string{"/nonexistent/cmd"}, code: 127, names: "/nonexistent/cmd"},
		{name: "killed by SIGKILL", command: []string{"sh", "-c", "kill -KILL $$"}, code: 128 + 9},
		{name: "killed by SIGTERM", command: []string{"sh", "-c", "kill -TERM $$"}, code: 128 + 15},
		{name: "killed by SIGUSR1", command: []string{"sh", "-c", "kill -USR1 $$"}, code: 128 + 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := testDir(t)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			r := sbxIn(t, dir, append([]string{"run", "--"}, tc.command...)...)
			r.expect(t, tc.code)
			if tc.names != "" && !strings.Contains(r.stderr, tc.names) {
				t.Errorf("stderr does not name %q:\n%s", tc.names, r)
			}
		})
	}
}

// TestBadInput checks that sbx rejects bad input with exit 125, one line on
// stderr naming the problem, nothing on stdout, and without running the
// command.
func TestBadInput(t *testing.T) {
	t.Parallel()
	// The command that must not run: it would leave a file behind.
	cmd := []string{"sh", "-c", "echo ran > ran"}
	tests := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"bad --map", append([]string{"run", "--map", "bogus", "--"}, cmd...), "bogus"},
		{"empty --map", append([]string{"run", "--map=", "--"}, cmd...), "--map"},
		{"no command", []string{"run"}, "command"},
		{"nothing after --", []string{"run", "--"}, "command"},
		{"--uid not a number", append([]string{"run", "--uid", "x", "--"}, cmd...), "--uid"},
		{"--uid negative", append([]string{"run", "--uid=-1", "--"}, cmd...), "--uid"},
		{"--uid too large", append([]string{"run", "--uid", "99999999999", "--"}, cmd...), "--uid"},
		{"--uid unmappable", append([]string{"run", "--uid", "4294967295", "--"}, cmd...), "4294967295"},
		{"--gid not a number", append([]string{"run", "--gid", "abc", "--"}, cmd...), "--gid"},
		{"unknown flag", append([]string{"run", "--no-such-flag", "--"}, cmd...), "--no-such-flag"},
		{"unknown command", []string{"no-such-subcommand"}, "no-such-subcommand"},
		{"--env without a key", append([]string{"run", "-e", "=x", "--"}, cmd...), "=x"},
		{"missing --workdir", append([]string{"run", "-w", "/nonexistent-sbx-dir", "--"}, cmd...), "/nonexistent-sbx-dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := sbx(t, tc.args...)
			r.expect(t, 125)
			if l := lines(r.stderr); len(l) != 1 || strings.TrimSpace(l[0]) == "" {
				t.Errorf("want exactly one line on stderr, got %d:\n%s", len(l), r)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, r)
			}
			if r.stdout != "" {
				t.Errorf("want nothing on stdout:\n%s", r)
			}
			assertEmptyDir(t, r.dir)
		})
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s should be empty, has %v", dir, names)
	}
}

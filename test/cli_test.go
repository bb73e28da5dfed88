package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersion: sbx version, --version and -V print the same lines: the
// version first (sbx VERSION), then the Go version and the kernel
// facilities found.
func TestVersion(t *testing.T) {
	t.Parallel()
	out := sbx(t, "version").ok(t)
	l := lines(out)
	if len(l) < 3 || !strings.HasPrefix(l[0], "sbx ") || strings.TrimSpace(strings.TrimPrefix(l[0], "sbx ")) == "" {
		t.Fatalf("want `sbx VERSION` first, then more lines, got %q", out)
	}
	for _, want := range []string{"\ngo:      go1.", "\nkernel:  Linux ", "clone3"} {
		if !strings.Contains(out, want) {
			t.Errorf("sbx version does not say %q:\n%s", want, out)
		}
	}
	for _, flag := range []string{"--version", "-V"} {
		if got := sbx(t, flag).ok(t); got != out {
			t.Errorf("sbx %s printed %q, sbx version %q", flag, got, out)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"sbx --help", []string{"--help"}, []string{"run", "version", "help", "completion", "--version"}},
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
	// sbx help [CMD] prints what --help prints.
	for _, cmd := range [][]string{nil, {"run"}, {"exec"}, {"help"}, {"completion"}} {
		want := sbx(t, append(append([]string{}, cmd...), "--help")...)
		got := sbx(t, append([]string{"help"}, cmd...)...)
		got.expect(t, 0)
		if got.stdout != want.stdout || got.stdout == "" {
			t.Errorf("sbx help %s:\n%s\nsbx %s --help:\n%s", strings.Join(cmd, " "), got, strings.Join(cmd, " "), want)
		}
	}
	for _, bad := range [][]string{{"help", "bogus"}, {"help", "--map"}} {
		r := sbx(t, bad...)
		r.expect(t, 125)
		if l := lines(r.stderr); len(l) != 1 || r.stdout != "" {
			t.Errorf("sbx %s: want one line on stderr:\n%s", strings.Join(bad, " "), r)
		}
	}
}

// TestCompletion: sbx completion SHELL prints a script the shell accepts
// (bash, zsh and fish: make test installs them) that names every command
// sbx --help lists and every flag of sbx run; another shell is refused.
func TestCompletion(t *testing.T) {
	t.Parallel()
	help := sbx(t, "--help").ok(t)
	var cmds []string
	_, list, _ := strings.Cut(help, "\nCommands:\n")
	for _, l := range lines(list) {
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") {
			cmds = append(cmds, strings.Fields(l)[0])
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("found only the commands %q in sbx --help:\n%s", cmds, help)
	}
	runHelp := sbx(t, "run", "--help").ok(t)
	var runFlags []string
	for _, f := range strings.Fields(runHelp) {
		if strings.HasPrefix(f, "--") && len(f) > 2 {
			name, _, _ := strings.Cut(strings.Trim(f, ",.;:()"), "=")
			runFlags = append(runFlags, name)
		}
	}
	dir := testDir(t)
	for _, shell := range []struct{ name, check string }{{"bash", "-n"}, {"zsh", "-n"}, {"fish", "--no-execute"}} {
		t.Run(shell.name, func(t *testing.T) {
			script := sbx(t, "completion", shell.name).ok(t)
			for _, c := range cmds {
				if !strings.Contains(script, c) {
					t.Errorf("the %s script does not name the command %s", shell.name, c)
				}
			}
			for _, f := range runFlags {
				if !strings.Contains(script, strings.TrimPrefix(f, "--")) {
					t.Errorf("the %s script does not name sbx run %s", shell.name, f)
				}
			}
			path, err := exec.LookPath(shell.name)
			if err != nil {
				if shell.name == "bash" {
					t.Fatal("bash is not installed")
				}
				t.Fatalf("%s is not installed: apt-get install %s (make test as root installs it)", shell.name, shell.name)
			}
			file := filepath.Join(dir, "sbx."+shell.name)
			writeFile(t, file, script, 0o644)
			if out, err := exec.Command(path, shell.check, file).CombinedOutput(); err != nil {
				t.Errorf("%s %s refuses the script: %v\n%s", shell.name, shell.check, err, out)
			}
		})
	}
	t.Run("bash completes", func(t *testing.T) {
		// What bash offers after `sbx ru` and `sbx run --ma`, `--map `.
		script := sbx(t, "completion", "bash").ok(t)
		file := filepath.Join(dir, "complete.bash")
		writeFile(t, file, script, 0o644)
		probe := `. "$1"; for line in "sbx ru" "sbx run --ma" "sbx run --map " "sbx help ex"; do
			read -ra COMP_WORDS <<<"$line"; [[ $line == *" " ]] && COMP_WORDS+=("")
			COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _sbx; echo "${COMPREPLY[*]}"; done`
		out, err := exec.Command("bash", "-c", probe, "bash", file).CombinedOutput()
		if want := "run\n--map\nauto single\nexec\n"; err != nil || string(out) != want {
			t.Errorf("bash offers %q (%v), want %q", out, err, want)
		}
	})
	r := sbx(t, "completion", "tcsh")
	r.expect(t, 125)
	if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], "tcsh") || r.stdout != "" {
		t.Errorf("sbx completion tcsh: want one line on stderr:\n%s", r)
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

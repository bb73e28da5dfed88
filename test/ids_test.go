package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExecUIDPrimaryGroup: sbx exec --uid N without --gid runs as N's
// group in the sandbox's /etc/passwd (read inside the sandbox: here a
// file bound over the host's), and keeps the sandbox's group when N has no
// entry there; --gid wins.
func TestExecUIDPrimaryGroup(t *testing.T) {
	t.Parallel()
	// Other ids than the caller's need the multi-range map.
	requireTool(t, "newuidmap", "`sudo apt-get install uidmap`")
	subordinateRanges(t, "/etc/subuid")
	subordinateRanges(t, "/etc/subgid")
	h := newStateHome(t)
	passwd := filepath.Join(testDir(t), "passwd")
	// uid 1 (daemon on the host, group 1) has no entry in the sandbox's.
	writeFile(t, passwd, "root:x:0:0:root:/root:/bin/sh\nalt:x:4242:4343::/:/bin/sh\nnogroup:x:4244:bad::/:/bin/sh\n", 0o644)
	name := h.detach(t, sandboxName("gid"), "--ro-bind", passwd+":/etc/passwd", "--", "sleep", token())
	own := fmt.Sprint(os.Getgid())
	for _, tc := range []struct {
		flags []string
		want  string // id -u, id -g
	}{
		{[]string{"--uid", "4242"}, "4242 4343"},
		{[]string{"--uid", "0"}, "0 0"},
		{[]string{"--uid", "4242", "--gid", "7"}, "4242 7"},
		{[]string{"--uid", "1"}, "1 " + own},
		{[]string{"--uid", "4244"}, "4244 " + own},
		{[]string{"--gid", "7"}, fmt.Sprint(os.Getuid()) + " 7"},
		{nil, fmt.Sprint(os.Getuid()) + " " + own},
	} {
		args := append(append([]string{"exec"}, tc.flags...), name, "--", "sh", "-c", "echo $(id -u) $(id -g)")
		if got := strings.TrimSpace(h.sbx(t, args...).ok(t)); got != tc.want {
			t.Errorf("exec %s: id -u, id -g %q, want %q", strings.Join(tc.flags, " "), got, tc.want)
		}
	}
}

// TestPWD: the command's $PWD is its working directory (-w or the
// current one), not the caller's, as a shell would set it; exec -w moves
// it too; -e PWD=X and --clearenv are left alone.
func TestPWD(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	env := append(os.Environ(), "PWD=/caller/elsewhere")
	run := func(args ...string) string {
		t.Helper()
		return invocation{args: args, dir: dir, env: env}.run(t).ok(t)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, dir + "\n"},
		{[]string{"-w", "/usr"}, "/usr\n"},
		{[]string{"--workdir=/tmp"}, "/tmp\n"},
		{[]string{"--no-cwd"}, "/\n"},
		{[]string{"-w", "/usr", "-e", "PWD=/mine"}, "/mine\n"},
	} {
		args := append(append([]string{"run"}, tc.flags...), "--", "printenv", "PWD")
		if got := run(args...); got != tc.want {
			t.Errorf("run %s: $PWD %q, want %q", strings.Join(tc.flags, " "), got, tc.want)
		}
	}
	if got := run("run", "--clearenv", "-w", "/usr", "--", "/usr/bin/env"); got != "" {
		t.Errorf("run --clearenv: environment %q, want none", got)
	}

	h := newStateHome(t)
	name := h.detach(t, sandboxName("pwd"), "-w", "/usr", "--", "sleep", token())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", name, "--", "printenv", "PWD"}, "/usr\n"},
		{[]string{"exec", "-w", "/proc", name, "--", "printenv", "PWD"}, "/proc\n"},
		{[]string{"exec", "-w", "/proc", "-e", "PWD=/mine", name, "--", "printenv", "PWD"}, "/mine\n"},
	} {
		if got := h.sbx(t, tc.args...).ok(t); got != tc.want {
			t.Errorf("%s: $PWD %q, want %q", strings.Join(tc.args[:len(tc.args)-3], " "), got, tc.want)
		}
	}
}

// TestMapAutoExplicit: an explicit --map auto without subordinate ids or
// map helpers stops sbx with 125 and one line that names the fix; without
// --map, sbx falls back to one id silently. The nested sbx runs in a
// sandbox where the helpers are hidden, or the ranges empty (it fails
// further on anyway: no sandbox in a sandbox without privileges).
func TestMapAutoExplicit(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(testDir(t), "empty")
	writeFile(t, empty, "", 0o644)
	emptyBin := filepath.Join(testDir(t), "empty-bin")
	if err := os.Mkdir(emptyBin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		outer []string
		want  string
	}{
		{"helpers hidden", []string{"--hide", "/usr/bin/newuidmap", "--hide", "/usr/bin/newgidmap", "-e", "PATH=" + emptyBin}, "newuidmap"},
		{"no subordinate ids", []string{"--ro-bind", empty + ":/etc/subuid", "--ro-bind", empty + ":/etc/subgid"}, "no subordinate uids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := testDir(t)
			in := func(args ...string) result {
				a := append(append(append([]string{"run", "--allow-userns", "--seccomp", "unconfined"}, tc.outer...), "--", sbxBinary(t)), args...)
				return sbxIn(t, dir, a...)
			}
			auto := in("run", "--map", "auto", "--", "true")
			auto.expect(t, 125)
			l := lines(auto.stderr)
			if len(l) != 1 {
				t.Fatalf("want one line on stderr:\n%s", auto)
			}
			var missing []string
			for _, w := range []string{"--map auto", tc.want, "/etc/subuid", "apt-get install uidmap", "--map single"} {
				if !strings.Contains(l[0], w) {
					missing = append(missing, w)
				}
			}
			if missing != nil {
				t.Errorf("the line does not name %q:\n%s", missing, auto)
			}
			if auto.stdout != "" {
				t.Errorf("want nothing on stdout:\n%s", auto)
			}
			// Without --map: no word of the maps; it fails where
			// --map single fails.
			def, single := in("run", "--", "true"), in("run", "--map", "single", "--", "true")
			if strings.Contains(def.stderr, "--map auto") || def.stderr != single.stderr {
				t.Errorf("without --map, sbx does not fall back to one id as --map single does:\n%s\n--map single:\n%s", def, single)
			}
		})
	}
}

// TestUlimitSizes: the limits in bytes take k, m and g suffixes (powers
// of 1024); the counts do not.
func TestUlimitSizes(t *testing.T) {
	t.Parallel()
	r := sbx(t, "run", "--ulimit", "as=512m", "--ulimit", "fsize=1g:unlimited", "--ulimit", "stack=8M", "--ulimit", "core=4k:1m",
		"--", "cat", "/proc/self/limits")
	out := r.ok(t)
	for _, want := range [][]string{
		{"Max address space", "536870912", "536870912"},
		{"Max file size", "1073741824", "unlimited"},
		{"Max stack size", "8388608", "8388608"},
		{"Max core file size", "4096", "1048576"},
	} {
		found := false
		for _, l := range lines(out) {
			if rest, ok := strings.CutPrefix(l, want[0]); ok {
				found = true
				if f := strings.Fields(rest); len(f) < 2 || f[0] != want[1] || f[1] != want[2] {
					t.Errorf("%s: %q, want soft %s hard %s", want[0], l, want[1], want[2])
				}
			}
		}
		if !found {
			t.Errorf("no %q in /proc/self/limits:\n%s", want[0], out)
		}
	}
	for _, bad := range []string{"nofile=1k", "nproc=2m", "as=1t", "as=1.5g"} {
		r := sbx(t, "run", "--ulimit", bad, "--", "sh", "-c", "echo ran")
		r.expect(t, 125)
		if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], bad) || r.stdout != "" {
			t.Errorf("--ulimit %s: want one line naming it on stderr, nothing run:\n%s", bad, r)
		}
	}
}

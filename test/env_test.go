package test

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"
)

// TestEnv checks -e/--env and --clearenv against the caller's environment.
func TestEnv(t *testing.T) {
	t.Parallel()
	base := append(os.Environ(), "SBX_T_HOST=from-host", "SBX_T_COPY=copied value")
	tests := []struct {
		name    string
		flags   []string
		command []string
		want    string
	}{
		{"inherited", nil, []string{"sh", "-c", `printf %s "$SBX_T_HOST"`}, "from-host"},
		{"-e", []string{"-e", "FOO=bar"}, []string{"sh", "-c", `printf %s "$FOO"`}, "bar"},
		{"--env", []string{"--env", "FOO=bar"}, []string{"sh", "-c", `printf %s "$FOO"`}, "bar"},
		{"--env=", []string{"--env=FOO=bar"}, []string{"sh", "-c", `printf %s "$FOO"`}, "bar"},
		{"repeated", []string{"-e", "A=1", "-e", "B=2", "--env", "C=3"},
			[]string{"sh", "-c", `printf %s "$A$B$C"`}, "123"},
		{"overrides the caller's", []string{"-e", "SBX_T_HOST=from-flag"},
			[]string{"sh", "-c", `printf %s "$SBX_T_HOST"`}, "from-flag"},
		{"last one wins", []string{"-e", "A=1", "-e", "A=2"}, []string{"sh", "-c", `printf %s "$A"`}, "2"},
		{"value with =", []string{"-e", "A=x=y"}, []string{"sh", "-c", `printf %s "$A"`}, "x=y"},
		{"value with a comma", []string{"-e", "A=a,b"}, []string{"sh", "-c", `printf %s "$A"`}, "a,b"},
		{"value with spaces", []string{"-e", "A= two  spaces "}, []string{"sh", "-c", `printf %s "$A"`}, " two  spaces "},
		{"empty value", []string{"-e", "A="}, []string{"sh", "-c", `printf %s "${A-unset}"`}, ""},
		{"KEY copies the caller's", []string{"--clearenv", "-e", "SBX_T_COPY"},
			[]string{"/usr/bin/env"}, "SBX_T_COPY=copied value\n"},
		{"--clearenv", []string{"--clearenv"}, []string{"/usr/bin/env"}, ""},
		{"--clearenv with -e", []string{"--clearenv", "-e", "A=1", "-e", "B=2"},
			[]string{"/usr/bin/env"}, "A=1\nB=2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"run"}, tc.flags...)
			args = append(args, "--")
			r := invocation{args: append(args, tc.command...), env: base}.run(t)
			if out := r.ok(t); out != tc.want {
				t.Errorf("got %q, want %q\n%s", out, tc.want, r)
			}
		})
	}
}

// TestWorkdir checks -w/--workdir.
func TestWorkdir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags []string
		want  string // "" means the caller's working directory
	}{
		{"default", nil, ""},
		{"-w", []string{"-w", "/usr"}, "/usr"},
		{"--workdir", []string{"--workdir", "/etc"}, "/etc"},
		{"--workdir=", []string{"--workdir=/"}, "/"},
		{"-w /tmp", []string{"-w", "/tmp"}, "/tmp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := testDir(t)
			want := tc.want
			if want == "" {
				want = dir
			}
			args := append([]string{"run"}, tc.flags...)
			r := sbxIn(t, dir, append(args, "--", "sh", "-c", `pwd -P; pwd`)...)
			if out := r.ok(t); out != want+"\n"+want+"\n" {
				t.Errorf("got %q, want %q twice\n%s", out, want, r)
			}
		})
	}
}

// TestStdio checks that stdin, stdout and stderr pass through, separately
// and unaltered.
func TestStdio(t *testing.T) {
	t.Parallel()
	t.Run("stdin", func(t *testing.T) {
		t.Parallel()
		r := invocation{args: []string{"run", "--", "cat"}, stdin: strings.NewReader("data\n")}.run(t)
		if out := r.ok(t); out != "data\n" {
			t.Errorf("got %q, want data\n%s", out, r)
		}
	})
	t.Run("empty stdin", func(t *testing.T) {
		t.Parallel()
		r := sbx(t, "run", "--", "cat")
		if out := r.ok(t); out != "" {
			t.Errorf("got %q, want nothing\n%s", out, r)
		}
	})
	t.Run("large binary data", func(t *testing.T) {
		t.Parallel()
		data := make([]byte, 4<<20)
		rand.Read(data)
		r := invocation{args: []string{"run", "--", "cat"}, stdin: bytes.NewReader(data)}.run(t)
		r.expect(t, 0)
		if r.stdout != string(data) {
			t.Errorf("%d bytes in, %d bytes out, not the same", len(data), len(r.stdout))
		}
	})
	t.Run("stdout and stderr", func(t *testing.T) {
		t.Parallel()
		r := sbx(t, "run", "--", "sh", "-c", `echo out; echo err >&2; echo out2`)
		r.expect(t, 0)
		if r.stdout != "out\nout2\n" || r.stderr != "err\n" {
			t.Errorf("want stdout out, out2 and stderr err only:\n%s", r)
		}
	})
	t.Run("stderr of a failing command", func(t *testing.T) {
		t.Parallel()
		r := sbx(t, "run", "--", "sh", "-c", `echo oops >&2; exit 4`)
		r.expect(t, 4)
		if r.stdout != "" || r.stderr != "oops\n" {
			t.Errorf("want stderr oops only:\n%s", r)
		}
	})
}

// TestFDs checks that no descriptor but 0, 1 and 2 reaches the command, even
// when sbx is started with more.
func TestFDs(t *testing.T) {
	t.Parallel()
	f, err := os.Open("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	dir, err := os.Open(testDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()

	// sh lists its own descriptors, which it got from sbx.
	r := invocation{
		args:  []string{"run", "--", "sh", "-c", `ls /proc/$$/fd`},
		extra: []*os.File{f, pr, pw, dir}, // fds 3, 4, 5, 6 of sbx
	}.run(t)
	if out := strings.Join(strings.Fields(r.ok(t)), " "); out != "0 1 2" {
		t.Errorf("the command has fds %q, want only 0 1 2\n%s", out, r)
	}
}

package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/usermap"
)

func TestBuildEnv(t *testing.T) {
	t.Setenv("SBX_TEST_COPY", "copied")
	host := []string{"A=1", "B=2", "_SBX_INITPIPE=3", "NOEQUALS"}
	tests := []struct {
		name     string
		settings []string
		clear    bool
		want     []string
		wantErr  string
	}{
		{"inherit without internals", nil, false, []string{"A=1", "B=2"}, ""},
		{"override keeps order", []string{"A=9", "C=3"}, false, []string{"A=9", "B=2", "C=3"}, ""},
		{"clear", []string{"C=3"}, true, []string{"C=3"}, ""},
		{"copy from caller", []string{"SBX_TEST_COPY"}, true, []string{"SBX_TEST_COPY=copied"}, ""},
		{"copy of unset is skipped", []string{"SBX_TEST_UNSET"}, true, []string{}, ""},
		{"empty value", []string{"E="}, true, []string{"E="}, ""},
		{"empty key", []string{"=x"}, false, nil, "want KEY=VALUE"},
		{"internal key", []string{"_SBX_INITPIPE=4"}, false, nil, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildEnv(host, tt.settings, tt.clear)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no command", Options{}, "no command"},
		{"empty command", Options{Args: []string{""}}, "no command"},
		{"bad map", Options{Args: []string{"true"}, MapMode: "many"}, "unknown id map mode"},
		{"bad hostname", Options{Args: []string{"true"}, Hostname: "a b"}, "--hostname"},
		{"long hostname", Options{Args: []string{"true"}, Hostname: strings.Repeat("h", 65)}, "longer than"},
		{"relative workdir", Options{Args: []string{"true"}, Workdir: "sub"}, "--workdir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewConfig(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestNewConfigDefaultView(t *testing.T) {
	// No runtime directory or agent socket to cover, and sbx's records
	// under /tmp, which the /tmp cover covers.
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("TMPDIR", "")
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("TMPDIR", "")
	cfg, err := NewConfig(Options{Args: []string{"sh"}, MapMode: usermap.Single})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Spec
	if s.Root.Path != "/" || !s.Root.Readonly {
		t.Errorf("root %+v, want / read-only", s.Root)
	}
	if s.Hostname != "sbx" {
		t.Errorf("hostname %q", s.Hostname)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	want := []string{"/proc", "/dev", "/tmp", "/run"}
	if st, err := os.Lstat("/var/run"); err == nil && st.IsDir() {
		want = append(want, "/var/run")
	}
	if want = append(want, dir); !slices.Equal(dests, want) {
		t.Errorf("mounts %q, want %q", dests, want)
	}
	if s.Process.Cwd != dir {
		t.Errorf("cwd %q, want %q", s.Process.Cwd, dir)
	}
	if len(s.Linux.Namespaces) != 7 {
		t.Errorf("namespaces %v", s.Linux.Namespaces)
	}
	flags, err := cloneFlags(s.Linux.Namespaces)
	if err != nil || flags == 0 {
		t.Errorf("cloneFlags = %#x, %v", flags, err)
	}

	t.Chdir("/")
	cfg, err = NewConfig(Options{Args: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cfg.Spec.Mounts {
		if m.Type == "bind" {
			t.Errorf("cwd / was bound: %+v", m)
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	noexec := filepath.Join(dir, "data")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noexec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cmd, path, want string
		code                  int
	}{
		{"found", "tool", "/nonexistent:" + dir, exe, 0},
		{"slash is taken as is", "./x/y", dir, "./x/y", 0},
		{"missing", "nope", dir, "", ExitNotFound},
		{"not executable", "data", dir, "", ExitCannotExecute},
		{"directory is skipped", "subdir", dir, "", ExitNotFound},
	}
	if os.Geteuid() == 0 {
		// root passes access(X_OK) for any file with an x bit only; the
		// "data" file has none, so the table still holds.
		t.Log("running as root")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.cmd, tt.path)
			if tt.code != 0 {
				ee, ok := err.(*ExitError)
				if !ok || ee.Code != tt.code {
					t.Fatalf("err = %v, want exit code %d", err, tt.code)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestMountOptions(t *testing.T) {
	attrs, data := mountOptions([]string{"nosuid", "nodev", "mode=1777", "size=64m", "rw"})
	if attrs != unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV || !slices.Equal(data, []string{"mode=1777", "size=64m"}) {
		t.Errorf("attrs %#x data %q", attrs, data)
	}
}

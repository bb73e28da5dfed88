package sandbox

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sbx-sandbox/sbx/plan"
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

func TestNewPlanRejects(t *testing.T) {
	tests := []struct {
		name string
		opts Config
		want string
	}{
		{"no command", Config{}, "no command"},
		{"empty command", Config{Args: []string{""}}, "no command"},
		{"bad map", Config{Args: []string{"true"}, MapMode: "many"}, "unknown id map mode"},
		{"bad hostname", Config{Args: []string{"true"}, Hostname: "a b"}, "--hostname"},
		{"long hostname", Config{Args: []string{"true"}, Hostname: strings.Repeat("h", 65)}, "longer than"},
		{"relative workdir", Config{Args: []string{"true"}, Workdir: "sub"}, "--workdir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewPlan(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestNewPlanDefaultView(t *testing.T) {
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
	s, _, err := NewPlan(Config{Args: []string{"sh"}, MapMode: usermap.Single})
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != "/" || !s.Root.ReadOnly {
		t.Errorf("root %+v, want / read-only", s.Root)
	}
	if s.Hostname != "sbx" {
		t.Errorf("hostname %q", s.Hostname)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Dst)
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
	if s.Stages.CloneFlags != defaultNamespaces {
		t.Errorf("clone flags %#x, want %#x", s.Stages.CloneFlags, defaultNamespaces)
	}
	if len(s.Stages.UIDMap) != 1 || !s.Stages.SetgroupsDeny || len(s.Security.Seccomp) == 0 || !s.Security.NoNewPrivs {
		t.Errorf("single map, setgroups deny, seccomp and no_new_privs expected: %+v %+v", s.Stages, s.Security)
	}

	t.Chdir("/")
	s, _, err = NewPlan(Config{Args: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Mounts {
		if m.Kind == plan.Bind {
			t.Errorf("cwd / was bound: %+v", m)
		}
	}
}

func TestWithPWD(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env, settings []string
		want          []string
	}{
		{"replaces the caller's", []string{"A=1", "PWD=/home/u", "B=2"}, nil, []string{"A=1", "B=2", "PWD=/src"}},
		{"adds one", []string{"A=1"}, nil, []string{"A=1", "PWD=/src"}},
		{"-e PWD=X wins", []string{"PWD=/x"}, []string{"PWD=/x"}, []string{"PWD=/x"}},
		{"-e PWD copies the caller's", []string{"PWD=/home/u"}, []string{"PWD"}, []string{"PWD=/home/u"}},
		{"-e of another key", []string{"PWD=/home/u"}, []string{"PWDX=1"}, []string{"PWD=/src"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withPWD(tc.env, tc.settings, "/src"); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

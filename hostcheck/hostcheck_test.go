package hostcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-sandbox/sbx/usermap"
)

// fakeProc makes a proc tree holding the given files.
func fakeProc(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExplainUserns(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		out   string
		want  string
	}{
		{"inside a sandbox", nil, "sbx: proc on /proc: fsmount proc: operation not permitted", "inside a sandbox"},
		{"mount refused", nil, "sbx: make / a recursive slave: operation not permitted", "--seccomp unconfined"},
		{"max_user_namespaces", map[string]string{"sys/user/max_user_namespaces": "0\n"}, "", "sysctl -w user.max_user_namespaces="},
		{"Debian's switch", map[string]string{"sys/user/max_user_namespaces": "100\n", "sys/kernel/unprivileged_userns_clone": "0\n"}, "", "kernel.unprivileged_userns_clone=1"},
		{"Ubuntu's AppArmor", map[string]string{"sys/kernel/apparmor_restrict_unprivileged_userns": "1\n"}, "", "apparmor_parser -r /etc/apparmor.d/sbx"},
		{"container seccomp", map[string]string{"self/status": "Name:\tsbx\nSeccomp:\t2\n"}, "", "seccomp=unconfined"},
		{"nothing known", map[string]string{"self/status": "Seccomp:\t0\n"}, "", "unshare --user"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := Host{Proc: fakeProc(t, c.files)}
			if got := h.explainUserns(c.out); !strings.Contains(got, c.want) {
				t.Errorf("fix = %q, want it to contain %q", got, c.want)
			}
		})
	}
}

func TestNestedUserns(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		status Status
	}{
		{"no AppArmor knob", nil, OK},
		{"AppArmor restriction off", map[string]string{"sys/kernel/apparmor_restrict_unprivileged_userns": "0\n"}, OK},
		{"AppArmor restriction on", map[string]string{"sys/kernel/apparmor_restrict_unprivileged_userns": "1\n"}, Warn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Host{Proc: fakeProc(t, c.files)}.nestedUserns()
			if f.Status != c.status || !strings.Contains(f.Detail, "--allow-userns") || (f.Status != OK) != (f.Fix != "") {
				t.Errorf("got %+v, want status %s, a detail naming --allow-userns, and a fix exactly when not ok", f, c.status)
			}
		})
	}
}

func TestSubIDs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name       string
		uid, gid   string
		wantStatus Status
		wantFix    string
	}{
		{"both ranges", "alice:100000:65536\n", "alice:100000:65536\n", OK, ""},
		{"no entries", "bob:100000:65536\n", "", Warn, "usermod --add-subuids"},
		{"range too small", "alice:100000:1000\n", "alice:100000:65536\n", Warn, "usermod"},
	}
	oldU, oldG := usermap.SubUIDPath, usermap.SubGIDPath
	t.Cleanup(func() { usermap.SubUIDPath, usermap.SubGIDPath = oldU, oldG })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			usermap.SubUIDPath = write("subuid", c.uid)
			usermap.SubGIDPath = write("subgid", c.gid)
			f := subIDs("alice", 1000)
			if f.Status != c.wantStatus || !strings.Contains(f.Fix, c.wantFix) {
				t.Errorf("got %+v, want status %s and a fix with %q", f, c.wantStatus, c.wantFix)
			}
		})
	}
}

func TestUsable(t *testing.T) {
	if !Usable([]Fact{{Status: OK}, {Status: Warn}}) || Usable([]Fact{{Status: OK}, {Status: Fail}}) {
		t.Error("Usable must be false exactly when a fact failed")
	}
}

func TestKernelFacilities(t *testing.T) {
	// This machine's kernel is new enough for every facility.
	f := kernelFacilities()
	if f.Status != OK {
		t.Errorf("want ok on this kernel, got %+v", f)
	}
	for _, fa := range facilities {
		if !strings.Contains(f.Detail, fa.name+" ("+fa.since+")") {
			t.Errorf("%q is not listed: %s", fa.name, f.Detail)
		}
	}
}

// TestInContainer: in a user namespace of its own (a container, a
// sandbox), the fix of a fact about mapping more ids says so instead of
// naming what to install on a host; on the host it stays.
func TestInContainer(t *testing.T) {
	warn := Fact{Name: "newuidmap/newgidmap", Status: Warn, Detail: "newuidmap is not installed", Fix: "run `sudo apt-get install uidmap`"}
	cases := []struct {
		name    string
		uidMap  string
		fact    Fact
		wantFix string
	}{
		{"host", "         0          0 4294967295\n", warn, "apt-get install uidmap"},
		{"container", "         0       1000          1\n         1     100000      65536\n", warn, "nothing to install here"},
		{"ok in a container", "         0       1000          1\n", Fact{Name: "x", Status: OK, Detail: "fine"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := inContainer(fakeProc(t, map[string]string{"self/uid_map": c.uidMap}), c.fact)
			if c.wantFix == "" && f != c.fact || c.wantFix != "" && !strings.Contains(f.Fix, c.wantFix) {
				t.Errorf("got %+v, want a fix with %q", f, c.wantFix)
			}
		})
	}
}

package oci

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

func load(t *testing.T, file string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// minimal is a config every field of which the plan honours.
func minimal() *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "box",
		Process: &specs.Process{
			Args: []string{"sh"}, Env: []string{"PATH=/bin"}, Cwd: "/",
			User:            specs.User{UID: 0, GID: 0},
			NoNewPrivileges: true,
			Capabilities:    &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}, Effective: []string{"CAP_CHOWN"}},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=64m", "mode=1777"}},
			{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces:    []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.PIDNamespace}, {Type: specs.MountNamespace}},
			UIDMappings:   []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			GIDMappings:   []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}
}

func TestFromSpecMinimal(t *testing.T) {
	p, err := FromSpec(minimal(), "/b")
	if err != nil {
		t.Fatal(err)
	}
	if p.Root.Path != "/b/rootfs" || !p.Root.ReadOnly || p.Hostname != "box" {
		t.Errorf("root %+v, hostname %q", p.Root, p.Hostname)
	}
	if want := uint32(unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNS); p.Stages.CloneFlags != want {
		t.Errorf("clone flags %#x, want %#x", p.Stages.CloneFlags, want)
	}
	if len(p.Stages.UIDMap) != 1 || p.Stages.UIDMap[0] != (plan.IDMap{Inside: 0, Outside: 1000, Count: 1}) {
		t.Errorf("uid map %+v", p.Stages.UIDMap)
	}
	if p.Security.Caps.Bounding != 1<<unix.CAP_CHOWN || !p.Security.NoNewPrivs {
		t.Errorf("security %+v", p.Security)
	}
	if len(p.Mounts) != 3 || p.Mounts[1].Size != "64m" || p.Mounts[2].Kind != plan.Bind || !p.Mounts[2].ReadOnly {
		t.Errorf("mounts %+v", p.Mounts)
	}
	if len(p.Process.Rlimits) != 1 || p.Process.Rlimits[0].Resource != unix.RLIMIT_NOFILE {
		t.Errorf("rlimits %+v", p.Process.Rlimits)
	}
}

func TestFromSpecRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*specs.Spec)
		want   string
	}{
		{"hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}} }, "hooks"},
		{"netns path", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"})
		}, "linux.namespaces[3].path"},
		{"sysfs", func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys", Type: "sysfs"}) }, "mounts[3] (sysfs on /sys)"},
		{"plain bind", func(s *specs.Spec) { s.Mounts[2].Options = []string{"bind"} }, "non-recursive bind"},
		{"unknown cap", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_NOPE"} }, "process.capabilities.bounding"},
		{"maps without userns", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[1:] }, "linux.uidMappings"},
		{"resources", func(s *specs.Spec) {
			lim := int64(1 << 20)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim}}
		}, "linux.resources"},
		{"additional gids", func(s *specs.Spec) { s.Process.User.AdditionalGids = []uint32{5} }, "process.user.additionalGids"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "x" }, "process.cwd"},
	} {
		s := minimal()
		c.change(s)
		_, err := FromSpec(s, "/b")
		var u Unsupported
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: FromSpec = %v; want one line naming %q", c.name, err, c.want)
		}
	}
}

// TestFromSpecClients documents, with real configs, what podman 4.3
// (rootless, podman run --rm IMAGE echo hi) and containerd 1.6 (ctr run)
// send that the plan does not honour yet: the work left for issue #16. As
// the plan gains each, its entry goes, until both translate.
func TestFromSpecClients(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"testdata/podman-run-rm.json", []string{
			"linux.namespaces[1].path", "mounts[2] (sysfs on /sys)", "mounts[3] (devpts on /dev/pts)",
			"mounts[4] (mqueue on /dev/mqueue)",
		}},
		{"testdata/containerd-run.json", []string{"mounts[", "linux.resources"}},
	} {
		_, err := FromSpec(load(t, c.file), "/bundle")
		if err == nil {
			t.Errorf("%s: translates: update this test (issue #16 is further along)", c.file)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: the refusal does not name %q:\n%v", c.file, w, err)
			}
		}
		t.Logf("%s: %v", c.file, err)
	}
}

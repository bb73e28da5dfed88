package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
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
	c, err := FromSpec(minimal(), "/b", Host{})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Plan
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
		{"createContainer hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}} }, "hooks.createContainer"},
		{"relative hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "true"}}} }, "hooks.poststop[0].path"},
		{"pid ns path", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "/proc/1/ns/pid" }, "linux.namespaces[1].path"},
		{"no pid ns", func(s *specs.Spec) { s.Linux.Namespaces = slices.Delete(s.Linux.Namespaces, 1, 2) }, "linux.namespaces"},
		{"overlay", func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/o", Type: "overlay"}) }, "mounts[3] (overlay on /o)"},
		{"shared", func(s *specs.Spec) { s.Mounts[2].Options = []string{"rbind", "rshared"} }, "propagation rshared"},
		{"devpts alone", func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/pts", Type: "devpts"}) }, "devpts"},
		{"tmpfs option", func(s *specs.Spec) { s.Mounts[1].Options = append(s.Mounts[1].Options, "mpol=bind") }, "tmpfs option mpol=bind"},
		{"unknown cap", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_NOPE"} }, "process.capabilities.bounding"},
		{"maps without userns", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[1:] }, "linux.uidMappings"},
		{"hugepages", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}
		}, "linux.resources.hugepageLimits"},
		{"apparmor enabled", func(s *specs.Spec) { s.Process.ApparmorProfile = "x" }, "process.apparmorProfile"},
		{"intelRdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, "linux.intelRdt"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "x" }, "process.cwd"},
		{"windows", func(s *specs.Spec) { s.Windows = &specs.Windows{} }, "windows"},
	} {
		s := minimal()
		c.change(s)
		_, err := FromSpec(s, "/b", Host{AppArmor: true})
		var u Unsupported
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: FromSpec = %v; want one line naming %q", c.name, err, c.want)
		}
	}
}

// TestFromSpecClients translates real configs: podman 4.3 (rootless,
// podman run --rm IMAGE echo hi) and containerd 1.6 (ctr run).
func TestFromSpecClients(t *testing.T) {
	for _, c := range []struct {
		file  string
		check func(*Container) string
	}{
		{"testdata/podman-run-rm.json", func(c *Container) string {
			p := c.Plan
			switch {
			case len(c.Joins) != 1 || c.Joins[0].Flag != unix.CLONE_NEWNET:
				return fmt.Sprintf("joins %+v", c.Joins)
			case p.Stages.CloneFlags&unix.CLONE_NEWUSER != 0:
				return "a user namespace of its own"
			case p.Mounts[0].Kind != plan.Proc && p.Mounts[0].Kind != plan.Dev && p.Mounts[0].Kind != plan.Sysfs:
				return fmt.Sprintf("first mount %+v", p.Mounts[0])
			case p.Security.NoNewPrivs:
				return "no_new_privs"
			}
			for _, m := range p.Mounts {
				if m.Kind == plan.Dev && m.Data != "ptmxmode=0666,mode=0620,gid=5" {
					return fmt.Sprintf("devpts options %q", m.Data)
				}
			}
			return ""
		}},
		{"testdata/containerd-run.json", func(c *Container) string {
			if c.CgroupsPath == "" || c.Plan.Root.Path != "/bundle/rootfs" {
				return fmt.Sprintf("cgroups path %q, root %q", c.CgroupsPath, c.Plan.Root.Path)
			}
			return ""
		}},
	} {
		ctr, err := FromSpec(load(t, c.file), "/bundle", Host{})
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if msg := c.check(ctr); msg != "" {
			t.Errorf("%s: %s", c.file, msg)
		}
	}
}

// TestMountOrder: parents before the mounts below them, whatever order
// the config lists them in.
func TestMountOrder(t *testing.T) {
	s := minimal()
	s.Mounts = []specs.Mount{
		{Destination: "/dev/shm", Type: "tmpfs", Options: []string{"mode=1777"}},
		{Destination: "/dev/pts", Type: "devpts", Options: []string{"newinstance", "gid=5"}},
		{Destination: "/dev", Type: "tmpfs", Options: []string{"mode=755", "size=65536k"}},
	}
	c, err := FromSpec(s, "/b", Host{})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Plan.Mounts
	if len(m) != 2 || m[0].Kind != plan.Dev || m[0].Size != "65536k" || m[0].Data != "gid=5" || m[1].Dst != "/dev/shm" {
		t.Errorf("mounts %+v", m)
	}
}

// TestCgroupMount: the container's own cgroup hierarchy only with a cgroup
// namespace of its own on a v2 host; else an empty read-only directory
// (a cgroup2 mount in the runtime's namespace would show the host's tree).
func TestCgroupMount(t *testing.T) {
	for _, c := range []struct {
		v2, ns bool
		want   plan.Kind
	}{
		{true, true, plan.Cgroup}, {true, false, plan.Tmpfs}, {false, true, plan.Tmpfs}, {false, false, plan.Tmpfs},
	} {
		s := minimal()
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup"})
		if c.ns {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}
		ctr, err := FromSpec(s, "/b", Host{CgroupV2: c.v2})
		if err != nil {
			t.Fatal(err)
		}
		m := ctr.Plan.Mounts[len(ctr.Plan.Mounts)-1]
		if m.Kind != c.want || m.Kind == plan.Tmpfs && !m.ReadOnly {
			t.Errorf("v2 %v, cgroup namespace %v: mount %+v, want kind %v", c.v2, c.ns, m, c.want)
		}
	}
}

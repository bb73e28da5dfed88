// Package oci is sbx's OCI runtime edge: it turns a bundle's config.json
// (runtime-spec's types) into the same typed plan that sbx run builds, so
// that everything after it (stages, Go init, records) takes one road.
//
// Every field the plan cannot honour is refused, never dropped: FromSpec
// returns one error line naming each such field by its JSON path.
//
// Work in progress (branch oci-wip, issue #16): what podman and containerd
// send and what the plan still lacks is in the package's tests (a real
// podman config.json) and /work/run/oci-design.md.
package oci

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/seccomp"
)

// Unsupported lists the fields of a config that the plan cannot honour,
// by JSON path, in the config's order.
type Unsupported []string

func (u Unsupported) Error() string {
	return "config.json: not supported by sbx: " + strings.Join(u, "; ")
}

// namespaceFlags are the namespaces by their OCI names.
var namespaceFlags = map[specs.LinuxNamespaceType]uint32{
	specs.UserNamespace: unix.CLONE_NEWUSER, specs.MountNamespace: unix.CLONE_NEWNS,
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP,
}

// translator collects the plan and what it cannot honour.
type translator struct {
	p       *plan.Plan
	refused Unsupported
}

func (t *translator) refuse(path, why string) {
	t.refused = append(t.refused, path+": "+why)
}

// FromSpec turns the config s of the bundle in directory bundle into a
// plan. The stages' id maps are the config's; helpers to write them are the
// caller's business (a rootless caller with subordinate ids needs them).
func FromSpec(s *specs.Spec, bundle string) (*plan.Plan, error) {
	if s == nil {
		return nil, errors.New("config.json: empty")
	}
	t := &translator{p: &plan.Plan{}}
	t.root(s.Root, bundle)
	t.p.Hostname = s.Hostname
	t.process(s.Process)
	t.mounts(s.Mounts)
	t.linux(s.Linux)
	if s.Hooks != nil && (len(s.Hooks.Prestart)+len(s.Hooks.CreateRuntime)+len(s.Hooks.CreateContainer)+
		len(s.Hooks.StartContainer)+len(s.Hooks.Poststart)+len(s.Hooks.Poststop) > 0) {
		t.refuse("hooks", "not supported yet")
	}
	for _, f := range []struct {
		set  bool
		path string
	}{
		{s.Solaris != nil, "solaris"}, {s.Windows != nil, "windows"}, {s.VM != nil, "vm"},
		{s.ZOS != nil, "zos"}, {s.FreeBSD != nil, "freebsd"},
	} {
		if f.set {
			t.refuse(f.path, "not a Linux field")
		}
	}
	if len(t.refused) > 0 {
		return nil, t.refused
	}
	return t.p, nil
}

func (t *translator) root(r *specs.Root, bundle string) {
	if r == nil || r.Path == "" {
		t.refuse("root.path", "missing")
		return
	}
	path := r.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, path)
	}
	t.p.Root = plan.Root{Path: filepath.Clean(path), ReadOnly: r.Readonly}
}

func (t *translator) process(pr *specs.Process) {
	if pr == nil {
		t.refuse("process", "missing (sbx runs one command per sandbox)")
		return
	}
	p := &t.p.Process
	if len(pr.Args) == 0 {
		t.refuse("process.args", "empty")
	}
	if pr.CommandLine != "" {
		t.refuse("process.commandLine", "a Windows field")
	}
	p.Args, p.Env, p.Cwd, p.Terminal = pr.Args, pr.Env, pr.Cwd, pr.Terminal
	if !filepath.IsAbs(pr.Cwd) {
		t.refuse("process.cwd", "must be an absolute path")
	}
	p.UID, p.GID = pr.User.UID, pr.User.GID
	if len(pr.User.AdditionalGids) > 0 {
		t.refuse("process.user.additionalGids", "not supported yet")
	}
	if pr.User.Umask != nil && *pr.User.Umask != 0o022 {
		t.refuse("process.user.umask", "only 022 (the default) is supported yet")
	}
	if pr.User.Username != "" {
		t.refuse("process.user.username", "a Windows field")
	}
	for i, r := range pr.Rlimits {
		res, ok := plan.RlimitNames[strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))]
		if !ok {
			t.refuse(fmt.Sprintf("process.rlimits[%d].type", i), "unknown limit "+r.Type)
			continue
		}
		p.Rlimits = append(p.Rlimits, plan.Rlimit{Resource: res, Soft: r.Soft, Hard: r.Hard})
	}
	sec := &t.p.Security
	sec.NoNewPrivs = pr.NoNewPrivileges
	if c := pr.Capabilities; c != nil {
		for _, set := range []struct {
			path  string
			names []string
			dst   *uint64
		}{
			{"bounding", c.Bounding, &sec.Caps.Bounding}, {"effective", c.Effective, &sec.Caps.Effective},
			{"permitted", c.Permitted, &sec.Caps.Permitted}, {"inheritable", c.Inheritable, &sec.Caps.Inheritable},
			{"ambient", c.Ambient, &sec.Caps.Ambient},
		} {
			m, err := capabilities.Mask(set.names)
			if err != nil {
				t.refuse("process.capabilities."+set.path, err.Error())
			}
			*set.dst = m
		}
	}
	if pr.ApparmorProfile != "" {
		t.refuse("process.apparmorProfile", "not supported yet")
	}
	if pr.SelinuxLabel != "" {
		t.refuse("process.selinuxLabel", "not supported yet")
	}
	if pr.OOMScoreAdj != nil {
		t.refuse("process.oomScoreAdj", "not supported yet")
	}
	if pr.ConsoleSize != nil && !pr.Terminal {
		t.refuse("process.consoleSize", "without process.terminal")
	}
	if pr.IOPriority != nil || pr.Scheduler != nil || pr.ExecCPUAffinity != nil {
		t.refuse("process.ioPriority/scheduler/execCPUAffinity", "not supported yet")
	}
}

// mounts translates the mounts sbx's view has kinds for.
func (t *translator) mounts(ms []specs.Mount) {
	for i, m := range ms {
		path := fmt.Sprintf("mounts[%d] (%s on %s)", i, m.Type, m.Destination)
		if !filepath.IsAbs(m.Destination) {
			t.refuse(path, "the destination must be an absolute path")
			continue
		}
		opts := map[string]bool{}
		var data []string
		for _, o := range m.Options {
			switch {
			case o == "ro" || o == "rw" || o == "nosuid" || o == "nodev" || o == "noexec" || o == "bind" ||
				o == "rbind" || o == "rprivate" || o == "private" || o == "relatime" || o == "strictatime":
				opts[o] = true
			default:
				data = append(data, o)
			}
		}
		switch {
		case m.Type == "proc":
			t.p.Mounts = append(t.p.Mounts, plan.Mount{Kind: plan.Proc, Dst: m.Destination})
		case m.Type == "tmpfs":
			mnt := plan.Mount{Kind: plan.Tmpfs, Dst: m.Destination, Mode: "1777"}
			for _, d := range data {
				k, v, _ := strings.Cut(d, "=")
				switch k {
				case "size":
					mnt.Size = v
				case "mode":
					mnt.Mode = v
				default:
					t.refuse(path, "tmpfs option "+d+" not supported yet")
				}
			}
			t.p.Mounts = append(t.p.Mounts, mnt)
		case m.Type == "bind" || opts["bind"] || opts["rbind"]:
			if len(data) > 0 {
				t.refuse(path, "bind options "+strings.Join(data, ",")+" not supported yet")
			}
			if !opts["rbind"] {
				// sbx's binds are recursive; a plain bind is not.
				t.refuse(path, "a non-recursive bind is not supported yet (use rbind)")
			}
			t.p.Mounts = append(t.p.Mounts, plan.Mount{Kind: plan.Bind, Src: m.Source, Dst: m.Destination,
				ReadOnly: opts["ro"], Dev: !opts["nodev"]})
		case m.Type == "cgroup" || m.Type == "cgroup2":
			t.p.Mounts = append(t.p.Mounts, plan.Mount{Kind: plan.Cgroup, Dst: m.Destination})
		default:
			t.refuse(path, "mount type "+m.Type+" not supported yet")
		}
	}
}

func (t *translator) linux(l *specs.Linux) {
	if l == nil {
		t.refuse("linux", "missing")
		return
	}
	st := &t.p.Stages
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		flag, ok := namespaceFlags[ns.Type]
		switch {
		case !ok:
			t.refuse(fmt.Sprintf("linux.namespaces[%d].type", i), "unknown namespace "+string(ns.Type))
		case seen[ns.Type]:
			t.refuse(fmt.Sprintf("linux.namespaces[%d]", i), "namespace "+string(ns.Type)+" listed twice")
		case ns.Path != "":
			t.refuse(fmt.Sprintf("linux.namespaces[%d].path", i), "joining a namespace by path is not supported yet")
		default:
			st.CloneFlags |= flag
		}
		seen[ns.Type] = true
	}
	for _, m := range l.UIDMappings {
		st.UIDMap = append(st.UIDMap, plan.IDMap{Inside: m.ContainerID, Outside: m.HostID, Count: m.Size})
	}
	for _, m := range l.GIDMappings {
		st.GIDMap = append(st.GIDMap, plan.IDMap{Inside: m.ContainerID, Outside: m.HostID, Count: m.Size})
	}
	if (len(st.UIDMap) > 0 || len(st.GIDMap) > 0) && st.CloneFlags&unix.CLONE_NEWUSER == 0 {
		t.refuse("linux.uidMappings", "id mappings without a user namespace")
	}
	t.p.Masked, t.p.ReadOnly = slices.Clone(l.MaskedPaths), slices.Clone(l.ReadonlyPaths)
	// Checked against the namespaces as sbx run's --sysctl is, by the
	// planner's rules, once the front end has the namespaces: kept as
	// they are here, in a stable order.
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.p.Sysctls = append(t.p.Sysctls, k+"="+l.Sysctl[k])
	}
	if l.Seccomp != nil {
		prog, err := seccomp.Compile(l.Seccomp, false)
		if err != nil {
			t.refuse("linux.seccomp", err.Error())
		} else {
			t.p.Security.Seccomp = prog
			t.p.Security.SeccompProfile = "config.json"
		}
	}
	if r := l.Resources; r != nil && !emptyResources(r) {
		t.refuse("linux.resources", "not supported yet")
	}
	for _, f := range []struct {
		set  bool
		path string
	}{
		{len(l.Devices) > 0, "linux.devices"}, {l.IntelRdt != nil, "linux.intelRdt"},
		{l.RootfsPropagation != "" && l.RootfsPropagation != "private" && l.RootfsPropagation != "rprivate", "linux.rootfsPropagation"},
		{l.MountLabel != "", "linux.mountLabel"}, {l.Personality != nil, "linux.personality"},
		{l.TimeOffsets != nil, "linux.timeOffsets"}, {l.MemoryPolicy != nil, "linux.memoryPolicy"},
		{len(l.NetDevices) > 0, "linux.netDevices"},
	} {
		if f.set {
			t.refuse(f.path, "not supported yet")
		}
	}
}

// emptyResources reports whether r asks for nothing (containerd and
// podman send empty or allow-all resources).
func emptyResources(r *specs.LinuxResources) bool {
	for _, d := range r.Devices {
		if d.Allow && d.Type == "" && d.Major == nil && d.Minor == nil {
			continue // allow all
		}
		if !d.Allow && (d.Type == "" || d.Type == "a") && d.Major == nil && d.Minor == nil && d.Access == "rwm" {
			continue // deny all: sbx's /dev has no other device
		}
		return false
	}
	return r.Memory == nil && r.CPU == nil && r.Pids == nil && r.BlockIO == nil && len(r.HugepageLimits) == 0 &&
		r.Network == nil && len(r.Rdma) == 0 && len(r.Unified) == 0
}

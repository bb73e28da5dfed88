// Package oci is sbx's OCI runtime edge: it turns a bundle's config.json
// (runtime-spec's types) into the same typed plan that sbx run builds, so
// that everything after it (stages, Go init, records) takes one road.
//
// Every field the plan cannot honour is refused, never dropped: FromSpec
// returns one error line naming each such field by its JSON path. What
// the translation decides, and why, is in DESIGN.md.
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

// allCapNames are the capabilities sbx knows.
func allCapNames() []string { return capabilities.Names(^uint64(0)) }

// Host is what the translation needs to know of the host.
type Host struct {
	// CgroupV2 is set on a host with the unified cgroup hierarchy alone.
	CgroupV2 bool
	// AppArmor and SELinux are set where the LSM is enabled.
	AppArmor, SELinux bool
}

// Join is a namespace the container joins by path.
type Join struct {
	Path string
	// Flag is its CLONE_NEW* flag.
	Flag uint32
}

// Container is a config translated: the plan, and what the runtime does
// around it.
type Container struct {
	Plan *plan.Plan
	// Joins are the namespaces to join by path, a user namespace first
	// (the order stage 1 joins them in).
	Joins []Join
	// Hooks are the config's, run by the runtime as the spec says.
	Hooks *specs.Hooks
	// Annotations are echoed by state.
	Annotations map[string]string
	// CgroupsPath is linux.cgroupsPath, as given.
	CgroupsPath string
	// Warnings are fields accepted without effect on this host, for the
	// caller to print.
	Warnings []string
}

// translator collects the plan and what it cannot honour.
type translator struct {
	p       *plan.Plan
	c       *Container
	host    Host
	refused Unsupported
}

func (t *translator) refuse(path, why string) {
	t.refused = append(t.refused, path+": "+why)
}

// FromSpec turns the config s of the bundle in directory bundle into a
// plan. The stages' id maps are the config's; helpers to write them are the
// caller's business (a rootless caller with subordinate ids needs them),
// and so are the host paths' identities (plan.Sources), and the
// namespaces' files to join.
func FromSpec(s *specs.Spec, bundle string, host Host) (*Container, error) {
	if s == nil {
		return nil, errors.New("config.json: empty")
	}
	p := &plan.Plan{}
	t := &translator{p: p, c: &Container{Plan: p, Annotations: s.Annotations}, host: host}
	t.root(s.Root, bundle)
	p.Hostname = s.Hostname
	t.process(s.Process)
	t.mounts(s.Mounts, bundle)
	t.linux(s.Linux)
	t.hooks(s.Hooks)
	t.cgroupMounts()
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
	// The config is the contract: it says whether the container may make
	// user namespaces (its seccomp profile, its capabilities). sbx's own
	// max_user_namespaces=0 would also reach every other process of a
	// user namespace the container shares (rootless podman's).
	p.Security.AllowUserns = true
	if len(t.refused) > 0 {
		return nil, t.refused
	}
	return t.c, nil
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
	// As runc mounts it, setuid programs of the root work where the
	// kernel lets them (no_new_privs and the user namespace decide).
	// Device nodes do not: sbx has no device cgroup to stand in for a
	// config's device rules, so every mount is nodev but the binds of
	// device nodes themselves (see the runtime's resolveSources).
	t.p.Root = plan.Root{Path: filepath.Clean(path), ReadOnly: r.Readonly, Suid: true, ReadOnlyLate: true}
}

func (t *translator) process(pr *specs.Process) {
	if pr == nil {
		t.refuse("process", "missing (sbx runs one command per container)")
		return
	}
	p := &t.p.Process
	if len(pr.Args) == 0 {
		t.refuse("process.args", "empty")
	}
	if pr.CommandLine != "" {
		t.refuse("process.commandLine", "a Windows field")
	}
	p.Args, p.Env, p.Cwd, p.Terminal = pr.Args, slices.Clone(pr.Env), pr.Cwd, pr.Terminal
	if !filepath.IsAbs(pr.Cwd) {
		t.refuse("process.cwd", "must be an absolute path")
	}
	p.UID, p.GID = pr.User.UID, pr.User.GID
	if pr.User.AdditionalGids != nil {
		p.AdditionalGids = slices.Clone(pr.User.AdditionalGids)
	} else {
		// The spec's "no additional groups", not sbx run's "keep what
		// the namespace does not let go".
		p.AdditionalGids = []uint32{}
	}
	if pr.User.Umask != nil {
		p.Umask, p.SetUmask = *pr.User.Umask, true
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
	t.lsm("process.apparmorProfile", pr.ApparmorProfile, t.host.AppArmor, "AppArmor")
	t.lsm("process.selinuxLabel", pr.SelinuxLabel, t.host.SELinux, "SELinux")
	if pr.OOMScoreAdj != nil {
		t.refuse("process.oomScoreAdj", "not supported yet")
	}
	if c := pr.ConsoleSize; c != nil {
		if c.Height > 0xffff || c.Width > 0xffff {
			t.refuse("process.consoleSize", "too large")
		}
		p.ConsoleRows, p.ConsoleCols = uint16(c.Height), uint16(c.Width)
	}
	if pr.IOPriority != nil {
		t.refuse("process.ioPriority", "not supported yet")
	}
	if pr.Scheduler != nil {
		t.refuse("process.scheduler", "not supported yet")
	}
	if pr.ExecCPUAffinity != nil {
		t.refuse("process.execCPUAffinity", "not supported yet")
	}
}

// lsm refuses a label of a security module that is enabled (sbx cannot
// apply it) and accepts, with a warning, one of a module the host does
// not have (runc does the same).
func (t *translator) lsm(path, label string, enabled bool, name string) {
	switch {
	case label == "":
	case enabled:
		t.refuse(path, "sbx cannot apply "+name+" labels yet")
	default:
		t.c.Warnings = append(t.c.Warnings, fmt.Sprintf("%s %q ignored: %s is not enabled on this host", path, label, name))
	}
}

// mountOptions are the options of a mount: the flags sbx acts on, and the
// rest, the filesystem's data.
type mountOptions struct {
	ro, nosuid, nodev, noexec, bind, rbind bool
	data                                   []string
	bad                                    []string
}

// mountFlags are the mount options sbx acts on, each setting a flag of
// mountOptions (to true or false).
var mountFlags = map[string]struct {
	flag func(*mountOptions) *bool
	set  bool
}{
	"ro": {func(o *mountOptions) *bool { return &o.ro }, true}, "rw": {func(o *mountOptions) *bool { return &o.ro }, false},
	"nosuid": {func(o *mountOptions) *bool { return &o.nosuid }, true}, "suid": {func(o *mountOptions) *bool { return &o.nosuid }, false},
	"nodev": {func(o *mountOptions) *bool { return &o.nodev }, true}, "dev": {func(o *mountOptions) *bool { return &o.nodev }, false},
	"noexec": {func(o *mountOptions) *bool { return &o.noexec }, true}, "exec": {func(o *mountOptions) *bool { return &o.noexec }, false},
	"bind": {func(o *mountOptions) *bool { return &o.bind }, true}, "rbind": {func(o *mountOptions) *bool { return &o.rbind }, true},
}

// mountIgnored are the options accepted without effect: propagation
// (nothing the sandbox mounts reaches the host either way: sbx's view is a
// slave of the host's, private to the sandbox), timestamps and write modes
// (the kernel's defaults), SELinux relabelling (the client's, if at all).
var mountIgnored = []string{
	"private", "rprivate", "slave", "rslave", "unbindable", "runbindable",
	"relatime", "norelatime", "strictatime", "nostrictatime", "noatime", "atime", "nodiratime", "diratime",
	"sync", "async", "dirsync", "nomand", "mand", "silent", "loud", "defaults", "z", "Z",
}

// knownMountOptions are the options the translator takes (features).
func knownMountOptions() []string {
	opts := slices.Clone(mountIgnored)
	for o := range mountFlags {
		opts = append(opts, o)
	}
	slices.Sort(opts)
	return slices.DeleteFunc(opts, func(o string) bool { return o == "z" || o == "Z" })
}

func parseMountOptions(opts []string) mountOptions {
	var o mountOptions
	for _, opt := range opts {
		if f, ok := mountFlags[opt]; ok {
			*f.flag(&o) = f.set
			continue
		}
		switch {
		case opt == "shared" || opt == "rshared":
			o.bad = append(o.bad, "propagation "+opt+" (sbx never lets mounts propagate to the host)")
		case slices.Contains(mountIgnored, opt):
		default:
			o.data = append(o.data, opt)
		}
	}
	return o
}

// mounts translates the mounts sbx's view has kinds for, parents before
// the mounts below them (podman lists them in a map's order).
func (t *translator) mounts(ms []specs.Mount, bundle string) {
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	depth := func(d string) int { return strings.Count(filepath.Clean(d), "/") }
	slices.SortStableFunc(order, func(a, b int) int {
		return depth(ms[a].Destination) - depth(ms[b].Destination)
	})
	devAt := -1 // the index in the plan of the Dev made of a tmpfs /dev
	for _, i := range order {
		m := ms[i]
		path := fmt.Sprintf("mounts[%d] (%s on %s)", i, m.Type, m.Destination)
		if !filepath.IsAbs(m.Destination) {
			t.refuse(path, "the destination must be an absolute path")
			continue
		}
		dst := filepath.Clean(m.Destination)
		o := parseMountOptions(m.Options)
		for _, b := range o.bad {
			t.refuse(path, b)
		}
		base := plan.Mount{Dst: dst, ReadOnly: o.ro, Suid: !o.nosuid, NoExec: o.noexec}
		switch {
		case m.Type == "bind" || o.bind || o.rbind:
			if len(o.data) > 0 {
				t.refuse(path, "bind options "+strings.Join(o.data, ",")+" not supported")
			}
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundle, src)
			}
			base.Kind, base.Src, base.Flat = plan.Bind, filepath.Clean(src), !o.rbind
			t.p.Mounts = append(t.p.Mounts, base)
		case m.Type == "proc":
			t.noData(path, o)
			t.p.Mounts = append(t.p.Mounts, plan.Mount{Kind: plan.Proc, Dst: dst})
		case m.Type == "tmpfs" && dst == "/dev":
			d := plan.Mount{Kind: plan.Dev, Dst: dst}
			t.tmpfsData(path, o.data, &d)
			devAt = len(t.p.Mounts)
			t.p.Mounts = append(t.p.Mounts, d)
		case m.Type == "devpts":
			// sbx's /dev has its devpts: the config's options go to it.
			if dst != "/dev/pts" || devAt < 0 {
				t.refuse(path, "a devpts only on /dev/pts, below a tmpfs on /dev")
				continue
			}
			var opts []string
			for _, d := range o.data {
				if d != "newinstance" {
					opts = append(opts, d)
				}
			}
			t.p.Mounts[devAt].Data = strings.Join(opts, ",")
		case m.Type == "tmpfs":
			base.Kind = plan.Tmpfs
			base.Mode = "1777"
			t.tmpfsData(path, o.data, &base)
			t.p.Mounts = append(t.p.Mounts, base)
		case m.Type == "sysfs":
			t.noData(path, o)
			base.Kind = plan.Sysfs
			t.p.Mounts = append(t.p.Mounts, base)
		case m.Type == "mqueue":
			t.noData(path, o)
			base.Kind = plan.Mqueue
			t.p.Mounts = append(t.p.Mounts, base)
		case m.Type == "cgroup" || m.Type == "cgroup2":
			// See cgroupMounts.
			t.p.Mounts = append(t.p.Mounts, plan.Mount{Kind: plan.Cgroup, Dst: dst})
		default:
			t.refuse(path, "mount type "+m.Type+" not supported")
		}
	}
}

// cgroupMounts decides what a cgroup mount shows: the container's own
// cgroup hierarchy, read-only, where it has a cgroup namespace of its own
// on a cgroup v2 host; else an empty read-only directory (sbx supports
// cgroup v2 only, and a cgroup2 mount in the runtime's cgroup namespace
// would show the host's whole tree).
func (t *translator) cgroupMounts() {
	own := t.host.CgroupV2 && t.p.Stages.CloneFlags&unix.CLONE_NEWCGROUP != 0
	for i, m := range t.p.Mounts {
		if m.Kind == plan.Cgroup && !own {
			t.p.Mounts[i] = plan.Mount{Kind: plan.Tmpfs, Dst: m.Dst, ReadOnly: true, Mode: "0555", Size: "4k", NoExec: true}
		}
	}
}

// noData refuses filesystem options on a mount that takes none.
func (t *translator) noData(path string, o mountOptions) {
	if len(o.data) > 0 {
		t.refuse(path, "options "+strings.Join(o.data, ",")+" not supported")
	}
}

// tmpfsData takes a tmpfs's size and mode; other options go as they are
// (uid=, gid=, nr_inodes=); tmpcopyup (runc's and crun's) copies what the
// directory held into the new tmpfs.
func (t *translator) tmpfsData(path string, data []string, m *plan.Mount) {
	var rest []string
	for _, d := range data {
		k, v, _ := strings.Cut(d, "=")
		switch k {
		case "size":
			m.Size = v
		case "mode":
			m.Mode = v
		case "uid", "gid", "nr_inodes", "nr_blocks", "huge", "inode64", "noswap":
			rest = append(rest, d)
		case "tmpcopyup":
			if m.Kind == plan.Dev {
				t.refuse(path, "tmpcopyup on /dev")
			}
			m.CopyUp = true
		default:
			t.refuse(path, "tmpfs option "+d+" not supported")
		}
	}
	if len(rest) > 0 {
		if m.Kind == plan.Dev {
			t.refuse(path, "tmpfs options "+strings.Join(rest, ",")+" not supported on /dev")
			return
		}
		m.Data = strings.Join(rest, ",")
	}
}

func (t *translator) linux(l *specs.Linux) {
	if l == nil {
		t.refuse("linux", "missing")
		return
	}
	st := &t.p.Stages
	seen := map[specs.LinuxNamespaceType]bool{}
	var joinUser []Join
	for i, ns := range l.Namespaces {
		flag, ok := namespaceFlags[ns.Type]
		switch {
		case !ok:
			t.refuse(fmt.Sprintf("linux.namespaces[%d].type", i), "unknown namespace "+string(ns.Type))
		case seen[ns.Type]:
			t.refuse(fmt.Sprintf("linux.namespaces[%d]", i), "namespace "+string(ns.Type)+" listed twice")
		case ns.Path != "" && (flag == unix.CLONE_NEWNS || flag == unix.CLONE_NEWPID):
			// Stage 1 must make these itself: sbx's pid 1 and its view
			// need them fresh.
			t.refuse(fmt.Sprintf("linux.namespaces[%d].path", i), "sbx makes the "+string(ns.Type)+" namespace of each container itself")
		case ns.Path != "" && !filepath.IsAbs(ns.Path):
			t.refuse(fmt.Sprintf("linux.namespaces[%d].path", i), "must be an absolute path")
		case ns.Path != "" && flag == unix.CLONE_NEWUSER:
			joinUser = append(joinUser, Join{Path: ns.Path, Flag: flag})
		case ns.Path != "":
			t.c.Joins = append(t.c.Joins, Join{Path: ns.Path, Flag: flag})
		default:
			st.CloneFlags |= flag
		}
		seen[ns.Type] = true
	}
	t.c.Joins = append(joinUser, t.c.Joins...)
	for _, need := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.PIDNamespace} {
		if !seen[need] {
			t.refuse("linux.namespaces", "sbx needs a "+string(need)+" namespace of the container's own (sharing the host's is not supported)")
		}
	}
	for _, m := range l.UIDMappings {
		st.UIDMap = append(st.UIDMap, plan.IDMap{Inside: m.ContainerID, Outside: m.HostID, Count: m.Size})
	}
	for _, m := range l.GIDMappings {
		st.GIDMap = append(st.GIDMap, plan.IDMap{Inside: m.ContainerID, Outside: m.HostID, Count: m.Size})
	}
	if st.CloneFlags&unix.CLONE_NEWUSER != 0 && (len(st.UIDMap) == 0 || len(st.GIDMap) == 0) {
		t.refuse("linux.uidMappings", "a new user namespace needs uid and gid mappings")
	}
	joinsUser := len(joinUser) > 0
	switch {
	case (len(st.UIDMap) > 0 || len(st.GIDMap) > 0) && joinsUser:
		// They describe the user namespace joined (runc asks for
		// them): it is mapped already.
		st.UIDMap, st.GIDMap = nil, nil
	case (len(st.UIDMap) > 0 || len(st.GIDMap) > 0) && st.CloneFlags&unix.CLONE_NEWUSER == 0:
		t.refuse("linux.uidMappings", "id mappings without a new user namespace")
	}
	if len(l.UIDMappings) > 0 && l.UIDMappings[0].Size == 0 || len(l.GIDMappings) > 0 && l.GIDMappings[0].Size == 0 {
		t.refuse("linux.uidMappings", "a mapping of size 0")
	}
	// socket activation: the command is pid 2 of the container's PID
	// namespace (sbx's init is pid 1), so a LISTEN_PID=1 meant for it
	// names pid 2.
	if st.CloneFlags&unix.CLONE_NEWPID != 0 {
		for i, e := range t.p.Process.Env {
			if e == "LISTEN_PID=1" {
				t.p.Process.Env[i] = "LISTEN_PID=2"
			}
		}
	}
	t.p.Masked, t.p.ReadOnly = slices.Clone(l.MaskedPaths), slices.Clone(l.ReadonlyPaths)
	// Checked against the namespaces by the runtime: kept as they are
	// here, in a stable order.
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
	if r := l.Resources; r != nil {
		t.resources(r)
	}
	t.c.CgroupsPath = l.CgroupsPath
	if l.MountLabel != "" {
		t.lsm("linux.mountLabel", l.MountLabel, t.host.SELinux, "SELinux")
	}
	switch l.RootfsPropagation {
	case "", "private", "rprivate", "slave", "rslave":
	default:
		t.refuse("linux.rootfsPropagation", l.RootfsPropagation+": sbx never lets mounts propagate to the host")
	}
	for _, f := range []struct {
		set  bool
		path string
	}{
		{len(l.Devices) > 0, "linux.devices"}, {l.IntelRdt != nil, "linux.intelRdt"},
		{l.Personality != nil, "linux.personality"},
		{l.TimeOffsets != nil, "linux.timeOffsets"}, {l.MemoryPolicy != nil, "linux.memoryPolicy"},
		{len(l.NetDevices) > 0, "linux.netDevices"},
	} {
		if f.set {
			t.refuse(f.path, "not supported yet")
		}
	}
}

// resources takes the limits sbx's cgroup v2 backends have. Device rules
// are accepted: a container's /dev holds sbx's safe devices and what the
// config binds, which is what the allow lists clients send permit.
func (t *translator) resources(r *specs.LinuxResources) {
	res := &t.p.Resources
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit > 0 {
			res.Memory = *m.Limit
		}
		if m.Swap != nil && *m.Swap != 0 {
			res.MemorySwap = *m.Swap
		}
		if m.Reservation != nil && *m.Reservation > 0 {
			res.MemoryReservation = *m.Reservation
		}
		if m.Kernel != nil || m.KernelTCP != nil || m.Swappiness != nil || m.DisableOOMKiller != nil {
			t.refuse("linux.resources.memory", "only limit, swap and reservation are supported")
		}
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil && *c.Quota > 0 {
			res.CPUQuota = uint64(*c.Quota)
			res.CPUPeriod = 100000
			if c.Period != nil && *c.Period > 0 {
				res.CPUPeriod = *c.Period
			}
		}
		// cpu.shares 1024 is cgroup v1's default: weight 100, v2's.
		if c.Shares != nil && *c.Shares != 0 && *c.Shares != 1024 {
			res.CPUWeight = 1 + ((*c.Shares-2)*9999)/262142
		}
		res.CpusetCpus = c.Cpus
		if c.Mems != "" || c.RealtimePeriod != nil || c.RealtimeRuntime != nil || c.Idle != nil || c.Burst != nil {
			t.refuse("linux.resources.cpu", "only shares, quota, period and cpus are supported")
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit > 0 {
		res.PidsLimit = *p.Limit
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil && *b.Weight > 0 {
			// v1's 10..1000 onto v2's 1..10000, as crun maps it.
			res.IOWeight = 1 + (uint64(*b.Weight)-10)*9999/990
		}
		if len(b.WeightDevice)+len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+
			len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) > 0 || b.LeafWeight != nil {
			t.refuse("linux.resources.blockIO", "only weight is supported")
		}
	}
	for _, f := range []struct {
		set  bool
		path string
	}{
		{len(r.HugepageLimits) > 0, "linux.resources.hugepageLimits"}, {r.Network != nil, "linux.resources.network"},
		{len(r.Rdma) > 0, "linux.resources.rdma"}, {len(r.Unified) > 0, "linux.resources.unified"},
	} {
		if f.set {
			t.refuse(f.path, "not supported yet")
		}
	}
}

// hooks keeps the hooks: the runtime runs those of the host, the Go init
// startContainer's in the container; createContainer's (in the container's
// namespaces before its root is pivoted to) are refused for now.
func (t *translator) hooks(h *specs.Hooks) {
	if h == nil {
		return
	}
	if len(h.CreateContainer) > 0 {
		t.refuse("hooks.createContainer", "not supported yet")
	}

	for _, set := range []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"startContainer", h.StartContainer},
		{"poststart", h.Poststart}, {"poststop", h.Poststop},
	} {
		for i, k := range set.hooks {
			if !filepath.IsAbs(k.Path) {
				t.refuse(fmt.Sprintf("hooks.%s[%d].path", set.name, i), "must be an absolute path")
			}
		}
	}
	t.c.Hooks = h
}

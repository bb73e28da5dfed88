package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/cgroupv2"
	"github.com/sbx-sandbox/sbx/network"
	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/state"
)

// Description is what `sbx state` prints of a sandbox: its record, with
// its plan as an OCI runtime spec (sbx's own view operations as mount types
// of sbx's, "sbx-dev", "sbx-cover", ...). The spec is made here, for people
// and tools that read OCI; sbx itself never reads it back.
type Description struct {
	Name   string `json:"name"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	// ExitCode is an exited detached sandbox's, when known.
	ExitCode   *int              `json:"exit_code,omitempty"`
	Created    time.Time         `json:"created"`
	Command    []string          `json:"command"`
	Detached   bool              `json:"detached"`
	StartTime  uint64            `json:"start_time"`
	Namespaces map[string]string `json:"namespaces"`
	// Cgroup is the sandbox's cgroup and, while it runs, its usage.
	Cgroup *CgroupDescription `json:"cgroup,omitempty"`
	// Network is the sandbox's network (--net, -p, --dns, --add-host).
	Network *NetworkDescription `json:"network,omitempty"`
	Config  *specs.Spec         `json:"config"`
}

// NetworkDescription is a sandbox's network in `sbx state`.
type NetworkDescription struct {
	// Mode is as --net names it: none, host, pasta, slirp4netns or
	// sandbox:NAME.
	Mode string `json:"mode"`
	// Address, Gateway and DNS are those of a user-mode network.
	Address string `json:"address,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	// AllowHostLoopback, MTU and IPv6 are the helper's options.
	AllowHostLoopback bool   `json:"allow_host_loopback,omitempty"`
	MTU               uint32 `json:"mtu,omitempty"`
	IPv6              bool   `json:"ipv6,omitempty"`
	// Ports are the published ports, as podman shows them
	// ("127.0.0.1:8080->80/tcp").
	Ports []string `json:"ports,omitempty"`
	// DNS are the name servers of its /etc/resolv.conf, when sbx wrote
	// one; Hosts the --add-host entries (NAME:IP).
	DNS   []string `json:"dns,omitempty"`
	Hosts []string `json:"hosts,omitempty"`
}

// describeNetwork renders n for `sbx state`.
func describeNetwork(n plan.Network) *NetworkDescription {
	d := &NetworkDescription{Mode: n.Mode, Hosts: n.Hosts}
	switch {
	case n.Mode == "":
		d.Mode = plan.NetNone
	case n.Mode == plan.NetSandbox:
		d.Mode = plan.NetSandbox + ":" + n.Sandbox
	case n.UserMode():
		d.Address = network.Address + "/" + strconv.Itoa(network.PrefixLen)
		d.Gateway = network.Gateway
		d.AllowHostLoopback, d.MTU, d.IPv6 = n.AllowHostLoopback, n.MTU, n.IPv6
	}
	d.DNS = n.DNS
	if len(d.DNS) == 0 && n.UserMode() {
		d.DNS = []string{network.DNSForwarder}
	}
	for _, p := range n.Ports {
		d.Ports = append(d.Ports, p.String())
	}
	return d
}

// CgroupDescription is a sandbox's cgroup in `sbx state`, with its usage
// while it runs.
type CgroupDescription struct {
	// Path is the cgroup's path in the hierarchy (under /sys/fs/cgroup).
	Path string `json:"path"`
	// Unit is the systemd scope it is in, if any.
	Unit string `json:"unit,omitempty"`
	*cgroupv2.UsageReport
}

// Describe returns the description of a sandbox's record.
func Describe(s *state.State) *Description {
	d := &Description{
		Name: s.Name, Pid: s.Pid, Status: s.Status, ExitCode: s.ExitCode, Created: s.Created.UTC(),
		Command: s.Command(), Detached: s.Detached, StartTime: s.StartTime,
		Namespaces: map[string]string{},
	}
	if d.Command == nil {
		d.Command = []string{}
	}
	if s.Pid > 0 {
		for _, n := range nsexec.Namespaces {
			d.Namespaces[n.Name] = fmt.Sprintf("/proc/%d/ns/%s", s.Pid, n.Name)
		}
	}
	if s.Plan != nil {
		d.Config = ociSpec(s.Plan)
		d.Network = describeNetwork(s.Plan.Network)
	}
	if cg := CgroupOf(s); cg != nil {
		d.Cgroup = &CgroupDescription{Path: strings.TrimPrefix(cg.Dir, cgroupv2.Mount), Unit: cg.Unit}
		if d.Config != nil {
			d.Config.Linux.CgroupsPath = d.Cgroup.Path
		}
		if u, err := cg.Usage(); err == nil && s.Status == state.Running {
			d.Cgroup.UsageReport = u.Report()
		}
	}
	return d
}

// ociSpec renders a plan as an OCI runtime spec.
func ociSpec(p *plan.Plan) *specs.Spec {
	sec := &p.Security
	spec := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: p.Process.Terminal,
			User:     specs.User{UID: p.Process.UID, GID: p.Process.GID},
			Args:     p.Process.Args,
			Env:      p.Process.Env,
			Cwd:      p.Process.Cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:    capabilities.Names(sec.Caps.Bounding),
				Effective:   capabilities.Names(sec.Caps.Effective),
				Permitted:   capabilities.Names(sec.Caps.Permitted),
				Inheritable: capabilities.Names(sec.Caps.Inheritable),
				Ambient:     capabilities.Names(sec.Caps.Ambient),
			},
			NoNewPrivileges: sec.NoNewPrivs,
		},
		Root:     &specs.Root{Path: p.Root.Path, Readonly: p.Root.ReadOnly},
		Hostname: p.Hostname,
		Linux: &specs.Linux{
			MaskedPaths:   p.Masked,
			ReadonlyPaths: p.ReadOnly,
		},
	}
	for _, r := range p.Process.Rlimits {
		spec.Process.Rlimits = append(spec.Process.Rlimits, specs.POSIXRlimit{Type: rlimitType(r), Soft: r.Soft, Hard: r.Hard})
	}
	for _, m := range p.Mounts {
		spec.Mounts = append(spec.Mounts, ociMount(m))
	}
	for _, ns := range nsexec.Namespaces {
		if p.Stages.CloneFlags&ns.Flag != 0 {
			spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: ociNamespace(ns.Name)})
		}
	}
	for _, m := range p.Stages.UIDMap {
		spec.Linux.UIDMappings = append(spec.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: m.Inside, HostID: m.Outside, Size: m.Count})
	}
	for _, m := range p.Stages.GIDMap {
		spec.Linux.GIDMappings = append(spec.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: m.Inside, HostID: m.Outside, Size: m.Count})
	}
	spec.Linux.Resources = ociResources(p.Resources)
	spec.Annotations = map[string]string{}
	switch sec.SeccompProfile {
	case "builtin":
		spec.Annotations["sbx.seccomp"] = "builtin"
	case "":
		spec.Annotations["sbx.seccomp"] = "unconfined"
	default:
		spec.Annotations["sbx.seccomp"] = "file"
		spec.Annotations["sbx.seccomp-file"] = sec.SeccompProfile
	}
	if len(sec.Seccomp) > 0 {
		spec.Annotations["sbx.seccomp-instructions"] = strconv.Itoa(len(sec.Seccomp) / 8)
	}
	if len(sec.CapAdd) > 0 {
		spec.Annotations["sbx.cap-add"] = strings.Join(sec.CapAdd, ",")
	}
	if len(sec.CapDrop) > 0 {
		spec.Annotations["sbx.cap-drop"] = strings.Join(sec.CapDrop, ",")
	}
	if sec.Landlock != nil {
		spec.Annotations["sbx.landlock"] = "true"
	}
	if sec.AllowUserns {
		spec.Annotations["sbx.allow-userns"] = "true"
	}
	return spec
}

// ociResources renders the cgroup limits as OCI resources (nil for none).
func ociResources(r plan.Resources) *specs.LinuxResources {
	if !r.Any() {
		return nil
	}
	o := &specs.LinuxResources{}
	if r.Memory != 0 || r.MemorySwap != 0 || r.MemoryReservation != 0 {
		o.Memory = &specs.LinuxMemory{}
		if r.Memory != 0 {
			o.Memory.Limit = &r.Memory
		}
		if r.MemorySwap != 0 {
			o.Memory.Swap = &r.MemorySwap
		}
		if r.MemoryReservation != 0 {
			o.Memory.Reservation = &r.MemoryReservation
		}
	}
	if r.PidsLimit != 0 {
		o.Pids = &specs.LinuxPids{Limit: &r.PidsLimit}
	}
	if r.CPUQuota != 0 || r.CPUWeight != 0 || r.CpusetCpus != "" {
		o.CPU = &specs.LinuxCPU{Cpus: r.CpusetCpus}
		if r.CPUQuota != 0 {
			quota := int64(r.CPUQuota)
			o.CPU.Quota, o.CPU.Period = &quota, &r.CPUPeriod
		}
		if r.CPUWeight != 0 {
			// OCI has cpu shares (v1); the weight goes as unified.
			o.Unified = map[string]string{"cpu.weight": strconv.FormatUint(r.CPUWeight, 10)}
		}
	}
	if r.IOWeight != 0 {
		if o.Unified == nil {
			o.Unified = map[string]string{}
		}
		o.Unified["io.weight"] = "default " + strconv.FormatUint(r.IOWeight, 10)
	}
	return o
}

// ociMount renders one view operation as an OCI mount.
func ociMount(m plan.Mount) specs.Mount {
	o := specs.Mount{Destination: m.Dst}
	tmpfsOpts := func() []string {
		opts := []string{"nosuid", "nodev"}
		if m.Mode != "" {
			opts = append(opts, "mode="+m.Mode)
		}
		if m.Size != "" {
			opts = append(opts, "size="+m.Size)
		}
		return opts
	}
	switch m.Kind {
	case plan.Bind:
		o.Type, o.Source = "bind", m.Src
		o.Options = []string{"rbind", "rw", "nosuid"}
		if m.ReadOnly {
			o.Options[1] = "ro"
		}
		if !m.Dev {
			o.Options = append(o.Options, "nodev")
		}
	case plan.Tmpfs:
		o.Type, o.Source, o.Options = "tmpfs", "tmpfs", tmpfsOpts()
	case plan.Proc:
		o.Type, o.Source, o.Options = "proc", "proc", []string{"nosuid", "nodev", "noexec"}
	case plan.Cgroup:
		o.Type, o.Source, o.Options = "cgroup2", "cgroup2", []string{"ro", "nosuid", "nodev", "noexec"}
	case plan.Overlay:
		o.Type, o.Source = "overlay", "overlay"
		// Overlayfs names the top layer first; the plan lists them
		// bottom first.
		lowers := slices.Clone(m.Lowers)
		slices.Reverse(lowers)
		o.Options = []string{"lowerdir=" + strings.Join(lowers, ":")}
	case plan.Cover:
		o.Type, o.Options = "sbx-cover", tmpfsOpts()
	case plan.Hide:
		o.Type = "sbx-hide"
		if m.Optional {
			o.Options = []string{"optional"}
		}
	case plan.Symlink:
		o.Type, o.Source = "sbx-symlink", m.Src
	case plan.File:
		o.Type, o.Options = "sbx-file", []string{"ro"}
	default:
		o.Type = "sbx-" + m.Kind.String()
	}
	return o
}

// ociNamespace is the OCI name of a /proc/PID/ns name.
func ociNamespace(name string) specs.LinuxNamespaceType {
	switch name {
	case "mnt":
		return specs.MountNamespace
	case "net":
		return specs.NetworkNamespace
	}
	return specs.LinuxNamespaceType(name)
}

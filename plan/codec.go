package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Encode returns the plan in the wire format.
func (p *Plan) Encode() []byte {
	var e Encoder
	p.encode(&e)
	return e.Bytes()
}

// EncodeStages returns the stages' part of the plan alone: what stage 0
// reads, which may go before the rest is planned.
func (p *Plan) EncodeStages() []byte {
	var e Encoder
	p.encodeStages(&e)
	return e.Bytes()
}

func (p *Plan) encode(e *Encoder) {
	p.encodeStages(e)
	p.encodeRest(e)
}

func (p *Plan) encodeStages(e *Encoder) {
	s := &p.Stages
	e.U32(attrCloneFlags, s.CloneFlags)
	if len(s.UIDMap) > 0 {
		e.String(attrUIDMap, FormatIDMap(s.UIDMap))
	}
	if len(s.GIDMap) > 0 {
		e.String(attrGIDMap, FormatIDMap(s.GIDMap))
	}
	e.StringIf(attrUIDMapHelper, s.UIDMapHelper)
	e.StringIf(attrGIDMapHelper, s.GIDMapHelper)
	e.Flag(attrSetgroupsDeny, s.SetgroupsDeny)
	e.U32If(attrPdeathsig, s.Pdeathsig)
	e.U32If(attrCloneMethod, s.CloneMethod)
	if s.JoinPidfd != 0 {
		e.U32(attrJoinPidfd, s.JoinPidfd)
		e.U32(attrJoinFlags, s.JoinFlags)
	}
	e.U32If(attrLogMax, s.LogMax)
	e.U32If(attrStampFD, s.StampFD)
	e.U32If(attrExitFD, s.ExitFD)
	e.U32If(attrHoldFD, s.HoldFD)
	for _, j := range s.Join {
		e.U64(attrJoinNS, uint64(j.FD)<<32|uint64(j.Flags))
	}
}

func (p *Plan) encodeRest(e *Encoder) {
	if p.Root.Path != "" {
		e.Nested(attrRoot, func(e *Encoder) {
			e.String(rootPath, p.Root.Path)
			e.Flag(rootReadOnly, p.Root.ReadOnly)
			e.Flag(rootSuid, p.Root.Suid)
			e.Flag(rootDev, p.Root.Dev)
			e.Flag(rootROLate, p.Root.ReadOnlyLate)
			e.Flag(rootOverlay, p.Root.Overlay)
		})
	}
	for i := range p.Mounts {
		m := &p.Mounts[i]
		e.Nested(attrMount, func(e *Encoder) {
			e.U32(mountKind, uint32(m.Kind))
			e.StringIf(mountSrc, m.Src)
			e.String(mountDst, m.Dst)
			e.Flag(mountReadOnly, m.ReadOnly)
			e.Flag(mountDev, m.Dev)
			e.Flag(mountOptional, m.Optional)
			e.StringIf(mountSize, m.Size)
			e.StringIf(mountMode, m.Mode)
			e.Strings(mountLower, m.Lowers)
			e.StringIf(mountData, m.Data)
			e.Flag(mountSuid, m.Suid)
			e.Flag(mountNoExec, m.NoExec)
			e.Flag(mountFlat, m.Flat)
			e.Flag(mountCopyUp, m.CopyUp)
		})
	}
	e.Strings(attrMasked, p.Masked)
	e.Strings(attrReadOnlyPath, p.ReadOnly)
	for _, s := range p.Sources {
		e.Nested(attrSource, func(e *Encoder) {
			e.String(sourcePath, s.Path)
			e.U64(sourceDev, s.Dev)
			e.U64(sourceIno, s.Ino)
		})
	}
	e.StringIf(attrHostname, p.Hostname)
	for _, h := range p.StartHooks {
		e.Nested(attrStartHook, func(e *Encoder) {
			e.String(hookPath, h.Path)
			e.Strings(hookArg, h.Args)
			e.Strings(hookEnv, h.Env)
			e.U32If(hookTimeout, h.TimeoutSec)
		})
	}
	e.StringIf(attrHookState, p.HookState)

	pr := &p.Process
	e.Strings(attrArg, pr.Args)
	e.Strings(attrEnv, pr.Env)
	e.StringIf(attrCwd, pr.Cwd)
	e.U32(attrUID, pr.UID)
	e.U32(attrGID, pr.GID)
	e.Flag(attrGIDPasswd, pr.GIDFromPasswd)
	e.Flag(attrTerminal, pr.Terminal)
	e.U32If(attrPreserveFDs, pr.PreserveFDs)
	e.Flag(attrGroupsSet, pr.AdditionalGids != nil)
	for _, g := range pr.AdditionalGids {
		e.U32(attrGroup, g)
	}
	if pr.SetUmask {
		e.U32(attrUmask, pr.Umask)
	}
	e.U32If(attrStartGate, pr.StartGate)
	e.U32If(attrConsoleSize, uint32(pr.ConsoleRows)<<16|uint32(pr.ConsoleCols))
	for _, r := range pr.Rlimits {
		e.Nested(attrRlimit, func(e *Encoder) {
			e.U32(rlimitResource, r.Resource)
			e.U64(rlimitSoft, r.Soft)
			e.U64(rlimitHard, r.Hard)
		})
	}

	sec := &p.Security
	e.Nested(attrCaps, func(e *Encoder) {
		e.U64(capsBounding, sec.Caps.Bounding)
		e.U64(capsEffective, sec.Caps.Effective)
		e.U64(capsPermitted, sec.Caps.Permitted)
		e.U64(capsInheritable, sec.Caps.Inheritable)
		e.U64(capsAmbient, sec.Caps.Ambient)
	})
	e.Strings(attrCapAdd, sec.CapAdd)
	e.Strings(attrCapDrop, sec.CapDrop)
	e.Flag(attrNoNewPrivs, sec.NoNewPrivs)
	if len(sec.Seccomp) > 0 {
		e.Raw(attrSeccomp, sec.Seccomp)
	}
	e.StringIf(attrSeccompFrom, sec.SeccompProfile)
	if sec.Landlock != nil {
		e.Nested(attrLandlock, func(e *Encoder) {
			for _, r := range sec.Landlock {
				e.Nested(landlockRuleAttr, func(e *Encoder) {
					e.String(landlockPath, r.Path)
					e.Flag(landlockWritable, r.Writable)
					e.Flag(landlockDev, r.Dev)
					e.Flag(landlockIfExists, r.IfExists)
				})
			}
		})
	}
	e.Flag(attrAllowUserns, sec.AllowUserns)

	if r := &p.Resources; r.Any() {
		e.Nested(attrResources, func(e *Encoder) {
			u64If := func(t uint16, v uint64) {
				if v != 0 {
					e.U64(t, v)
				}
			}
			u64If(resMemory, uint64(r.Memory))
			u64If(resMemorySwap, uint64(r.MemorySwap))
			u64If(resMemoryReservation, uint64(r.MemoryReservation))
			u64If(resPidsLimit, uint64(r.PidsLimit))
			u64If(resCPUQuota, r.CPUQuota)
			u64If(resCPUPeriod, r.CPUPeriod)
			u64If(resCPUWeight, r.CPUWeight)
			e.StringIf(resCpusetCpus, r.CpusetCpus)
			u64If(resIOWeight, r.IOWeight)
		})
	}
	e.Strings(attrSysctl, p.Sysctls)
	if n := &p.Network; n.Mode != "" {
		e.Nested(attrNetwork, func(e *Encoder) {
			e.String(netMode, n.Mode)
			e.StringIf(netSandbox, n.Sandbox)
			e.Flag(netAllowHostLoopback, n.AllowHostLoopback)
			e.U32If(netMTU, n.MTU)
			e.Flag(netIPv6, n.IPv6)
			for _, pt := range n.Ports {
				e.Nested(netPort, func(e *Encoder) {
					e.StringIf(portHostIP, pt.HostIP)
					e.U32(portHostPort, uint32(pt.HostPort))
					e.U32(portPort, uint32(pt.Port))
					e.String(portProto, pt.Proto)
				})
			}
			e.Strings(netDNS, n.DNS)
			e.Strings(netHost, n.Hosts)
		})
	}
}

// Decode reads a plan in the wire format.
func Decode(data []byte) (*Plan, error) {
	if len(data) == 0 {
		return nil, errEmpty
	}
	p := &Plan{}
	d := NewDecoder(data)
	for d.Next() {
		p.decodeAttr(d)
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	return p, nil
}

// decodeAttr takes in one top-level attribute of a plan.
func (p *Plan) decodeAttr(d *Decoder) {
	s, pr, sec := &p.Stages, &p.Process, &p.Security
	switch d.Type() {
	case attrCloneFlags:
		s.CloneFlags = d.U32()
	case attrUIDMap, attrGIDMap:
		m, err := ParseIDMap(d.String())
		if err != nil {
			d.fail("an id map")
		}
		if d.Type() == attrUIDMap {
			s.UIDMap = m
		} else {
			s.GIDMap = m
		}
	case attrUIDMapHelper:
		s.UIDMapHelper = d.String()
	case attrGIDMapHelper:
		s.GIDMapHelper = d.String()
	case attrSetgroupsDeny:
		s.SetgroupsDeny = d.Bool()
	case attrPdeathsig:
		s.Pdeathsig = d.U32()
	case attrCloneMethod:
		s.CloneMethod = d.U32()
	case attrJoinPidfd:
		s.JoinPidfd = d.U32()
	case attrJoinFlags:
		s.JoinFlags = d.U32()
	case attrLogMax:
		s.LogMax = d.U32()
	case attrStampFD:
		s.StampFD = d.U32()
	case attrExitFD:
		s.ExitFD = d.U32()
	case attrHoldFD:
		s.HoldFD = d.U32()
	case attrJoinNS:
		v := d.U64()
		s.Join = append(s.Join, NamespaceJoin{FD: uint32(v >> 32), Flags: uint32(v)})
	case attrRoot:
		d.Each(func(n *Decoder) bool {
			switch n.Type() {
			case rootPath:
				p.Root.Path = n.String()
			case rootReadOnly:
				p.Root.ReadOnly = n.Bool()
			case rootSuid:
				p.Root.Suid = n.Bool()
			case rootDev:
				p.Root.Dev = n.Bool()
			case rootROLate:
				p.Root.ReadOnlyLate = n.Bool()
			case rootOverlay:
				p.Root.Overlay = n.Bool()
			default:
				return false
			}
			return true
		})
	case attrMount:
		p.Mounts = append(p.Mounts, decodeMount(d))
	case attrMasked:
		p.Masked = append(p.Masked, d.String())
	case attrReadOnlyPath:
		p.ReadOnly = append(p.ReadOnly, d.String())
	case attrSource:
		var src Source
		d.Each(func(n *Decoder) bool {
			switch n.Type() {
			case sourcePath:
				src.Path = n.String()
			case sourceDev:
				src.Dev = n.U64()
			case sourceIno:
				src.Ino = n.U64()
			default:
				return false
			}
			return true
		})
		p.Sources = append(p.Sources, src)
	case attrHostname:
		p.Hostname = d.String()
	case attrStartHook:
		var h Hook
		d.Each(func(n *Decoder) bool {
			switch n.Type() {
			case hookPath:
				h.Path = n.String()
			case hookArg:
				h.Args = append(h.Args, n.String())
			case hookEnv:
				h.Env = append(h.Env, n.String())
			case hookTimeout:
				h.TimeoutSec = n.U32()
			default:
				return false
			}
			return true
		})
		p.StartHooks = append(p.StartHooks, h)
	case attrHookState:
		p.HookState = d.String()
	case attrArg:
		pr.Args = append(pr.Args, d.String())
	case attrEnv:
		pr.Env = append(pr.Env, d.String())
	case attrCwd:
		pr.Cwd = d.String()
	case attrUID:
		pr.UID = d.U32()
	case attrGID:
		pr.GID = d.U32()
	case attrGIDPasswd:
		pr.GIDFromPasswd = d.Bool()
	case attrTerminal:
		pr.Terminal = d.Bool()
	case attrPreserveFDs:
		pr.PreserveFDs = d.U32()
	case attrGroup:
		pr.AdditionalGids = append(pr.AdditionalGids, d.U32())
	case attrGroupsSet:
		if d.Bool() && pr.AdditionalGids == nil {
			pr.AdditionalGids = []uint32{}
		}
	case attrUmask:
		pr.Umask, pr.SetUmask = d.U32(), true
	case attrStartGate:
		pr.StartGate = d.U32()
	case attrConsoleSize:
		v := d.U32()
		pr.ConsoleRows, pr.ConsoleCols = uint16(v>>16), uint16(v)
	case attrRlimit:
		var r Rlimit
		d.Each(func(n *Decoder) bool {
			switch n.Type() {
			case rlimitResource:
				r.Resource = n.U32()
			case rlimitSoft:
				r.Soft = n.U64()
			case rlimitHard:
				r.Hard = n.U64()
			default:
				return false
			}
			return true
		})
		pr.Rlimits = append(pr.Rlimits, r)
	case attrCaps:
		d.Each(func(n *Decoder) bool {
			var set *uint64
			switch n.Type() {
			case capsBounding:
				set = &sec.Caps.Bounding
			case capsEffective:
				set = &sec.Caps.Effective
			case capsPermitted:
				set = &sec.Caps.Permitted
			case capsInheritable:
				set = &sec.Caps.Inheritable
			case capsAmbient:
				set = &sec.Caps.Ambient
			default:
				return false
			}
			*set = n.U64()
			return true
		})
	case attrCapAdd:
		sec.CapAdd = append(sec.CapAdd, d.String())
	case attrCapDrop:
		sec.CapDrop = append(sec.CapDrop, d.String())
	case attrNoNewPrivs:
		sec.NoNewPrivs = d.Bool()
	case attrSeccomp:
		sec.Seccomp = append([]byte(nil), d.Bytes()...)
	case attrSeccompFrom:
		sec.SeccompProfile = d.String()
	case attrLandlock:
		sec.Landlock = []LandlockRule{}
		d.Each(func(n *Decoder) bool {
			if n.Type() != landlockRuleAttr {
				return false
			}
			var r LandlockRule
			n.Each(func(rn *Decoder) bool {
				switch rn.Type() {
				case landlockPath:
					r.Path = rn.String()
				case landlockWritable:
					r.Writable = rn.Bool()
				case landlockDev:
					r.Dev = rn.Bool()
				case landlockIfExists:
					r.IfExists = rn.Bool()
				default:
					return false
				}
				return true
			})
			sec.Landlock = append(sec.Landlock, r)
			return true
		})
	case attrAllowUserns:
		sec.AllowUserns = d.Bool()
	case attrResources:
		r := &p.Resources
		d.Each(func(n *Decoder) bool {
			switch n.Type() {
			case resMemory:
				r.Memory = int64(n.U64())
			case resMemorySwap:
				r.MemorySwap = int64(n.U64())
			case resMemoryReservation:
				r.MemoryReservation = int64(n.U64())
			case resPidsLimit:
				r.PidsLimit = int64(n.U64())
			case resCPUQuota:
				r.CPUQuota = n.U64()
			case resCPUPeriod:
				r.CPUPeriod = n.U64()
			case resCPUWeight:
				r.CPUWeight = n.U64()
			case resCpusetCpus:
				r.CpusetCpus = n.String()
			case resIOWeight:
				r.IOWeight = n.U64()
			default:
				return false
			}
			return true
		})
	case attrNetwork:
		p.Network = decodeNetwork(d)
	case attrSysctl:
		p.Sysctls = append(p.Sysctls, d.String())
	default:
		d.Unknown()
	}
}

func decodeMount(d *Decoder) Mount {
	var m Mount
	d.Each(func(n *Decoder) bool {
		switch n.Type() {
		case mountKind:
			m.Kind = Kind(n.U32())
			if m.Kind == 0 || m.Kind >= kindEnd {
				n.fail("a known mount kind")
			}
		case mountSrc:
			m.Src = n.String()
		case mountDst:
			m.Dst = n.String()
		case mountReadOnly:
			m.ReadOnly = n.Bool()
		case mountDev:
			m.Dev = n.Bool()
		case mountOptional:
			m.Optional = n.Bool()
		case mountSize:
			m.Size = n.String()
		case mountMode:
			m.Mode = n.String()
		case mountLower:
			m.Lowers = append(m.Lowers, n.String())
		case mountData:
			m.Data = n.String()
		case mountSuid:
			m.Suid = n.Bool()
		case mountNoExec:
			m.NoExec = n.Bool()
		case mountFlat:
			m.Flat = n.Bool()
		case mountCopyUp:
			m.CopyUp = n.Bool()
		default:
			return false
		}
		return true
	})
	if m.Kind == 0 {
		d.fail("a mount with a kind")
	}
	return m
}

func decodeNetwork(d *Decoder) Network {
	var nw Network
	d.Each(func(n *Decoder) bool {
		switch n.Type() {
		case netMode:
			nw.Mode = n.String()
		case netSandbox:
			nw.Sandbox = n.String()
		case netAllowHostLoopback:
			nw.AllowHostLoopback = n.Bool()
		case netMTU:
			nw.MTU = n.U32()
		case netIPv6:
			nw.IPv6 = n.Bool()
		case netPort:
			var pt Port
			n.Each(func(pn *Decoder) bool {
				switch pn.Type() {
				case portHostIP:
					pt.HostIP = pn.String()
				case portHostPort:
					pt.HostPort = uint16(pn.U32())
				case portPort:
					pt.Port = uint16(pn.U32())
				case portProto:
					pt.Proto = pn.String()
				default:
					return false
				}
				return true
			})
			nw.Ports = append(nw.Ports, pt)
		case netDNS:
			nw.DNS = append(nw.DNS, n.String())
		case netHost:
			nw.Hosts = append(nw.Hosts, n.String())
		default:
			return false
		}
		return true
	})
	return nw
}

// FormatIDMap renders mappings as /proc/PID/uid_map takes them.
func FormatIDMap(m []IDMap) string {
	var sb strings.Builder
	for _, e := range m {
		sb.WriteString(strconv.FormatUint(uint64(e.Inside), 10))
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatUint(uint64(e.Outside), 10))
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatUint(uint64(e.Count), 10))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// ParseIDMap reads what FormatIDMap writes.
func ParseIDMap(s string) ([]IDMap, error) {
	var m []IDMap
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("id map line %q: want INSIDE OUTSIDE COUNT", line)
		}
		var v [3]uint32
		for i := range f {
			n, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("id map line %q: %w", line, err)
			}
			v[i] = uint32(n)
		}
		m = append(m, IDMap{Inside: v[0], Outside: v[1], Count: v[2]})
	}
	return m, nil
}

// Package plan is what one start of a sandbox is made of, decided on the
// host before any process starts: the typed Plan, and its one wire format
// (wire.go), which carries it to the C stages, to the Go init inside, and
// into the sandbox's record, from which sbx exec reads it back.
//
// The CLI turns flags into a sandbox.Config, the planner (package sandbox)
// turns those into a Plan, and nothing after the planner re-derives a
// decision: the stages create the namespaces and maps it names, the Go init
// (package inside) applies its view operations in order and takes on its
// process settings. OCI types appear only at the edges (reading --seccomp
// FILE, `sbx state` output; see oci.go).
package plan

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Plan is a sandbox's start, or a joining process's for sbx exec.
type Plan struct {
	// Stages is what the C stages read (nsexec): namespaces, id maps and
	// how this start is wired up.
	Stages Stages
	// Root is what becomes /.
	Root Root
	// Mounts are the view's operations, applied in order after the pivot
	// to Root.
	Mounts []Mount
	// Masked paths are covered with an empty, unreadable file or
	// directory, and ReadOnly paths bound read-only onto themselves,
	// where they exist (the OCI defaults for /proc and /sys).
	Masked, ReadOnly []string
	// Sources are the identities of every host path the view takes
	// something from, as the planner resolved them.
	Sources []Source
	// Hostname is the sandbox's.
	Hostname string
	// Process is the command and how it runs.
	Process Process
	// Security is what the command is confined by.
	Security Security
	// Resources are the sandbox's cgroup limits; the host applies them to
	// its cgroup before the stages start.
	Resources Resources
	// Network is how the sandbox reaches the network (--net, -p); the
	// host starts its helper between "pid 1 exists" and "pid 1 may go
	// on".
	Network Network
	// Sysctls are "KEY=VALUE" settings of namespaced sysctls (dotted
	// keys), written in the sandbox's own namespaces by the Go init.
	Sysctls []string
	// StartHooks run in the sandbox, in order, once it is started and
	// before the command (an OCI config's startContainer hooks), each
	// with HookState on its stdin.
	StartHooks []Hook
	HookState  string
}

// Hook is a program an OCI config runs at a point of the container's life.
type Hook struct {
	Path       string
	Args, Env  []string
	TimeoutSec uint32
}

// Network modes (--net).
const (
	// NetNone is a network namespace of the sandbox's own with only lo.
	NetNone = "none"
	// NetHost is no network namespace: the host's.
	NetHost = "host"
	// NetPasta and NetSlirp4netns are a network namespace with a
	// user-mode network stack, the helper of that name, started per
	// sandbox.
	NetPasta       = "pasta"
	NetSlirp4netns = "slirp4netns"
	// NetSandbox joins the network namespace (and so the user namespace)
	// of the running named sandbox Network.Sandbox.
	NetSandbox = "sandbox"
)

// Network is a sandbox's network: its mode, the helper's options, the
// published ports and the names it resolves.
type Network struct {
	// Mode is one of the Net* modes; "" is NetNone.
	Mode string
	// Sandbox names the sandbox whose network a NetSandbox joins.
	Sandbox string
	// AllowHostLoopback lets the sandbox reach the host's loopback
	// through the gateway address (user-mode modes).
	AllowHostLoopback bool
	// MTU of the sandbox's interface (user-mode modes).
	MTU uint32
	// IPv6 turns on IPv6 in the helper (user-mode modes).
	IPv6 bool
	// Ports are forwarded from the host to the sandbox (-p).
	Ports []Port
	// DNS are the name servers of the sandbox's /etc/resolv.conf (--dns).
	DNS []string
	// Hosts are extra /etc/hosts entries, "NAME:IP" (--add-host).
	Hosts []string
}

// UserMode reports whether a helper gives the sandbox its network.
func (n Network) UserMode() bool { return n.Mode == NetPasta || n.Mode == NetSlirp4netns }

// Port is one published port: the host's HostIP:HostPort (HostIP ""
// for every address) forwarded to the sandbox's Port.
type Port struct {
	HostIP   string
	HostPort uint16
	Port     uint16
	// Proto is "tcp" or "udp".
	Proto string
}

// String renders p as podman's ps does: "127.0.0.1:8080->80/tcp".
func (p Port) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	return ip + ":" + strconv.Itoa(int(p.HostPort)) + "->" + strconv.Itoa(int(p.Port)) + "/" + p.Proto
}

// Resources are cgroup v2 limits, in podman's terms; a zero field is no
// limit asked.
type Resources struct {
	// Memory is memory.max in bytes.
	Memory int64
	// MemorySwap is memory and swap together, in bytes (podman's
	// --memory-swap; memory.swap.max is MemorySwap - Memory); -1: no
	// limit on swap.
	MemorySwap int64
	// MemoryReservation is memory.low in bytes.
	MemoryReservation int64
	// PidsLimit is pids.max; -1: no limit.
	PidsLimit int64
	// CPUQuota is the run time in microseconds the sandbox may have in
	// each CPUPeriod (cpu.max).
	CPUQuota, CPUPeriod uint64
	// CPUWeight is cpu.weight (1 to 10000).
	CPUWeight uint64
	// CpusetCpus is cpuset.cpus ("0-3,6").
	CpusetCpus string
	// IOWeight is the default of io.weight (1 to 10000).
	IOWeight uint64
}

// Any reports whether a limit is asked.
func (r Resources) Any() bool { return r != Resources{} }

// Stages holds what the C stages read; attribute numbers below 64 (see
// nsexec/sbxwire.h).
type Stages struct {
	// CloneFlags are the CLONE_NEW* namespaces to create.
	CloneFlags uint32
	// UIDMap and GIDMap are written for stage 1.
	UIDMap, GIDMap []IDMap
	// UIDMapHelper and GIDMapHelper, if set, are the paths of newuidmap
	// and newgidmap; otherwise stage 0 writes the maps itself.
	UIDMapHelper, GIDMapHelper string
	// SetgroupsDeny writes "deny" to /proc/PID/setgroups first.
	SetgroupsDeny bool
	// Pdeathsig is the signal the sandbox's pid 1 gets when the sbx
	// parent dies; 0 lets the sandbox outlive it (detached).
	Pdeathsig uint32
	// CloneMethod is how stage 2 makes its unwritable copy of the binary
	// (clonedbinary.Auto, Bind or Memfd).
	CloneMethod uint32
	// JoinPidfd, if not 0, is the descriptor number in stage 0 of a pidfd
	// of the sandbox's pid 1: stage 0 joins its namespaces in JoinFlags
	// instead of creating any (sbx exec).
	JoinPidfd, JoinFlags uint32
	// LogMax, if not 0, has pid 1 relay the command's output to its log,
	// kept under LogMax bytes (a detached sandbox).
	LogMax uint32
	// StampFD, if not 0, is the descriptor number in stage 0 that time
	// stamps of each step go to (package stamp; make bench).
	StampFD uint32
	// ExitFD, if not 0, is the descriptor number in stage 0 of a file of
	// the record that pid 1 writes the command's exit code to when it
	// ends (a detached sandbox: no sbx reaps it).
	ExitFD uint32
	// HoldFD, if not 0, is the descriptor number in stage 0 of one that
	// the sandbox's pid 1 holds, unused, until it exits, out of reach of
	// the command: the read end of the pipe whose write end the
	// sandbox's host services (package desktop: the session bus proxy)
	// watch, each ending when it closes, however the sandbox ends.
	HoldFD uint32
	// Join are namespaces stage 1 joins, in order (a user namespace
	// first), instead of creating them: --net sandbox:NAME joins the
	// other sandbox's user and network namespaces through a pidfd of its
	// pid 1; an OCI config joins namespaces by path.
	Join []NamespaceJoin
}

// NamespaceJoin is a descriptor number in stage 0 (a pidfd, or a
// namespace's file) and the CLONE_NEW* namespaces to join through it.
type NamespaceJoin struct {
	FD, Flags uint32
}

// IDMap is one line of /proc/PID/uid_map or gid_map.
type IDMap struct {
	Inside, Outside, Count uint32
}

// Root is the tree that becomes the sandbox's /.
type Root struct {
	// Path is a host directory without links (a Source).
	Path     string
	ReadOnly bool
	// Suid and Dev leave setuid bits and device nodes of the root in
	// force (an OCI config: sbx run's root is nosuid and nodev).
	Suid, Dev bool
	// ReadOnlyLate makes a ReadOnly root read-only only once the view's
	// mounts are in place, so that their mount points are made in the
	// root's directory where they are missing, as runc does (an OCI
	// config; sbx run never writes to a --rootfs it was not asked to).
	ReadOnlyLate bool
	// Overlay makes the root an overlay of Path (the lower layer) with a
	// throwaway upper layer on a tmpfs, as an Overlay mount's: writable,
	// and nothing written reaches Path (--overlay-root); nosuid and nodev
	// whatever Suid and Dev say (sbx run sets neither).
	Overlay bool
}

// Kind is the kind of a view operation.
type Kind uint32

// The view operations. Every mount gets nosuid; nodev too, but for Dev and
// a Bind with Dev set.
const (
	// Bind clones the host tree at Src (a Source) onto Dst, submounts
	// included; ReadOnly and Dev as set.
	Bind Kind = 1 + iota
	// Tmpfs mounts a fresh tmpfs on Dst (Size, Mode).
	Tmpfs
	// Proc mounts the sandbox's own proc on Dst.
	Proc
	// Dev builds a minimal /dev on Dst: a tmpfs with the safe host
	// devices, a fresh devpts, /dev/shm and the usual links.
	Dev
	// Dir creates the directory Dst (and its parents) where the view is
	// writable.
	Dir
	// Symlink creates Dst as a link to Src.
	Symlink
	// Hide covers Dst with an empty, unreadable, read-only file or
	// directory of its kind; a missing Dst is an error unless Optional.
	Hide
	// Cover mounts a fresh tmpfs (Size, Mode) on the directory Dst, which
	// is created where the view is writable; missing and not creatable,
	// there is nothing to cover.
	Cover
	// Overlay mounts the Lowers (Sources, bottom first) on Dst with a
	// throwaway upper layer.
	Overlay
	// Cgroup mounts the sandbox's own cgroup2 hierarchy (its cgroup
	// namespace's: the sandbox's cgroup as the root), read-only, on Dst
	// where Dst exists.
	Cgroup
	// File puts a read-only file holding Data on Dst, a file created
	// where the view is writable (a private /etc/resolv.conf).
	File
	// Sysfs mounts a sysfs on Dst (read-only with ReadOnly), or, where
	// the kernel refuses one (a network namespace the sandbox does not
	// own), binds the host's /sys read-only.
	Sysfs
	// Mqueue mounts the sandbox's IPC namespace's POSIX message queue
	// filesystem on Dst.
	Mqueue
	kindEnd
)

var kindNames = [...]string{
	Bind: "bind", Tmpfs: "tmpfs", Proc: "proc", Dev: "dev", Dir: "dir",
	Symlink: "symlink", Hide: "hide", Cover: "cover", Overlay: "overlay",
	Cgroup: "cgroup", File: "file", Sysfs: "sysfs", Mqueue: "mqueue",
}

func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return "unknown"
}

// Mount is one view operation.
type Mount struct {
	Kind Kind
	// Src is the host source of a Bind, or the target of a Symlink.
	Src string
	// Dst is the path inside the sandbox.
	Dst string
	// ReadOnly and Dev apply to a Bind; Optional to a Hide.
	ReadOnly, Dev, Optional bool
	// Suid leaves setuid bits in force and NoExec forbids execution, on
	// a Bind, Tmpfs, Sysfs or Mqueue (OCI mount options: every sbx run
	// mount is nosuid).
	Suid, NoExec bool
	// Flat binds the source mount alone, without the mounts below it (an
	// OCI "bind"; "rbind" and sbx run's binds are recursive).
	Flat bool
	// CopyUp fills a Tmpfs with a copy of what the directory it covers
	// holds (runc's and crun's tmpcopyup option).
	CopyUp bool
	// Size and Mode of a Tmpfs or Cover, as tmpfs(5) takes them ("64m",
	// "25%"; "1777"); "" takes the kernel's default (half of RAM; 1777,
	// so the planner always sets a mode).
	Size, Mode string
	// Lowers are the layers of an Overlay, bottom first.
	Lowers []string
	// Data is the content of a File, or the devpts options of a Dev
	// ("gid=5,mode=620"; "" for sbx's own).
	Data string
}

// Source is a host path of the view (without links) and the identity of
// what the planner found there: the setup inside opens the path again
// without following links and checks that it is the same file.
type Source struct {
	Path     string
	Dev, Ino uint64
}

// Process is the command and how it runs.
type Process struct {
	Args []string
	Env  []string
	// Cwd is the working directory inside.
	Cwd      string
	UID, GID uint32
	// GIDFromPasswd takes the GID from UID's entry in the sandbox's
	// /etc/passwd, read inside, where it has one (sbx exec --uid N without
	// --gid); GID stays otherwise.
	GIDFromPasswd bool
	// Terminal gives the command a new pty (-t).
	Terminal bool
	// ConsoleRows and ConsoleCols, if not 0, size the pty from the start
	// (an OCI config's consoleSize).
	ConsoleRows, ConsoleCols uint16
	// PreserveFDs is how many descriptors from 3 on the command keeps.
	PreserveFDs uint32
	Rlimits     []Rlimit
	// AdditionalGids are the command's supplementary groups (an OCI
	// config); nil leaves sbx's rule (none where the namespace allows
	// dropping them).
	AdditionalGids []uint32
	// Umask, if set, is the command's umask (else the caller's).
	Umask    uint32
	SetUmask bool
	// StartGate, if not 0, is the descriptor number (in the Go init) of
	// the record's directory, whose FIFO "exec.fifo" the Go init opens
	// for writing once everything but the exec is done: the open waits
	// for the OCI start command to open it for reading (OCI create).
	StartGate uint32
}

// Rlimit is one resource limit (RLIMIT_* number).
type Rlimit struct {
	Resource   uint32
	Soft, Hard uint64
}

// RlimitNames are the resource limits by the names --ulimit takes, as
// docker and podman spell them.
var RlimitNames = map[string]uint32{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
	"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS,
	"memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE,
	"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS,
	"rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING,
	"stack": unix.RLIMIT_STACK,
}

// Name is the --ulimit name of the limit.
func (r Rlimit) Name() string {
	for name, res := range RlimitNames {
		if res == r.Resource {
			return name
		}
	}
	return "limit " + strconv.FormatUint(uint64(r.Resource), 10)
}

// RlimitValue renders a limit as --ulimit takes it.
func RlimitValue(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// Security is what the command is confined by.
type Security struct {
	// Caps are the command's capability sets.
	Caps Caps
	// CapAdd and CapDrop are the user's --cap-add and --cap-drop, kept so
	// that sbx exec as another uid gets the sets that uid would have.
	CapAdd, CapDrop []string
	NoNewPrivs      bool
	// Seccomp is the compiled filter (struct sock_filter array, native
	// byte order), installed right before the exec; empty for none.
	Seccomp []byte
	// SeccompProfile says where the filter came from, for people:
	// "builtin", a file's path, or "" (unconfined).
	SeccompProfile string
	// Landlock, if not nil, restricts the command's file access to these
	// rules (--landlock); an empty, non-nil list is the root only.
	Landlock []LandlockRule
	// AllowUserns leaves the sandbox able to create user namespaces.
	AllowUserns bool
}

// Caps are capability sets as bit masks (bit N: capability N).
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// LandlockRule grants access below Path: read, or read and write.
type LandlockRule struct {
	Path     string
	Writable bool
	// Dev adds ioctls on device files.
	Dev bool
	// IfExists skips the rule when Path is missing inside.
	IfExists bool
}

// Package sandbox is the host side of sbx: the planner, which turns the
// user's choices (Config) into one plan.Plan, and the launcher, which
// starts the C stages with it, hands it to the Go init inside (package
// inside), records the sandbox and waits for it (Run, Exec). Nothing in
// this package runs inside a sandbox.
package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/cgroupv2"
	"github.com/sbx-sandbox/sbx/desktop"
	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/seccomp"
	"github.com/sbx-sandbox/sbx/state"
	"github.com/sbx-sandbox/sbx/usermap"
)

// Config is the user's choices for a new sandbox, as the CLI collects
// them; NewPlan turns it into a plan.
type Config struct {
	Args []string
	// Name is the sandbox's --name, "" for an unnamed one.
	Name     string
	UID, GID *uint32
	// MapMode is --map: usermap.Default ("") when not given.
	MapMode  usermap.Mode
	Hostname string
	Env      []string // KEY=VAL, or KEY to copy the caller's value
	ClearEnv bool
	Workdir  string
	// Rootfs, if set, becomes / instead of the host's root, read-only
	// unless RootfsRW; with OverlayRoot, an overlay of it with a
	// throwaway upper layer, writable, the tree left as it is.
	Rootfs      string
	RootfsRW    bool
	OverlayRoot bool
	View        []ViewOp // applied in order, after the defaults
	Cwd         CwdMode
	TTY         bool
	// GitWritable leaves the .git/config and .git/hooks of a writable
	// bind (the working directory's among them) writable.
	GitWritable bool
	// Resources are the limits of the sandbox's cgroup, and
	// CgroupManager who makes that cgroup ("" is auto).
	Resources     plan.Resources
	CgroupManager cgroupv2.Manager
	// Network is the sandbox's network (package network parses it).
	Network plan.Network
	// Sysctls are --sysctl KEY=VALUE settings of namespaced sysctls.
	Sysctls []string
	// Shares are --share values: what the caller's desktop session
	// lends the sandbox (package desktop resolves them).
	Shares []desktop.Share
	// grant is what the shares give, once sbx run has resolved them and
	// started their services (their sockets are among its Ops then);
	// nil: planRest resolves them itself.
	grant *desktop.Grant

	Hardening
}

// bindsOverHome reports whether a share's operation binds a directory at
// the caller's home (--share home).
func bindsOverHome(op desktop.Op) bool {
	_, dst := splitSrcDst(op.Arg)
	return op.Kind == OpBind && isHome(dst)
}

// resolveShares resolves the shares of a sandbox from the caller's
// session.
func resolveShares(o Config) (*desktop.Grant, error) {
	var command string
	if len(o.Args) > 0 {
		command = o.Args[0]
	}
	return desktop.Resolve(o.Shares, desktop.Session{Getenv: os.Getenv, UID: os.Getuid(), Sandbox: o.Name, Command: command})
}

// Hardening are the security choices of a sandbox; the zero value is the
// safe default: no new privileges, no capabilities for an ordinary uid and
// podman's small set for uid 0, the built-in seccomp profile.
type Hardening struct {
	CapAdd, CapDrop []string
	// Seccomp is "" for the built-in profile, "unconfined" for none, or the
	// path of an OCI LinuxSeccomp JSON file.
	Seccomp string
	// Landlock restricts file access to the view's mounts and their modes.
	Landlock bool
	// AllowUserns lets the command create user namespaces (off by
	// default: the sandbox's max_user_namespaces is 0 and the seccomp
	// profile refuses them).
	AllowUserns bool
	// SeccompAllow names groups of calls the built-in profile refuses
	// that it allows again (seccomp.Optional: io_uring, vsock).
	SeccompAllow []string
	// seccompProfile is the --seccomp FILE once read (planStages).
	seccompProfile *specs.LinuxSeccomp
	// Ulimits are --ulimit NAME=SOFT[:HARD] settings.
	Ulimits []string
	// PreserveFDs passes descriptors 3 .. 3+PreserveFDs-1 to the command.
	PreserveFDs int
}

// SeccompUnconfined turns seccomp off.
const SeccompUnconfined = "unconfined"

// defaultNamespaces are created for every sandbox: all that sbx knows
// (nsexec/sbxwire.h).
var defaultNamespaces = func() uint32 {
	var flags uint32
	for _, ns := range nsexec.Namespaces {
		flags |= ns.Flag
	}
	return flags
}()

// internalEnv are variables of sbx's own that never reach the command.
var internalEnv = nsexec.InternalEnv

// NewPlan is the planner: it checks the configuration, resolves every host
// path it names, and returns the plan of the sandbox with the default view
// (host / read-only, fresh /proc, minimal /dev, fresh /tmp, the host's
// service sockets covered, the current directory bound read-write), the id
// maps and the security settings, the seccomp filter compiled; and the
// notes the user should read (one line each, for stderr).
func NewPlan(o Config) (*plan.Plan, []string, error) {
	p, err := planStages(&o)
	if err != nil {
		return nil, nil, err
	}
	notes, err := planRest(o, p)
	if err != nil {
		return nil, nil, err
	}
	return p, notes, nil
}

// planStages checks the command and decides the namespaces and the id
// maps: the part of the plan the stages read, which sbx run hands to stage
// 0 while it plans the rest (planRest), so that the setuid map helpers run
// meanwhile.
func planStages(o *Config) (*plan.Plan, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errors.New("no command given: put it after --, e.g. sbx run -- sh")
	}
	// Default ("") is --map not given: auto, falling back to single.
	if o.MapMode != usermap.Default {
		if _, err := usermap.ParseMode(string(o.MapMode)); err != nil {
			return nil, err
		}
	}
	// Before stage 0 starts, which gets them.
	if err := checkPreserveFDs(o.PreserveFDs); err != nil {
		return nil, err
	}
	// Read now, while a signal still ends sbx as it ends any program: the
	// file may be a FIFO that blocks the read until someone writes.
	if o.Seccomp != "" && o.Seccomp != SeccompUnconfined {
		profile, err := seccomp.LoadFile(o.Seccomp)
		if err != nil {
			return nil, err
		}
		o.seccompProfile = profile
	}
	req, err := usermap.Detect(o.MapMode, o.UID, o.GID)
	if err != nil {
		return nil, err
	}
	if o.Rootfs != "" {
		// The tree's owner tells how it was made (usermap.MatchTree);
		// a tree sbx cannot stat is refused with the planner's words
		// later (rootfsPath).
		var st unix.Stat_t
		if err := unix.Stat(o.Rootfs, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			req.MatchTree(o.Rootfs, st.Uid, st.Gid)
		}
	}
	maps, err := usermap.Build(req)
	if err != nil {
		return nil, err
	}
	flags := defaultNamespaces
	switch o.Network.Mode {
	case plan.NetHost:
		flags &^= unix.CLONE_NEWNET
	case plan.NetSandbox:
		// Stage 1 joins the other sandbox's user and network
		// namespaces (Stages.Join) instead.
		flags &^= unix.CLONE_NEWNET | unix.CLONE_NEWUSER
	}
	p := &plan.Plan{Network: o.Network, Stages: plan.Stages{
		CloneFlags:    flags,
		UIDMap:        maps.UIDMappings,
		GIDMap:        maps.GIDMappings,
		UIDMapHelper:  maps.UIDMapHelper,
		GIDMapHelper:  maps.GIDMapHelper,
		SetgroupsDeny: maps.SetgroupsDeny,
	}}
	p.Process.UID, p.Process.GID = req.UID, req.GID
	p.Process.PreserveFDs = uint32(o.PreserveFDs)
	return p, nil
}

// planRest plans the view, the rest of the process and its confinement
// into p, which planStages made; it returns the notes for the user.
func planRest(o Config, p *plan.Plan) ([]string, error) {
	hostname := o.Hostname
	if hostname == "" {
		hostname = "sbx"
	}
	if err := checkHostname(hostname); err != nil {
		return nil, err
	}
	grant := o.grant
	if grant == nil {
		var err error
		if grant, err = resolveShares(o); err != nil {
			return nil, err
		}
		if len(grant.Services) > 0 {
			return nil, fmt.Errorf("--share %s: %w", grant.Services[0].Name, errNoServices)
		}
	}
	// What the shares set comes first: --env wins.
	env, err := buildEnv(os.Environ(), append(grant.Env[:len(grant.Env):len(grant.Env)], o.Env...), o.ClearEnv)
	if err != nil {
		return nil, err
	}
	// The directory sbx runs in, as it is: its path without links, never
	// a path looked up again (another sandbox may swap one for a link).
	ids := sourceIDs{}
	cwd, _, err := ids.resolve("working directory", ".", ".")
	if err != nil {
		return nil, fmt.Errorf("the current directory: %w", err)
	}
	root := plan.Root{Path: "/", ReadOnly: true}
	if o.RootfsRW && o.OverlayRoot {
		return nil, errors.New("--overlay-root and --rootfs-rw: pick one (--overlay-root writes to a throwaway layer, --rootfs-rw to the tree itself)")
	}
	if o.Rootfs != "" {
		if root.Path, err = rootfsPath(o.Rootfs, ids); err != nil {
			return nil, err
		}
		// An overlay root is writable; its lower layer, the tree, is
		// never written (the upper layer is a tmpfs of the sandbox).
		root.ReadOnly = !o.RootfsRW && !o.OverlayRoot
		root.Overlay = o.OverlayRoot
	} else if o.RootfsRW {
		return nil, errors.New("--rootfs-rw needs --rootfs DIR: the host's root is always read-only")
	} else if o.OverlayRoot {
		return nil, errors.New("--overlay-root needs --rootfs DIR (the tree to lay the throwaway layer over): the host's root is always read-only")
	} else if _, _, err := ids.resolve("root", "/", "/"); err != nil {
		return nil, err
	}
	bindCwd := cwd != "/" && o.Cwd != CwdNone && (o.Rootfs == "" || o.Cwd == CwdReadOnly)
	cwdMode := o.Cwd
	notes := append([]string(nil), grant.Notes...)
	if bindCwd && cwdMode == CwdDefault && holdsHome(cwd) && !bindsWritable(o.View, cwd) {
		// A read-write home lets a sandbox append to ~/.bashrc and the
		// like, which the user's next shell runs outside it.
		cwdMode = CwdReadOnly
		// Unless a private home (--share home) takes its place.
		if !isHome(cwd) || !slices.ContainsFunc(grant.Ops, bindsOverHome) {
			notes = append(notes, fmt.Sprintf("the working directory %s is your home directory or holds it: bound read-only (--bind . makes it writable)", cwd))
		}
	}
	workdir := "/"
	if bindCwd {
		workdir = cwd
	}
	if o.Workdir != "" {
		if !filepath.IsAbs(o.Workdir) {
			return nil, fmt.Errorf("--workdir %q: the directory must be an absolute path inside the sandbox", o.Workdir)
		}
		workdir = filepath.Clean(o.Workdir)
	}

	p.Root, p.Hostname = root, hostname
	p.Mounts = []plan.Mount{
		{Kind: plan.Proc, Dst: "/proc"},
		{Kind: plan.Dev, Dst: "/dev"},
	}
	p.Masked, p.ReadOnly = maskedPaths, readonlyPaths
	if !o.ClearEnv {
		env = withPWD(env, o.Env, workdir)
		if o.Rootfs != "" {
			// What the shares set (HOME for --share home) stays, as
			// what --env sets does.
			env = foreignTreeEnv(env, append(grant.Env[:len(grant.Env):len(grant.Env)], o.Env...), root.Path, p.Process.UID)
		}
	}
	p.Process.Terminal, p.Process.Args, p.Process.Env, p.Process.Cwd = o.TTY, o.Args, env, workdir
	stateRoot := realPath(state.RootPath())
	covers := hostCovers(o.Rootfs != "", stateRoot)
	p.Mounts = append(p.Mounts, covers...)
	if o.Rootfs == "" {
		p.Mounts = append(p.Mounts, resolverBinds(covers, ids)...)
	}
	if bindCwd && within(cwd, stateRoot) {
		return nil, fmt.Errorf("the working directory %s is among sbx's records (%s), which a sandbox could then read or change: "+
			"run sbx from another directory, or use --no-cwd", cwd, stateRoot)
	}
	var cwdMounts []plan.Mount
	if bindCwd {
		if cwdMode != CwdReadOnly && within(stateRoot, cwd) && !coveredRightBelow(covers, stateRoot, cwd) {
			return nil, fmt.Errorf("the working directory %s holds sbx's records (%s), which a sandbox could then change: "+
				"run sbx from another directory, use --ro-cwd or --no-cwd, or set XDG_RUNTIME_DIR", cwd, stateRoot)
		}
		cwdBind := plan.Mount{Kind: plan.Bind, Src: cwd, Dst: cwd, ReadOnly: cwdMode == CwdReadOnly}
		cwdMounts = append(cwdMounts, cwdBind)
		// What the covers hid, the working directory must not show again.
		for _, c := range covers {
			if within(realPath(c.Dst), cwd) {
				cwdMounts = append(cwdMounts, c)
				if c.Dst == cwd && c.Kind != plan.Hide {
					notes = append(notes, fmt.Sprintf("the working directory %s is covered by a fresh, empty one, as always (--bind %s shares it)", cwd, cwd))
				}
			}
		}
		if !o.GitWritable {
			guards, err := gitGuards(cwdBind, ids)
			if err != nil {
				return nil, fmt.Errorf("the working directory: %w", err)
			}
			cwdMounts = append(cwdMounts, guards...)
		}
		p.Mounts = append(p.Mounts, cwdMounts...)
	}
	// addView adds the mounts of one view operation.
	addView := func(op ViewOp) (plan.Mount, error) {
		m, err := viewMount(op, ids)
		if err != nil {
			return m, err
		}
		if err := checkHidesRecords(op, m, stateRoot); err != nil {
			return m, err
		}
		p.Mounts = append(p.Mounts, m)
		if !o.GitWritable {
			guards, err := gitGuards(m, ids)
			if err != nil {
				return m, fmt.Errorf("--%s %q: %w", op.Kind, op.Arg, err)
			}
			p.Mounts = append(p.Mounts, guards...)
		}
		return m, nil
	}
	// The shares' operations go first: the view flags may cover them.
	for _, f := range grant.Files {
		p.Mounts = append(p.Mounts, plan.Mount{Kind: plan.File, Dst: f.Dst, Data: f.Data})
	}
	coversCwd := false
	// homeCover names the operation that covered the caller's home
	// directory itself, if one did (--tmpfs ~, --share home): a later
	// bind that shows all of it again (a profile's --ro-bind . run from
	// the home) undoes it, surely by mistake, and is refused.
	var homeCover string
	for _, op := range grant.Ops {
		m, err := addView(ViewOp{Kind: op.Kind, Arg: op.Arg})
		if errors.Is(err, errMissingTry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m.Kind == plan.Bind && isHome(m.Dst) {
			homeCover = "--share home"
		}
		dst := realPath(m.Dst)
		coversCwd = coversCwd || (dst != cwd && within(cwd, dst))
	}
	if coversCwd && len(cwdMounts) > 0 {
		// A share that covers the working directory (--share home, with
		// the directory below $HOME) does not take it away: it is
		// shared as always, bound again over the share.
		p.Mounts = append(p.Mounts, cwdMounts...)
	}
	for _, op := range o.View {
		m, err := addView(op)
		if errors.Is(err, errMissingTry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch {
		case m.Kind == plan.Bind && homeCover != "" && holdsHome(m.Src):
			return nil, fmt.Errorf("--%s %s: %s is or holds your home directory, which %s before it hides: "+
				"run from the directory of your files, or bind less", op.Kind, op.Arg, m.Src, homeCover)
		case m.Kind == plan.Overlay && homeCover != "" && slices.ContainsFunc(m.Lowers, holdsHome):
			return nil, fmt.Errorf("--%s %s: a layer is or holds your home directory, which %s before it hides: "+
				"overlay less", op.Kind, op.Arg, homeCover)
		case (m.Kind == plan.Tmpfs || m.Kind == plan.Hide) && isHome(m.Dst):
			homeCover = fmt.Sprintf("--%s %s", op.Kind, op.Arg)
		}
	}
	if rootPath := realPath(root.Path); o.Rootfs != "" && (within(stateRoot, rootPath) || within(rootPath, stateRoot)) {
		return nil, fmt.Errorf("--rootfs %s holds sbx's records (%s), which the sandbox could then read or change: "+
			"pick a root filesystem elsewhere, or set XDG_RUNTIME_DIR", o.Rootfs, stateRoot)
	}
	p.Sources = ids.list()
	if p.Security, err = harden(p, o.Hardening); err != nil {
		return nil, err
	}
	if p.Process.Rlimits, err = parseUlimits(o.Ulimits); err != nil {
		return nil, err
	}
	if p.Sysctls, err = planSysctls(p, o.Sysctls, false); err != nil {
		return nil, err
	}
	return notes, nil
}

// harden decides the security settings of plan p's command: capabilities
// for its uid, no_new_privs, the seccomp filter (compiled), Landlock rules
// from the view.
func harden(p *plan.Plan, h Hardening) (plan.Security, error) {
	sec := plan.Security{NoNewPrivs: true, AllowUserns: h.AllowUserns, CapAdd: h.CapAdd, CapDrop: h.CapDrop}
	caps, err := capabilities.Compute(p.Process.UID, h.CapAdd, h.CapDrop)
	if err != nil {
		return sec, err
	}
	sec.Caps = caps
	if err := seccomp.CheckAllow(h.SeccompAllow); err != nil {
		return sec, err
	}
	if len(h.SeccompAllow) > 0 && h.Seccomp != "" {
		return sec, fmt.Errorf("--seccomp-allow %s: only the built-in profile has calls to allow again, not --seccomp %s", strings.Join(h.SeccompAllow, ","), h.Seccomp)
	}
	switch h.Seccomp {
	case "":
		profile := seccomp.DefaultProfile(seccomp.Options{Capabilities: capabilities.Names(caps.Bounding), AllowUserns: h.AllowUserns, Allow: h.SeccompAllow})
		if sec.Seccomp, err = seccomp.Compile(profile, true); err != nil {
			return sec, fmt.Errorf("compile seccomp profile: %w", err)
		}
		sec.SeccompProfile = "builtin"
	case SeccompUnconfined:
	default:
		profile := h.seccompProfile
		if profile == nil {
			if profile, err = seccomp.LoadFile(h.Seccomp); err != nil {
				return sec, err
			}
		}
		if sec.Seccomp, err = seccomp.Compile(profile, false); err != nil {
			return sec, fmt.Errorf("--seccomp %s: compile seccomp profile: %w", h.Seccomp, err)
		}
		if sec.SeccompProfile, err = filepath.Abs(h.Seccomp); err != nil {
			sec.SeccompProfile = h.Seccomp
		}
	}
	if h.Landlock {
		if err := landlockAvailable(); err != nil {
			return sec, err
		}
		sec.Landlock = landlockRules(p)
	}
	return sec, nil
}

// maxPreserveFDs bounds --preserve-fds.
const maxPreserveFDs = 1 << 16

// checkPreserveFDs checks that the descriptors to pass on are open.
func checkPreserveFDs(n int) error {
	if n < 0 || n > maxPreserveFDs {
		return fmt.Errorf("--preserve-fds %d: want a count from 0 to %d", n, maxPreserveFDs)
	}
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("--preserve-fds %d: descriptor %d is not open (pass descriptors 3 to %d, e.g. 3<file)", n, fd, 2+n)
		}
	}
	return nil
}

// rootfsPath checks the --rootfs directory and returns its path without
// links.
func rootfsPath(dir string, ids sourceIDs) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--rootfs %q: %w", dir, err)
	}
	path, st, err := ids.resolve("--rootfs", dir, abs)
	if err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", fmt.Errorf("--rootfs %q: %s is not a directory", dir, abs)
	}
	return path, nil
}

// buildEnv makes the command's environment: the caller's (unless clear),
// without sbx's internal variables, then the -e settings in order.
func buildEnv(host, settings []string, clear bool) ([]string, error) {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	if !clear {
		for _, kv := range host {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || isInternalEnv(k) {
				continue
			}
			set(k, v)
		}
	}
	for _, s := range settings {
		k, v, hasValue := strings.Cut(s, "=")
		if k == "" || strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE (or KEY to copy the caller's value)", s)
		}
		if isInternalEnv(k) {
			return nil, fmt.Errorf("--env %q: %s is internal to sbx", s, k)
		}
		if !hasValue {
			hv, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			v = hv
		}
		set(k, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vals[k])
	}
	return env, nil
}

// withPWD sets PWD in env to the command's working directory dir, as a
// shell does for the commands it starts (the caller's PWD names a
// directory outside), unless an -e setting names PWD.
func withPWD(env, settings []string, dir string) []string {
	for _, s := range settings {
		if k, _, _ := strings.Cut(s, "="); k == "PWD" {
			return env
		}
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PWD=") {
			out = append(out, kv)
		}
	}
	return append(out, "PWD="+dir)
}

func isInternalEnv(k string) bool {
	for _, i := range internalEnv {
		if k == i {
			return true
		}
	}
	return false
}

func checkHostname(h string) error {
	if len(h) > hostNameMax {
		return fmt.Errorf("--hostname %q: longer than %d bytes", h, hostNameMax)
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("--hostname %q: only letters, digits, '-', '_' and '.' are allowed", h)
		}
	}
	return nil
}

// hostNameMax is the kernel's limit for sethostname(2).
const hostNameMax = 64

// foreignPath is PATH in a --rootfs tree, as podman sets it.
const foreignPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// foreignTreeEnv replaces the host's PATH, HOME, USER and LOGNAME in env
// by the tree's: a standard PATH, and uid's home and name in the tree's
// /etc/passwd (HOME=/ and no name where it has no entry), as podman does
// for an image; an -e setting of one keeps it. The tree's passwd is read
// without following links out of it (a link in a tree could name any
// file of the host).
func foreignTreeEnv(env, settings []string, root string, uid uint32) []string {
	set := map[string]bool{}
	for _, s := range settings {
		k, _, _ := strings.Cut(s, "=")
		set[k] = true
	}
	name, home := treeUser(root, uid)
	want := map[string]string{"PATH": foreignPath, "HOME": home, "USER": name, "LOGNAME": name}
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := want[k]; ok && !set[k] {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range []string{"PATH", "HOME", "USER", "LOGNAME"} {
		if v := want[k]; v != "" && !set[k] {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// treeUser returns the name and home of uid in the /etc/passwd of the tree
// at root, or "" and "/".
func treeUser(root string, uid uint32) (string, string) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", "/"
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, "etc/passwd", &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return "", "/"
	}
	f := os.NewFile(uintptr(fd), "passwd")
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", "/"
	}
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return "", "/"
	}
	want := strconv.FormatUint(uint64(uid), 10)
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 6 && fields[2] == want && fields[0] != "" {
			home := fields[5]
			if home == "" {
				home = "/"
			}
			return fields[0], home
		}
	}
	return "", "/"
}

// Package sandbox runs a command in a sandbox: the configuration, the
// parent side that starts and waits for it (Run), and the Go init that
// builds the sandbox's view of the system and execs the command (Init).
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/capabilities"
	"github.com/sbx-sandbox/sbx/seccomp"
	"github.com/sbx-sandbox/sbx/state"
	"github.com/sbx-sandbox/sbx/usermap"
)

// MountDev is the minimal /dev: a tmpfs with the safe host devices bound
// in, a fresh devpts, /dev/shm and the usual symlinks.
const MountDev = "sbx-dev"

// Config is everything a sandbox is made of. Spec holds what the OCI
// runtime spec has words for; the rest is sbx's own.
type Config struct {
	// Spec: Process (args, env, cwd, user), Hostname, Root, Mounts (the view
	// operations, applied in order), Linux.Namespaces.
	Spec specs.Spec
	// MapMode chooses single or multi-range id maps.
	MapMode usermap.Mode
	// UID and GID, if set, are the ids the command runs as inside.
	UID, GID *uint32
	// PreserveFDs is how many descriptors from 3 on the command inherits.
	PreserveFDs int
	// Seccomp is Spec.Linux.Seccomp, compiled.
	Seccomp seccomp.Program
	// Sources are the identities of the view's host paths (see sourceIDs).
	Sources sourceIDs
	// Notes are what the user should know about choices sbx made for
	// them (one line each, for stderr).
	Notes []string
}

// DefaultPath is the PATH inside when the environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Options are the user's choices for a new sandbox, as the CLI collects them.
type Options struct {
	Args     []string
	UID, GID *uint32
	MapMode  usermap.Mode
	Hostname string
	Env      []string // KEY=VAL, or KEY to copy the caller's value
	ClearEnv bool
	Workdir  string
	// Rootfs, if set, becomes / instead of the host's root, read-only
	// unless RootfsRW.
	Rootfs   string
	RootfsRW bool
	View     []ViewOp // applied in order, after the defaults
	Cwd      CwdMode
	TTY      bool
	// GitWritable leaves the .git/config and .git/hooks of a writable
	// bind (the working directory's among them) writable.
	GitWritable bool

	Hardening
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
	// Ulimits are --ulimit NAME=SOFT[:HARD] settings.
	Ulimits []string
	// PreserveFDs passes descriptors 3 .. 3+PreserveFDs-1 to the command.
	PreserveFDs int
}

// Annotations of sbx's own in the spec, for what the OCI spec has no words.
const (
	AnnotationLandlock = "sbx.landlock"
	// AnnotationAllowUserns "true" keeps the Go init from setting the
	// sandbox's max_user_namespaces to 0.
	AnnotationAllowUserns = "sbx.allow-userns"
	// AnnotationCapAdd and AnnotationCapDrop keep --cap-add and --cap-drop
	// (comma lists), so that sbx exec as another uid gets the set that uid
	// would have had.
	AnnotationCapAdd  = "sbx.cap-add"
	AnnotationCapDrop = "sbx.cap-drop"
)

// splitList splits a comma list of an annotation; "" is no item.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// SeccompUnconfined turns seccomp off.
const SeccompUnconfined = "unconfined"

// defaultNamespaces are created for every sandbox.
var defaultNamespaces = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.MountNamespace, specs.PIDNamespace,
	specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.CgroupNamespace,
}

// internalEnv are variables of sbx's own that never reach the command.
var internalEnv = []string{"_SBX_INITPIPE", MonitorEnv, CleanupEnv}

// NewConfig turns options into a validated configuration with the default
// view: host / read-only, fresh /proc, minimal /dev, fresh /tmp and the
// current directory bound read-write.
func NewConfig(o Options) (*Config, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errors.New("no command given: put it after --, e.g. sbx run -- sh")
	}
	if o.MapMode == "" {
		o.MapMode = usermap.Auto
	}
	if _, err := usermap.ParseMode(string(o.MapMode)); err != nil {
		return nil, err
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = "sbx"
	}
	if err := checkHostname(hostname); err != nil {
		return nil, err
	}
	env, err := buildEnv(os.Environ(), o.Env, o.ClearEnv)
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
	root := &specs.Root{Path: "/", Readonly: true}
	if o.Rootfs != "" {
		if root.Path, err = rootfsPath(o.Rootfs, ids); err != nil {
			return nil, err
		}
		root.Readonly = !o.RootfsRW
	} else if o.RootfsRW {
		return nil, errors.New("--rootfs-rw needs --rootfs DIR: the host's root is always read-only")
	} else if _, _, err := ids.resolve("root", "/", "/"); err != nil {
		return nil, err
	}
	bindCwd := cwd != "/" && o.Cwd != CwdNone && (o.Rootfs == "" || o.Cwd == CwdReadOnly)
	cwdMode := o.Cwd
	var notes []string
	if bindCwd && cwdMode == CwdDefault && holdsHome(cwd) && !bindsWritable(o.View, cwd) {
		// A read-write home lets a sandbox append to ~/.bashrc and the
		// like, which the user's next shell runs outside it.
		cwdMode = CwdReadOnly
		notes = append(notes, fmt.Sprintf("the working directory %s is your home directory or holds it: bound read-only (--bind . makes it writable)", cwd))
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

	spec := specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: o.TTY,
			Args:     o.Args,
			Env:      env,
			Cwd:      workdir,
		},
		Hostname: hostname,
		Root:     root,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: MountDev},
		},
		Linux: &specs.Linux{
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
		},
	}
	stateRoot := realPath(state.RootPath())
	covers := hostCovers(o.Rootfs != "", stateRoot)
	spec.Mounts = append(spec.Mounts, covers...)
	if o.Rootfs == "" {
		spec.Mounts = append(spec.Mounts, resolverBinds(covers, ids)...)
	}
	if bindCwd && within(cwd, stateRoot) {
		return nil, fmt.Errorf("the working directory %s is among sbx's records (%s), which a sandbox could then read or change: "+
			"run sbx from another directory, or use --no-cwd", cwd, stateRoot)
	}
	if bindCwd {
		mode := "rw"
		if cwdMode == CwdReadOnly {
			mode = "ro"
		} else if within(stateRoot, cwd) && !coveredRightBelow(covers, stateRoot, cwd) {
			return nil, fmt.Errorf("the working directory %s holds sbx's records (%s), which a sandbox could then change: "+
				"run sbx from another directory, use --ro-cwd or --no-cwd, or set XDG_RUNTIME_DIR", cwd, stateRoot)
		}
		cwdBind := specs.Mount{Destination: cwd, Type: "bind", Source: cwd, Options: []string{"rbind", mode}}
		spec.Mounts = append(spec.Mounts, cwdBind)
		// What the covers hid, the working directory must not show again.
		for _, c := range covers {
			if within(realPath(c.Destination), cwd) {
				spec.Mounts = append(spec.Mounts, c)
				if c.Destination == cwd && c.Type != MountHide {
					notes = append(notes, fmt.Sprintf("the working directory %s is covered by a fresh, empty one, as always (--bind %s shares it)", cwd, cwd))
				}
			}
		}
		if !o.GitWritable {
			guards, err := gitGuards(cwdBind, ids)
			if err != nil {
				return nil, fmt.Errorf("the working directory: %w", err)
			}
			spec.Mounts = append(spec.Mounts, guards...)
		}
	}
	for _, op := range o.View {
		m, err := viewMount(op, ids)
		if err != nil {
			return nil, err
		}
		if err := checkHidesRecords(op, m, stateRoot); err != nil {
			return nil, err
		}
		spec.Mounts = append(spec.Mounts, m)
		if !o.GitWritable {
			guards, err := gitGuards(m, ids)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: %w", op.Kind, op.Arg, err)
			}
			spec.Mounts = append(spec.Mounts, guards...)
		}
	}
	if rootPath := realPath(root.Path); o.Rootfs != "" && (within(stateRoot, rootPath) || within(rootPath, stateRoot)) {
		return nil, fmt.Errorf("--rootfs %s holds sbx's records (%s), which the sandbox could then read or change: "+
			"pick a root filesystem elsewhere, or set XDG_RUNTIME_DIR", o.Rootfs, stateRoot)
	}
	for _, ns := range defaultNamespaces {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: ns})
	}
	uid := uint32(os.Getuid())
	if o.UID != nil {
		uid = *o.UID
	}
	filter, err := harden(&spec, uid, o.Hardening)
	if err != nil {
		return nil, err
	}
	return &Config{Spec: spec, MapMode: o.MapMode, UID: o.UID, GID: o.GID, PreserveFDs: o.PreserveFDs, Seccomp: filter, Notes: notes, Sources: ids}, nil
}

// harden puts the security choices into the spec: capabilities for uid,
// no_new_privs, rlimits, the seccomp profile and sbx's annotations. It
// returns the compiled seccomp filter (nil with --seccomp unconfined).
func harden(spec *specs.Spec, uid uint32, h Hardening) (seccomp.Program, error) {
	caps, err := capabilities.Compute(uid, h.CapAdd, h.CapDrop)
	if err != nil {
		return nil, err
	}
	spec.Process.Capabilities = caps
	spec.Process.NoNewPrivileges = true
	if spec.Process.Rlimits, err = parseUlimits(h.Ulimits); err != nil {
		return nil, err
	}
	if err := checkPreserveFDs(h.PreserveFDs); err != nil {
		return nil, err
	}
	spec.Annotations = map[string]string{}
	if len(h.CapAdd) > 0 {
		spec.Annotations[AnnotationCapAdd] = strings.Join(h.CapAdd, ",")
	}
	if len(h.CapDrop) > 0 {
		spec.Annotations[AnnotationCapDrop] = strings.Join(h.CapDrop, ",")
	}
	if err := seccomp.CheckAllow(h.SeccompAllow); err != nil {
		return nil, err
	}
	if len(h.SeccompAllow) > 0 && h.Seccomp != "" {
		return nil, fmt.Errorf("--seccomp-allow %s: only the built-in profile has calls to allow again, not --seccomp %s", strings.Join(h.SeccompAllow, ","), h.Seccomp)
	}
	switch h.Seccomp {
	case "":
		spec.Linux.Seccomp = seccomp.DefaultProfile(seccomp.Options{Capabilities: caps.Bounding, AllowUserns: h.AllowUserns, Allow: h.SeccompAllow})
		spec.Annotations[seccomp.BuiltinAnnotation] = seccomp.BuiltinValue
	case SeccompUnconfined:
	default:
		if spec.Linux.Seccomp, err = seccomp.LoadFile(h.Seccomp); err != nil {
			return nil, err
		}
	}
	if h.Landlock {
		if err := landlockAvailable(); err != nil {
			return nil, err
		}
		spec.Annotations[AnnotationLandlock] = "true"
	}
	if h.AllowUserns {
		spec.Annotations[AnnotationAllowUserns] = "true"
	}
	filter, err := compileSeccomp(spec)
	if err != nil && h.Seccomp != "" {
		return nil, fmt.Errorf("--seccomp %s: %w", h.Seccomp, err)
	}
	return filter, err
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

// cloneFlags turns the namespace list into CLONE_NEW* flags.
func cloneFlags(nss []specs.LinuxNamespace) (uint32, error) {
	var flags uint32
	for _, ns := range nss {
		if ns.Path != "" {
			return 0, fmt.Errorf("joining the %s namespace at %s is not supported by sbx run", ns.Type, ns.Path)
		}
		f, ok := namespaceFlags[ns.Type]
		if !ok {
			return 0, fmt.Errorf("unknown namespace type %q", ns.Type)
		}
		flags |= f
	}
	return flags, nil
}

var namespaceFlags = map[specs.LinuxNamespaceType]uint32{
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
}

// hostNameMax is the kernel's limit for sethostname(2).
const hostNameMax = 64

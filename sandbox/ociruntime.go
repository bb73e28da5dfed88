package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/cgroupv2"
	"github.com/sbx-sandbox/sbx/clonedbinary"
	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/oci"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/sandbox/inside"
	"github.com/sbx-sandbox/sbx/state"
	"github.com/sbx-sandbox/sbx/usermap"
)

// sbx as an OCI runtime (runc's command line, for podman, containerd and
// CRI-O). A container is a sandbox planned from its bundle's config.json
// (package oci) and started on the same road as sbx run -d; its record
// lives under the runtime's root, with the OCI part of it (bundle,
// annotations, hooks) in the file ociFile next to the plan.
//
// The lifecycle is the spec's: create starts the sandbox up to the exec of
// the user's process, whose Go init then waits on the FIFO inside.StartFIFO
// in the record's directory; start opens the FIFO for reading, which lets
// it go on. The container's pid 1 is sbx's C init, the command pid 2; the
// init exits as the command did, and the client (conmon, containerd's
// shim), a subreaper, reaps it: create leaves it behind as its child.

// ociFile is the OCI part of a container's record.
const ociFile = "oci.json"

// OCIRuntime is the runtime's global options.
type OCIRuntime struct {
	// Root holds the records.
	Root string
	// SystemdCgroup asks for cgroups through systemd (runc's
	// --systemd-cgroup).
	SystemdCgroup bool
}

// DefaultOCIRoot is where records go without --root: sbx-oci in
// $XDG_RUNTIME_DIR (rootless podman sets it, also for the root of its user
// namespace), /run/sbx-oci for root, or sbx-oci-UID in the temporary
// directory.
func DefaultOCIRoot() string {
	if base := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(base) {
		return filepath.Join(base, "sbx-oci")
	}
	if os.Geteuid() == 0 && inInitialUserNamespace() {
		return "/run/sbx-oci"
	}
	tmp := os.TempDir()
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, fmt.Sprintf("sbx-oci-%d", os.Getuid()))
}

// inInitialUserNamespace reports whether sbx runs in the host's user
// namespace (its uid_map maps every id to itself).
func inInitialUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// NewOCIRuntime sets up the runtime with its records under root ("" for
// the default).
func NewOCIRuntime(root string, systemdCgroup bool) (*OCIRuntime, error) {
	if root == "" {
		root = DefaultOCIRoot()
	}
	if !filepath.IsAbs(root) {
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, fmt.Errorf("--root %s: %w", root, err)
		}
		root = abs
	}
	state.SetRootPath(root)
	return &OCIRuntime{Root: root, SystemdCgroup: systemdCgroup}, nil
}

// ociRecord is the OCI part of a container's record.
type ociRecord struct {
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
}

// container is a container as the commands find it.
type container struct {
	st  *state.State
	rec ociRecord
}

// errNoContainer is runc's wording, which podman and containerd look for.
func errNoContainer(id string) error {
	return fmt.Errorf("container %s does not exist (nor a sandbox of sbx run of that name: see sbx ps)", id)
}

// load finds container id.
func (r *OCIRuntime) load(id string) (*container, error) {
	if err := state.CheckName(id); err != nil {
		return nil, err
	}
	st, err := state.Load(id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, errNoContainer(id)
	}
	if err != nil {
		return nil, err
	}
	c := &container{st: st}
	if b, err := state.ReadFile(id, ociFile); err == nil {
		if err := json.Unmarshal(b, &c.rec); err != nil {
			return nil, fmt.Errorf("container %s: damaged record: %w", id, err)
		}
	} else if st.Status != state.Creating {
		return nil, fmt.Errorf("container %s: %w (it is a sandbox of sbx run, or its record is damaged)", id, err)
	}
	return c, nil
}

// status is the container's OCI status now.
func (r *OCIRuntime) status(c *container) specs.ContainerState {
	switch {
	case c.st.Status == state.Creating:
		return specs.StateCreating
	case c.st.Status != state.Running:
		return specs.StateStopped
	}
	dir, err := state.Dir(c.st.Name)
	if err == nil {
		if _, err := os.Lstat(filepath.Join(dir, inside.StartFIFO)); err == nil {
			return specs.StateCreated
		}
	}
	return specs.StateRunning
}

// State is the spec's state of container id.
func (r *OCIRuntime) State(id string) (*OCIState, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return r.stateOf(c), nil
}

// OCIState is the spec's state, with runc's extra fields.
type OCIState struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func (r *OCIRuntime) stateOf(c *container) *OCIState {
	s := &OCIState{State: specs.State{
		Version: specs.Version, ID: c.st.Name, Status: r.status(c),
		Bundle: c.rec.Bundle, Annotations: c.rec.Annotations,
	}, Rootfs: c.rec.Rootfs, Created: c.rec.Created}
	if s.Status != specs.StateStopped {
		s.Pid = c.st.Pid
	}
	return s
}

// List is the state of every container.
func (r *OCIRuntime) List() ([]*OCIState, error) {
	list, err := state.List()
	if err != nil {
		return nil, err
	}
	out := []*OCIState{}
	for _, st := range list {
		c, err := r.load(st.Name)
		if err != nil {
			continue
		}
		out = append(out, r.stateOf(c))
	}
	return out, nil
}

// CreateOptions are create's (and run's) flags.
type CreateOptions struct {
	ID, Bundle, PidFile, ConsoleSocket string
	PreserveFDs                        int
}

// hostFacts is what the translation needs to know of this host.
func hostFacts() oci.Host {
	enabled := func(path string) bool {
		b, err := os.ReadFile(path)
		return err == nil && strings.TrimSpace(string(b)) == "Y"
	}
	_, selinux := os.Stat("/sys/fs/selinux/enforce")
	return oci.Host{
		CgroupV2: cgroupv2.Unified(),
		AppArmor: enabled("/sys/module/apparmor/parameters/enabled"),
		SELinux:  selinux == nil,
	}
}

// loadBundle reads and translates the bundle's config.json.
func loadBundle(bundle string) (string, *specs.Spec, *oci.Container, error) {
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return "", nil, nil, fmt.Errorf("--bundle %s: %w", bundle, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		return "", nil, nil, fmt.Errorf("--bundle %s: %w", bundle, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return "", nil, nil, fmt.Errorf("%s: %w", filepath.Join(abs, "config.json"), err)
	}
	c, err := oci.FromSpec(&s, abs, hostFacts())
	if err != nil {
		return "", nil, nil, err
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(os.Stderr, "sbx: warning: %s\n", w)
	}
	return abs, &s, c, nil
}

// resolveSources records the identity of every host path of the plan: the
// root and the binds' sources (see sources.go).
func resolveSources(p *plan.Plan) error {
	ids := sourceIDs{}
	path, st, err := ids.resolve("root.path", p.Root.Path, p.Root.Path)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("root.path %s: not a directory", p.Root.Path)
	}
	p.Root.Path = path
	for i := range p.Mounts {
		m := &p.Mounts[i]
		if m.Kind != plan.Bind {
			continue
		}
		path, st, err := ids.resolve("mounts", m.Dst, m.Src)
		if err != nil {
			return err
		}
		m.Src = path
		// A device node bound is usable (podman --device); nothing
		// else is (see oci's root).
		typ := st.Mode & unix.S_IFMT
		m.Dev = typ == unix.S_IFCHR || typ == unix.S_IFBLK
	}
	p.Sources = ids.list()
	return nil
}

// planIDMaps decides how stage 0 writes the config's id maps: itself, as
// root (of the host, or of the user namespace it runs in: rootless podman
// with --userns=keep-id nests the container's in its own), or for the
// caller's own ids alone; else through newuidmap and newgidmap, as sbx run
// does with subordinate ids.
func planIDMaps(st *plan.Stages) error {
	if st.CloneFlags&unix.CLONE_NEWUSER == 0 || os.Geteuid() == 0 {
		return nil
	}
	self := func(m []plan.IDMap, id int) bool {
		return len(m) == 1 && m[0].Outside == uint32(id) && m[0].Count == 1
	}
	if self(st.UIDMap, os.Geteuid()) && self(st.GIDMap, os.Getegid()) {
		st.SetgroupsDeny = true
		return nil
	}
	st.UIDMapHelper, st.GIDMapHelper = usermap.FindHelper("newuidmap"), usermap.FindHelper("newgidmap")
	if st.UIDMapHelper == "" || st.GIDMapHelper == "" {
		return errors.New("linux.uidMappings: mapping more than the caller's own ids needs newuidmap and newgidmap (apt-get install uidmap) and ranges in /etc/subuid and /etc/subgid")
	}
	return nil
}

// openJoins opens the namespaces a config joins by path, checked to be
// namespaces of the type named, and returns their descriptors.
func openJoins(joins []oci.Join) ([]int, error) {
	var fds []int
	for _, j := range joins {
		fd, err := unix.Open(j.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeFDs(fds)
			return nil, fmt.Errorf("linux.namespaces: %s: %w", j.Path, err)
		}
		fds = append(fds, fd)
		typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
		if err != nil || uint32(typ) != j.Flag {
			closeFDs(fds)
			return nil, fmt.Errorf("linux.namespaces: %s is not a namespace of the type named (%v)", j.Path, err)
		}
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// checkOCISysctls checks the config's sysctls as sbx run's --sysctl, with
// the namespaces joined by path counted as the container's (a client
// makes them for it, as podman its network namespace).
func checkOCISysctls(p *plan.Plan, joined uint32) error {
	own := *p
	own.Stages.CloneFlags |= joined
	out, err := planSysctls(&own, p.Sysctls, true)
	if err != nil {
		return fmt.Errorf("linux.sysctl: %w", err)
	}
	p.Sysctls = out
	return nil
}

// Create creates container o.ID from its bundle and leaves it waiting for
// Start.
func (r *OCIRuntime) Create(o CreateOptions) error {
	_, err := r.create(o, true)
	return err
}

// create is Create; with detach false the container's pid 1 stays a child
// to wait for (run).
func (r *OCIRuntime) create(o CreateOptions, detach bool) (*process, error) {
	if err := checkPreserveFDs(o.PreserveFDs); err != nil {
		return nil, err
	}
	if err := state.CheckName(o.ID); err != nil {
		return nil, err
	}
	bundle, _, ctr, err := loadBundle(o.Bundle)
	if err != nil {
		return nil, err
	}
	p := ctr.Plan
	if err := resolveSources(p); err != nil {
		return nil, err
	}
	var joined uint32
	for _, j := range ctr.Joins {
		joined |= j.Flag
	}
	if err := checkOCISysctls(p, joined); err != nil {
		return nil, err
	}
	if err := planIDMaps(&p.Stages); err != nil {
		return nil, err
	}
	method, err := clonedbinary.FromEnv()
	if err != nil {
		return nil, err
	}
	p.Stages.CloneMethod = uint32(method)
	if !detach {
		p.Stages.Pdeathsig = uint32(unix.SIGKILL)
	}
	manager := cgroupv2.Auto
	if r.SystemdCgroup {
		manager = cgroupv2.Systemd
	}
	if !p.Resources.Any() {
		manager = cgroupv2.None
	}
	cgroups, err := cgroupv2.Select(manager, p.Resources)
	if err != nil {
		return nil, fmt.Errorf("linux.resources: %w", err)
	}
	defer cgroups.Close()

	holdSignals()
	if err := state.Create(o.ID); err != nil {
		if strings.Contains(err.Error(), "already exists") {
			return nil, fmt.Errorf("container %s already exists", o.ID)
		}
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			state.Remove(o.ID)
		}
	}()
	dir, err := state.Dir(o.ID)
	if err != nil {
		return nil, err
	}
	if err := unix.Mkfifo(filepath.Join(dir, inside.StartFIFO), 0o600); err != nil {
		return nil, fmt.Errorf("create the start FIFO: %w", err)
	}
	gate, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the record of %s: %w", o.ID, err)
	}
	defer unix.Close(gate)
	joinFDs, err := openJoins(ctr.Joins)
	if err != nil {
		return nil, err
	}
	defer closeFDs(joinFDs)

	l := launch{plan: p, stdio: [3]uintptr{0, 1, 2}, preserve: o.PreserveFDs, tty: p.Process.Terminal}
	for i, fd := range joinFDs {
		p.Stages.Join = append(p.Stages.Join, plan.NamespaceJoin{FD: extraFD(o.PreserveFDs, len(l.extra)), Flags: ctr.Joins[i].Flag})
		l.extra = append(l.extra, uintptr(fd))
	}
	p.Process.StartGate = extraFD(o.PreserveFDs, len(l.extra))
	l.extra = append(l.extra, uintptr(gate))

	var cg *cgroupv2.Cgroup
	keepCgroup := false
	defer func() {
		if !keepCgroup {
			cgroupv2.Remove(cg)
		}
	}()
	if l.cgroup, err = placeInCgroup(cgroups, o.ID, p.Resources, &cg); err != nil {
		return nil, err
	}
	if l.cgroup != nil {
		defer l.cgroup.close()
		p.Mounts = append(p.Mounts, cgroupMount)
	}

	rec := ociRecord{Bundle: bundle, Rootfs: p.Root.Path, Created: time.Now().UTC(), Annotations: ctr.Annotations, Hooks: ctr.Hooks}
	proc, err := start(&l)
	if err != nil {
		return nil, err
	}
	if ctr.Hooks != nil {
		for _, h := range ctr.Hooks.StartContainer {
			hk := plan.Hook{Path: h.Path, Args: h.Args, Env: h.Env}
			if h.Timeout != nil && *h.Timeout > 0 {
				hk.TimeoutSec = uint32(*h.Timeout)
			}
			p.StartHooks = append(p.StartHooks, hk)
		}
	}
	if ctr.Hooks != nil {
		proc.beforeGo = func(pid1 int) error {
			if len(p.StartHooks) > 0 {
				p.HookState = string(r.hookState(o.ID, specs.StateCreated, pid1, rec))
			}
			st := r.hookState(o.ID, specs.StateCreating, pid1, rec)
			for _, set := range []struct {
				name  string
				hooks []specs.Hook
			}{{"prestart", ctr.Hooks.Prestart}, {"createRuntime", ctr.Hooks.CreateRuntime}} {
				if err := runHooks(set.name, set.hooks, st); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := proc.proceed(p); err != nil {
		return nil, err
	}
	if err := proc.parked(o.ConsoleSocket); err != nil {
		proc.abort()
		return nil, err
	}
	srec := &plan.Record{Name: o.ID, Pid: uint32(proc.init), Created: rec.Created.UnixNano(), Detached: true, Plan: *p}
	if cg != nil {
		srec.Cgroup, srec.CgroupUnit = cg.Dir, cg.Unit
	}
	data, err := json.Marshal(rec)
	if err == nil {
		err = state.WriteFile(o.ID, ociFile, data)
	}
	if err == nil {
		err = recordProcess(srec)
	}
	if err == nil && o.PidFile != "" {
		err = writePidFile(o.PidFile, proc.init)
	}
	if err != nil {
		proc.abort()
		return nil, err
	}
	keep, keepCgroup = true, true
	return proc, nil
}

// parked waits until the Go init waits for the start command, passing the
// container's terminal to the client's console socket on the way (or to
// sbx's own terminal: relayConsole).
func (p *process) parked(consoleSocket string) error {
	if p.tty {
		master, ie := p.receiveConsole()
		if ie != nil {
			return ie
		}
		if consoleSocket == relayConsole {
			p.term = attach(master)
		} else {
			err := sendConsole(consoleSocket, master)
			master.Close()
			if err != nil {
				return err
			}
		}
		if err := nsexec.WriteFrame(p.sock, nsexec.MsgContinue, nil); err != nil {
			return fmt.Errorf("let the container go on: %w", err)
		}
	}
	for {
		typ, payload, err := nsexec.ReadFrame(p.sock)
		if err != nil {
			return errors.New("the container's init ended during its setup")
		}
		if typ == nsexec.MsgParked {
			return nil
		}
		// The runtime failed (125), whatever the code the init would
		// have ended with: the words say why (podman reads them).
		if ie := decodeReport(typ, payload); ie != nil {
			return ie
		}
	}
}

// sendConsole passes the pty master to the client listening on the unix
// socket at path (runc's --console-socket: one SCM_RIGHTS message).
func sendConsole(path string, master *os.File) error {
	if path == "" {
		return errors.New("process.terminal is set: --console-socket is needed to pass the terminal on")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--console-socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("--console-socket %s: %w", path, err)
	}
	if err := unix.Sendmsg(fd, []byte("/dev/ptmx"), unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("--console-socket %s: send the terminal: %w", path, err)
	}
	return nil
}

// writePidFile writes pid to path atomically (a client may read it at
// any time).
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	// A new file of a random name (O_EXCL: no link followed), renamed
	// over the pid file.
	f, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+"-*")
	if err != nil {
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	_, err = f.WriteString(strconv.Itoa(pid))
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), abs)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	return nil
}

// Start lets a created container's process run.
func (r *OCIRuntime) Start(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	switch s := r.status(c); s {
	case specs.StateCreated:
	case specs.StateRunning:
		return fmt.Errorf("container %s is already running", id)
	default:
		return fmt.Errorf("cannot start container %s: it is %s", id, s)
	}
	dir, err := state.Dir(id)
	if err != nil {
		return err
	}
	pidfd, err := openSandboxPid(c.st)
	if err != nil {
		return err
	}
	err = openGate(filepath.Join(dir, inside.StartFIFO), pidfd)
	unix.Close(pidfd)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	if c.rec.Hooks != nil && len(c.rec.Hooks.Poststart) > 0 {
		st := r.hookState(id, specs.StateRunning, c.st.Pid, c.rec)
		if err := runHooks("poststart", c.rec.Hooks.Poststart, st); err != nil {
			// The spec: a warning, and the lifecycle goes on.
			fmt.Fprintf(os.Stderr, "sbx: warning: %v\n", err)
		}
	}
	return nil
}

// openGate opens the start FIFO for reading, which lets the waiting Go
// init go on, reads its byte and removes the FIFO. An init that dies
// meanwhile (pidfd) ends the wait; so does another start that took the
// byte first.
func openGate(fifo string, pidfd int) error {
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open the start FIFO: %w", err)
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("wait for the container's init: %w", err)
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
			var b [1]byte
			n, err := unix.Read(fd, b[:])
			switch {
			case n == 1:
				return os.Remove(fifo)
			case n == 0 && err == nil:
				// The writer came and went: another start read it.
				return errors.New("it was started meanwhile")
			}
		}
		if fds[1].Revents != 0 {
			return errors.New("the container's init exited before it started the process")
		}
	}
}

// Kill sends sig to the container's init, which passes it on to the
// process (SIGKILL ends the container).
func (r *OCIRuntime) Kill(id string, sig unix.Signal) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if s := r.status(c); s != specs.StateCreated && s != specs.StateRunning {
		return fmt.Errorf("container %s is not running", id)
	}
	if c.st.Status != state.Running {
		return fmt.Errorf("container %s is not running", id)
	}
	return signalSandbox(c.st, sig)
}

// Delete removes a container's record (and cgroup); force kills a running
// one first. Deleting a container that does not exist is no error with
// force (containerd deletes twice).
func (r *OCIRuntime) Delete(id string, force bool) error {
	c, err := r.load(id)
	if err != nil {
		if force && strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		return err
	}
	s := r.status(c)
	if s == specs.StateCreating {
		return fmt.Errorf("cannot delete container %s: it is being created", id)
	}
	if s == specs.StateRunning && !force {
		return fmt.Errorf("cannot delete container %s: it is running (stop it, or use --force)", id)
	}
	if s == specs.StateRunning || s == specs.StateCreated {
		if err := killAndWait(c.st); err != nil {
			return err
		}
	}
	if err := cgroupv2.Remove(CgroupOf(c.st)); err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	if c.rec.Hooks != nil && len(c.rec.Hooks.Poststop) > 0 {
		st := r.hookState(id, specs.StateStopped, 0, c.rec)
		if err := runHooks("poststop", c.rec.Hooks.Poststop, st); err != nil {
			fmt.Fprintf(os.Stderr, "sbx: warning: %v\n", err)
		}
	}
	return state.Remove(id)
}

// killAndWait kills a container (its cgroup too, if it has one) and waits
// until its init has exited.
func killAndWait(st *state.State) error {
	fd, err := openSandboxPid(st)
	if err != nil {
		return nil // gone meanwhile
	}
	defer unix.Close(fd)
	if cg := CgroupOf(st); cg != nil {
		cg.Kill()
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && err != unix.ESRCH {
		return fmt.Errorf("kill container %s: %w", st.Name, err)
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 5000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return fmt.Errorf("container %s did not die within 5s of SIGKILL", st.Name)
		}
		return nil
	}
}

// Pids lists the host pids of the container's processes: those in its
// PID namespace.
func (r *OCIRuntime) Pids(id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	pids := []int{}
	if r.status(c) == specs.StateStopped {
		return pids, nil
	}
	var want unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", c.st.Pid), &want); err != nil {
		return pids, nil
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", pid), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// hookState is the state a hook gets on its stdin.
func (r *OCIRuntime) hookState(id string, status specs.ContainerState, pid int, rec ociRecord) []byte {
	b, _ := json.Marshal(specs.State{Version: specs.Version, ID: id, Status: status, Pid: pid, Bundle: rec.Bundle, Annotations: rec.Annotations})
	return b
}

// Run creates and starts container o.ID; detached it returns once the
// process runs, else it waits for the container, deletes it and returns
// its exit code. A terminal goes to the console socket, or, without one,
// is relayed to sbx's own as sbx run -t does.
func (r *OCIRuntime) Run(o CreateOptions, detach bool) (int, error) {
	relay := !detach && o.ConsoleSocket == ""
	if relay {
		o.ConsoleSocket = relayConsole
	}
	proc, err := r.create(o, detach)
	if err != nil {
		return ExitSbxFailed, err
	}
	if err := r.Start(o.ID); err != nil {
		if !detach {
			r.Delete(o.ID, true)
		}
		return ExitSbxFailed, err
	}
	if detach {
		return 0, nil
	}
	defer r.Delete(o.ID, true)
	if proc.term != nil {
		defer proc.term.detach()
	}
	go func() {
		for s := range proc.sigs {
			sig := s.(unix.Signal)
			if sig == unix.SIGWINCH && proc.term != nil {
				proc.term.resize()
				continue
			}
			unix.Kill(proc.init, sig)
		}
	}()
	initErr := proc.readInitReports()
	proc.sock.Close()
	code := exitCode(reap(proc.init))
	if initErr != nil {
		return initErr.Code, &ExitError{Code: initErr.Code, Err: initErr}
	}
	return code, nil
}

// relayConsole, as the console socket, has the terminal relayed to sbx's
// own stdio (Run without --console-socket).
const relayConsole = "\x00relay"

// OCIExecOptions are exec's flags.
type OCIExecOptions struct {
	ID, ProcessFile, PidFile, ConsoleSocket string
	Detach                                  bool
	PreserveFDs                             int
}

// Exec runs the process of o.ProcessFile (the spec's process, as JSON) in
// a running container. Detached, it returns once the process runs, its pid
// in o.PidFile: the client, a subreaper, waits for it.
func (r *OCIRuntime) Exec(o OCIExecOptions) (int, error) {
	if err := checkPreserveFDs(o.PreserveFDs); err != nil {
		return ExitSbxFailed, err
	}
	data, err := os.ReadFile(o.ProcessFile)
	if err != nil {
		return ExitSbxFailed, fmt.Errorf("--process: %w", err)
	}
	var sp specs.Process
	if err := json.Unmarshal(data, &sp); err != nil {
		return ExitSbxFailed, fmt.Errorf("--process %s: %w", o.ProcessFile, err)
	}
	c, err := r.load(o.ID)
	if err != nil {
		return ExitSbxFailed, err
	}
	if s := r.status(c); s != specs.StateRunning && s != specs.StateCreated || c.st.Plan == nil {
		return ExitSbxFailed, fmt.Errorf("container %s is not running", o.ID)
	}
	// The process as the translator reads a config's, over the
	// container's own security (its seccomp filter).
	spec := specs.Spec{Root: &specs.Root{Path: "/"}, Process: &sp, Linux: &specs.Linux{
		Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}},
	}}
	tr, err := oci.FromSpec(&spec, "/", hostFacts())
	if err != nil {
		return ExitSbxFailed, fmt.Errorf("--process %s: %w", o.ProcessFile, err)
	}
	for _, w := range tr.Warnings {
		fmt.Fprintf(os.Stderr, "sbx: warning: %s\n", w)
	}
	p := &plan.Plan{Process: tr.Plan.Process, Security: c.st.Plan.Security}
	p.Security.Caps, p.Security.NoNewPrivs = tr.Plan.Security.Caps, sp.NoNewPrivileges
	for i, e := range p.Process.Env {
		if e == "LISTEN_PID=2" {
			p.Process.Env[i] = "LISTEN_PID=1" // not the container's command
		}
	}
	p.Process.PreserveFDs = uint32(o.PreserveFDs)
	pidfd, err := openSandboxPid(c.st)
	if err != nil {
		return ExitSbxFailed, err
	}
	defer unix.Close(pidfd)
	flags, err := joinFlags(c.st.Pid)
	if err != nil {
		return ExitSbxFailed, err
	}
	method, err := clonedbinary.FromEnv()
	if err != nil {
		return ExitSbxFailed, err
	}
	p.Stages = plan.Stages{CloneMethod: uint32(method), JoinPidfd: extraFD(o.PreserveFDs, 0), JoinFlags: flags}
	if !o.Detach {
		p.Stages.Pdeathsig = uint32(unix.SIGKILL)
	}
	relay := sp.Terminal && o.ConsoleSocket == "" && !o.Detach
	l := launch{plan: p, stdio: [3]uintptr{0, 1, 2}, preserve: o.PreserveFDs, extra: []uintptr{uintptr(pidfd)},
		tty: sp.Terminal, join: o.ID}
	if l.cgroup, err = joinPlacement(c.st); err != nil {
		return ExitSbxFailed, fmt.Errorf("exec in container %s: %w", o.ID, err)
	}
	if l.cgroup != nil {
		defer l.cgroup.close()
	}
	proc, err := start(&l)
	if err != nil {
		return ExitSbxFailed, err
	}
	if err := proc.proceed(p); err != nil {
		return ExitSbxFailed, err
	}
	if sp.Terminal && !relay {
		master, ie := proc.receiveConsole()
		if ie != nil {
			reap(proc.init)
			return ie.Code, &ExitError{Code: ie.Code, Err: ie}
		}
		err := sendConsole(o.ConsoleSocket, master)
		master.Close()
		if err != nil {
			proc.abort()
			return ExitSbxFailed, err
		}
		nsexec.WriteFrame(proc.sock, nsexec.MsgContinue, nil)
		proc.tty = false
	}
	if o.Detach {
		if code, err := proc.started(); err != nil {
			return code, err
		}
		proc.joined()
		if o.PidFile != "" {
			if err := writePidFile(o.PidFile, proc.init); err != nil {
				unix.Kill(proc.init, unix.SIGKILL)
				return ExitSbxFailed, err
			}
		}
		return 0, nil
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.init); err != nil {
			proc.abort()
			return ExitSbxFailed, err
		}
	}
	return proc.wait()
}

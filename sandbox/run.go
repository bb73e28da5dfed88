package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/cgroupv2"
	"github.com/sbx-sandbox/sbx/clonedbinary"
	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/stamp"
	"github.com/sbx-sandbox/sbx/state"
)

// Exit codes, as podman has them (nsexec/sbxwire.h).
const (
	ExitSbxFailed     = nsexec.ExitSbxFailed
	ExitCannotExecute = nsexec.ExitCannotExecute
	ExitNotFound      = nsexec.ExitNotFound
)

// ForwardedSignals are passed on from the sbx parent to the command
// (nsexec/sbxwire.h: pid 1 and the monitor forward the same).
var ForwardedSignals = func() []os.Signal {
	s := make([]os.Signal, len(nsexec.ForwardedSignals))
	for i, sig := range nsexec.ForwardedSignals {
		s[i] = sig
	}
	return s
}()

// InitError is what the Go init reports instead of exec'ing the command.
type InitError = plan.Report

// ExitError carries the exit code sbx should end with, next to the error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// RunOptions are the lifecycle choices of sbx run.
type RunOptions struct {
	// Name of the sandbox; its record lives while it runs (and after,
	// when detached) so that sbx exec, ps, kill and rm find it.
	Name string
	// Detach returns as soon as the command has started; the sandbox
	// outlives sbx, with its output in the record's log file.
	Detach bool
	// LogMax caps the log of a detached sandbox, in bytes; 0: no cap.
	LogMax uint32
	// Unnamed says the name was generated: an attached sandbox without a
	// cgroup then runs without a record where there is no state
	// directory sbx may write (a read-only host, a container), unlisted
	// and not joinable.
	Unnamed bool
}

// DefaultLogMax is the cap of a detached sandbox's log: enough for a
// service's recent output, little next to the RAM filesystem it lives in.
const DefaultLogMax = 10 << 20

// ParseLogMax reads --log-size-max: a size with an optional k, m or g
// suffix, or -1 for no cap; "" is the default. It applies to detached
// sandboxes only.
func ParseLogMax(v string, detach bool) (uint32, error) {
	if v == "" {
		return DefaultLogMax, nil
	}
	if !detach {
		return 0, fmt.Errorf("--log-size-max %s: only a detached sandbox (-d) has a log", v)
	}
	if v == "-1" {
		return 0, nil
	}
	n, err := parseSize(v)
	if err != nil || n < 4096 || n >= 1<<32 {
		return 0, fmt.Errorf("--log-size-max %q: want a size from 4k to 4095m (k, m, g suffixes), or -1 for no cap", v)
	}
	return uint32(n), nil
}

// parseSize reads bytes with an optional k, m or g suffix (powers of 1024).
func parseSize(v string) (uint64, error) {
	mult := uint64(1)
	switch v[len(v)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	}
	if mult != 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// Run plans a sandbox from c and starts it, waits for the command and
// returns its exit code (128+N if a signal N killed it). An error means the
// sandbox could not be started; its exit code is ExitSbxFailed unless an
// *ExitError says other. Detached, it returns 0 once the command has
// started. The stages get their part of the plan first and make the
// namespaces and id maps while the rest is planned.
func Run(c Config, o RunOptions) (int, error) {
	if c.TTY {
		if o.Detach {
			return ExitSbxFailed, errors.New("-t and -d together are not supported: a detached sandbox has no terminal to attach to")
		}
		if err := checkTerminalInput(); err != nil {
			return ExitSbxFailed, err
		}
	}
	p, err := planStages(&c)
	if err != nil {
		return ExitSbxFailed, err
	}
	// The shares first: a missing piece stops sbx before it starts
	// anything.
	grant, err := resolveShares(c)
	if err != nil {
		return ExitSbxFailed, err
	}
	cgroups, err := cgroupv2.Select(c.CgroupManager, c.Resources)
	if err != nil {
		return ExitSbxFailed, err
	}
	defer cgroups.Close()
	p.Resources = c.Resources
	method, err := clonedbinary.FromEnv()
	if err != nil {
		return ExitSbxFailed, err
	}
	p.Stages.CloneMethod = uint32(method)
	p.Stages.Pdeathsig = uint32(unix.SIGKILL)
	l := launch{
		plan:     p,
		stdio:    [3]uintptr{0, 1, 2},
		preserve: int(p.Process.PreserveFDs),
		tty:      c.TTY,
	}
	// From here on a signal is the sandbox's: the record made next is
	// undone whatever comes.
	holdSignals()

	recorded := true
	if err := createRecord(o.Name); err != nil {
		if !o.Unnamed || o.Detach || !errors.Is(err, state.ErrNoRoot) {
			return ExitSbxFailed, err
		}
		if cgroups.Manager != cgroupv2.None {
			// Its cgroup must be known to whoever removes it.
			return ExitSbxFailed, fmt.Errorf("%w (a sandbox with a cgroup needs a record; --cgroup-manager none runs it without)", err)
		}
		recorded = false
	}
	// Whatever fails from here on leaves no record behind.
	keep := !recorded
	defer func() {
		if !keep {
			state.Remove(o.Name)
		}
	}()
	// The sandbox's cgroup, made now or around stage 0; whatever fails
	// from here on removes it, and so does the end of an attached
	// sandbox.
	var cg *cgroupv2.Cgroup
	keepCgroup := false
	defer func() {
		if !keepCgroup {
			cgroupv2.Remove(cg)
		}
	}()
	if l.cgroup, err = placeInCgroup(cgroups, o.Name, c.Resources, &cg); err != nil {
		return ExitSbxFailed, err
	}
	if l.cgroup != nil {
		defer l.cgroup.close()
	}
	if o.Detach {
		p.Stages.Pdeathsig = 0
		p.Stages.LogMax = o.LogMax
		files, err := detachedStdio(o.Name)
		if err != nil {
			return ExitSbxFailed, err
		}
		defer closeAll(files)
		for i, f := range files {
			l.stdio[i] = f.Fd()
		}
		// No sbx reaps a detached sandbox's pid 1: it writes the
		// command's exit code to the record itself.
		exit, err := state.OpenExit(o.Name)
		if err != nil {
			return ExitSbxFailed, err
		}
		defer exit.Close()
		p.Stages.ExitFD = extraFD(l.preserve, len(l.extra))
		l.extra = append(l.extra, exit.Fd())
	}

	// The shares' host services (see services.go) start now, while the
	// stages run, and end with the sandbox's pid 1; a failed start ends
	// them at once. Their sockets go once the command runs.
	svc, err := startServices(grant.Services, &l)
	if err != nil {
		return ExitSbxFailed, err
	}
	servicesOn := false
	defer func() {
		if !servicesOn {
			svc.abort()
		}
		svc.removeSockets()
	}()

	net, err := prepareNetwork(p, &l, c.AllowUserns)
	if err != nil {
		return ExitSbxFailed, err
	}
	// Once the sandbox has ended (or failed to start), its network helper
	// is waited for; a detached sandbox keeps it.
	ended := true
	defer func() { net.close(ended) }()

	proc, err := start(&l)
	net.started()
	svc.handed()
	if err != nil {
		return ExitSbxFailed, err
	}
	if p.Network.UserMode() {
		proc.beforeGo = net.startHelper
	}
	proc.onExec = svc.removeSockets
	if err := svc.ready(); err != nil {
		proc.abort()
		return ExitSbxFailed, err
	}
	c.grant = grant
	if svc != nil {
		served := *grant
		served.Ops = append(svc.ops(), grant.Ops...)
		served.Services = nil
		c.grant = &served
	}
	notes, err := planRest(c, p)
	if err != nil {
		proc.abort()
		return ExitSbxFailed, err
	}
	p.Mounts = append(p.Mounts, netFiles(p.Network, p.Hostname, c.Rootfs != "")...)
	if cg != nil {
		p.Mounts = append(p.Mounts, cgroupMount)
	}
	stamp.Mark("parent.planned")
	for _, n := range notes {
		fmt.Fprintf(os.Stderr, "sbx: %s\n", n)
	}
	if err := proc.proceed(p); err != nil {
		return ExitSbxFailed, err
	}
	stamp.Mark("parent.started")
	rec := &plan.Record{Name: o.Name, Pid: uint32(proc.init), Created: time.Now().UnixNano(), Detached: o.Detach, Plan: *p}
	if cg != nil {
		rec.Cgroup, rec.CgroupUnit = cg.Dir, cg.Unit
	}
	if recorded {
		if err := recordProcess(rec); err != nil {
			proc.abort()
			return ExitSbxFailed, err
		}
		stamp.Mark("parent.recorded")
		proc.record, proc.initStart = rec.Name, rec.StartTime
	}
	// From now on the record is removed only while it is still ours.
	keep = true
	// An attached sandbox's record goes with it, after its cgroup: while
	// the cgroup stays, the record keeps it known (sbx ps removes both).
	removeRecord := !o.Detach && recorded
	defer func() {
		if removeRecord {
			state.RemoveIfOwned(o.Name, proc.init, rec.StartTime)
		}
	}()
	if o.Detach {
		code, err := proc.started()
		if err != nil {
			proc.abort()
			state.RemoveIfOwned(o.Name, proc.init, rec.StartTime)
			return code, err
		}
		keepCgroup = true
		ended = false
		servicesOn = true
		return 0, nil
	}
	code, err := proc.wait()
	// pid 1 is gone: so are its services, or nearly.
	servicesOn = true
	svc.wait()
	if cg != nil {
		reportOOM(cg)
		keepCgroup = true
		if rerr := cg.Remove(); rerr != nil {
			fmt.Fprintf(os.Stderr, "sbx: %v (sbx ps removes it later)\n", rerr)
			removeRecord = false
		}
	}
	return code, err
}

// createRecord reserves name for a new sandbox; a stale record that holds
// the name (see stale) is removed first.
func createRecord(name string) error {
	err := state.Create(name)
	if !errors.Is(err, state.ErrExists) {
		return err
	}
	if _, lerr := Lookup(name); !errors.Is(lerr, state.ErrNotFound) {
		return err
	}
	return state.Create(name)
}

// cgroupMount shows the sandbox its own cgroup at the usual place.
var cgroupMount = plan.Mount{Kind: plan.Cgroup, Dst: "/sys/fs/cgroup"}

// placeInCgroup makes the sandbox's cgroup with backend b, now (cgroupfs)
// or around stage 0 (systemd), and returns how stage 0 gets in it; *cg is
// the cgroup once it exists. It returns nil for no cgroup.
func placeInCgroup(b *cgroupv2.Backend, name string, r plan.Resources, cg **cgroupv2.Cgroup) (*placement, error) {
	switch {
	case b.Manager == cgroupv2.None:
		return nil, nil
	case b.NeedsProcess():
		return &placement{fd: -1, place: func(pid int) error {
			c, err := b.Adopt(name, r, pid)
			*cg = c
			return err
		}}, nil
	}
	c, err := b.Create(name, r)
	if err != nil {
		return nil, err
	}
	*cg = c
	fd, err := c.OpenLeaf()
	if err != nil {
		return nil, err
	}
	leaf := c.Leaf()
	return &placement{fd: fd, place: func(pid int) error { return cgroupv2.Place(leaf, pid) }}, nil
}

// reportOOM says so when the kernel killed processes of the sandbox for
// its memory limit (the monitor says the same when it has taken over).
func reportOOM(c *cgroupv2.Cgroup) {
	n, atLimit := c.OOMKills()
	if n == 0 {
		return
	}
	es := "es"
	if n == 1 {
		es = ""
	}
	if max := c.MemoryMax(); atLimit && max > 0 {
		fmt.Fprintf(os.Stderr, "sbx: the sandbox reached its memory limit (%s): the kernel killed %d process%s in it\n", cgroupv2.FormatBytes(max), n, es)
	} else {
		fmt.Fprintf(os.Stderr, "sbx: the sandbox ran out of memory: the kernel killed %d process%s in it\n", n, es)
	}
}

// recordProcess fills in the start time of the sandbox's pid 1 and saves
// the record.
func recordProcess(r *plan.Record) error {
	start, err := state.ChildStartTime(int(r.Pid))
	if err != nil {
		return fmt.Errorf("read start time of sandbox pid %d: %w", r.Pid, err)
	}
	r.StartTime = start
	return state.Save(r)
}

// detachedStdio opens /dev/null for stdin and the record's log for output.
func detachedStdio(name string) ([]*os.File, error) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	log, err := state.OpenLog(name)
	if err != nil {
		null.Close()
		return nil, err
	}
	return []*os.File{null, log, log}, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

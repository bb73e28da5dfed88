package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/stamp"
	"golang.org/x/sys/unix"
)

// The launcher: how a planned sandbox (or a joining process) is started and
// waited for. Every start takes the same road, for sbx run and sbx exec:
//
//  1. start re-executes sbx with the init socket; the C constructor is
//     stage 0 (nsexec), which gets the stages' part of the plan; sbx run
//     plans the rest meanwhile;
//  2. proceed reads the stage reports
//     until the sandbox's pid 1 exists. Here, between "pid 1 exists" and
//     "pid 1 may go on", is where what must act on the sandbox's processes
//     from the host before its command runs plugs in: a network's parent
//     driver (it needs pid 1's network namespace), a cgroup when the kernel
//     cannot place pid 1 with CLONE_INTO_CGROUP, the OCI runtime's
//     createRuntime hooks. Then it sends the go-ahead and the whole plan
//     to the Go init;
//  3. wait relays signals (and the terminal) until pid 1 exits, or hands
//     the sandbox over to the C monitor once its command has run a while.

// caught holds the signals sbx forwards to a sandbox, caught once per
// process (see CatchSignals).
var caught struct {
	once sync.Once
	// in is where signal.Notify delivers; out is what the launcher reads,
	// once it holds the signals (held).
	in, out chan os.Signal
	held    atomic.Bool
	// relayed is closed when the relay from in to out has ended (see
	// stopCatching).
	relayed chan struct{}
}

// CatchSignals starts catching the signals sbx forwards to a sandbox, in
// the background: the first signal.Notify of a process starts Go's signal
// threads, which takes a good part of a millisecond that overlaps with the
// planning when sbx calls this first thing. Until the launcher holds them
// (holdSignals), a signal ends sbx as it would end any program: nothing
// has been made yet, and planning may wait on a path the user named.
func CatchSignals() {
	caught.once.Do(func() {
		caught.in = make(chan os.Signal, 16)
		caught.out = make(chan os.Signal, 16)
		caught.relayed = make(chan struct{})
		go func() {
			defer close(caught.relayed)
			signal.Notify(caught.in, ForwardedSignals...)
			for sig := range caught.in {
				if !caught.held.Load() && sig != unix.SIGWINCH {
					// Its default action, which ends the process.
					signal.Reset(sig)
					unix.Kill(os.Getpid(), sig.(syscall.Signal))
				}
				select {
				case caught.out <- sig:
				default: // a full buffer drops it, as signal.Notify does
				}
			}
		}()
	})
}

// holdSignals keeps the forwarded signals for the sandbox from now on, and
// returns the channel they come on. It is the first step of a start, before
// anything that must be undone exists.
func holdSignals() chan os.Signal {
	CatchSignals()
	caught.held.Store(true)
	return caught.out
}

// stopCatching ends the relay for good, and returns once every signal Go
// caught before it has reached the launcher's channel, and the channel
// that catches them from now on. The signals stay caught: a thread Go
// starts after handOver blocked them runs with them unblocked (Go unblocks
// SIGINT and SIGTERM in each new thread), and a signal Go caught for no
// one would end sbx. signal.Stop returns once Go's delivery to the relay's
// channel is idle; the relay then passes on what it holds and ends.
func stopCatching() chan os.Signal {
	CatchSignals()
	late := make(chan os.Signal, 16)
	signal.Notify(late, ForwardedSignals...)
	signal.Stop(caught.in)
	close(caught.in)
	<-caught.relayed
	return late
}

// launch is what start needs: the plan (for the C stages and the Go init
// alike), the command's stdio, how many of the caller's descriptors from 3
// on go to the command, and any descriptor the plan's stages refer to
// (passed right after the init socket; see extraFD).
type launch struct {
	plan     *plan.Plan
	stdio    [3]uintptr
	preserve int
	extra    []uintptr
	tty      bool
	// join names the sandbox that sbx exec joins: its joining process is
	// bounded (see joinGuard).
	join string
	// cgroup, if not nil, puts stage 0, and so every process of the
	// sandbox, in the sandbox's cgroup before it reads the plan.
	cgroup *placement
}

// placement is how stage 0 gets into the sandbox's cgroup: created in it
// (CLONE_INTO_CGROUP, with fd), or moved there by place right after it
// started, before it reads the plan and so before it starts any other
// process.
type placement struct {
	// fd is the cgroup's directory, or -1.
	fd int
	// place moves stage 0 when fd is -1, or when the kernel could not
	// create it in fd's cgroup (no clone3, or the caller may not move
	// processes there itself).
	place func(pid int) error
}

// close closes the cgroup's directory, if open.
func (pl *placement) close() {
	if pl.fd >= 0 {
		unix.Close(pl.fd)
		pl.fd = -1
	}
}

// extraFD is the descriptor number stage 0 finds the i-th extra descriptor
// at: after stdio, the preserved descriptors and the init socket.
func extraFD(preserve, i int) uint32 { return uint32(3 + preserve + 1 + i) }

// process is a started sandbox, seen from the sbx parent.
type process struct {
	sock  *os.File // our end of the init socket
	stage int      // pid of stage 0
	init  int      // host pid of the sandbox's pid 1 (stage 2)
	sigs  chan os.Signal
	tty   bool // the init sends a pty master first
	// record and initStart name the sandbox's record, if it has one, and
	// the start time of its pid 1, for the monitor (see handOver).
	record    string
	initStart uint64
	// join bounds the joining process of sbx exec (nil for sbx run).
	join *joinGuard
	// beforeGo, if set, acts on the sandbox from the host once its pid 1
	// exists and before it may go on: the slot of the network helper.
	beforeGo func(pid1 int) error
	// term relays the terminal of an OCI container run attached.
	term *terminal
	// onExec, if set, runs once the Go init has exec'd the command (or
	// is gone): the view is made, nothing of the host is opened by path
	// for it any more.
	onExec func()
}

// JoinBound is how long the joining process of sbx exec may take from its
// creation to the exec of the command. It runs inside the sandbox's PID
// namespace as the sandbox's own uid, so the sandbox can stop it (SIGSTOP)
// or make it wait (a FIFO where the Go runtime reads a file at its start);
// past the bound sbx kills it and fails with one line. A join takes about
// 10 ms; the bound leaves room for a machine under heavy load.
const JoinBound = 10 * time.Second

// joinGuard ends a joining process that has not exec'd the command yet:
// at JoinBound, or at once on INT, TERM or HUP (it may be stopped, when a
// forwarded signal would wait with it). It is done once the init socket
// has closed, before the process is reaped, so that it never kills a pid
// that is no longer ours.
type joinGuard struct {
	name     string
	mu       sync.Mutex
	done     bool
	timer    *time.Timer
	timedOut bool
	signal   syscall.Signal
}

// arm starts the bound, once the joining process exists.
func (p *process) arm() {
	if p.join == nil {
		return
	}
	p.join.mu.Lock()
	defer p.join.mu.Unlock()
	p.join.timer = time.AfterFunc(JoinBound, func() { p.endJoin(0) })
}

// endJoin kills the joining process if it has not exec'd the command, for
// sig (0: the bound), and reports whether it did.
func (p *process) endJoin(sig syscall.Signal) bool {
	g := p.join
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done || p.execed() {
		return false
	}
	g.done = true
	if g.timer != nil {
		g.timer.Stop()
	}
	if sig == 0 {
		g.timedOut = true
	} else {
		g.signal = sig
	}
	unix.Kill(p.init, unix.SIGKILL)
	return true
}

// execed reports whether the joining process has exec'd the command: its
// end of the init socket is closed (end of file, seen without reading),
// though sbx may not have read that far yet.
func (p *process) execed() bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(int(p.sock.Fd()), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n == 0
}

// joined ends the guard: the command was exec'd, or the joining process is
// gone. It returns the exit code and error to end with if the guard killed
// it.
func (p *process) joined() (int, error) {
	g := p.join
	if g == nil {
		return 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	if g.timer != nil {
		g.timer.Stop()
	}
	switch {
	case g.timedOut:
		err := fmt.Errorf("the process joining sandbox %s did not start the command within %v (stopped, or held by something in the sandbox): killed it", g.name, JoinBound)
		return ExitSbxFailed, &ExitError{Code: ExitSbxFailed, Err: err}
	case g.signal != 0:
		// As if the command had been killed by it.
		return 128 + int(g.signal), nil
	}
	return 0, nil
}

// endsJoin are the signals that end a joining process that has not exec'd
// the command yet: the ones that end a command by default.
func endsJoin(s syscall.Signal) bool {
	return s == unix.SIGINT || s == unix.SIGTERM || s == unix.SIGHUP
}

// start re-executes sbx with the init socket as stage 0 and sends it the
// stages' part of the plan (l.plan.Stages): the stages make the namespaces
// and id maps from it while the caller may plan the rest; proceed goes on
// with the whole plan.
func start(l *launch) (*process, error) {
	if fd := stamp.FD(); fd >= 0 {
		l.plan.Stages.StampFD = extraFD(l.preserve, len(l.extra))
		l.extra = append(l.extra, uintptr(fd))
	}
	// Descriptors sbx inherited from its caller stay out of the sandbox's
	// setup: only those passed below (stdio, --preserve-fds, the init
	// socket, the bootstrap's own) reach stage 0, so that no host directory
	// is ever open in the Go init (runc CVE-2024-21626).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
			return nil, errors.New("this kernel has no close_range(2) with CLOSE_RANGE_CLOEXEC: sbx needs Linux 5.12 or newer")
		}
		return nil, fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create init socket: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "init-socket")
	child := os.NewFile(uintptr(fds[1]), "init-socket-child")

	// Signals that arrive while the sandbox starts are kept for it.
	sigs := holdSignals()

	// With a terminal of its own, nothing in the sandbox gets the
	// caller's stdio: not the sandbox's pid 1, which keeps its 0, 1 and 2
	// for its whole life, nor a joining process before it has the pty
	// (a sandbox given CAP_SYS_PTRACE could open the caller's terminal
	// through /proc/PID/fd/0 of either). The pty is relayed by sbx.
	stdio := l.stdio
	if l.tty {
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		defer null.Close()
		stdio = [3]uintptr{null.Fd(), null.Fd(), null.Fd()}
	}
	// syscall.ForkExec rather than os/exec: it passes exactly these
	// descriptors and skips os/exec's pidfd probe, a fork of its own.
	files := []uintptr{stdio[0], stdio[1], stdio[2]}
	for fd := 3; fd < 3+l.preserve; fd++ {
		files = append(files, uintptr(fd))
	}
	files = append(files, child.Fd())
	files = append(files, l.extra...)
	attr := &syscall.ProcAttr{
		Env:   []string{nsexec.InitPipeEnv + "=" + strconv.Itoa(3+l.preserve)},
		Files: files,
	}
	placed := false
	if l.cgroup != nil && l.cgroup.fd >= 0 {
		attr.Sys = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: l.cgroup.fd}
	}
	stage, err := syscall.ForkExec("/proc/self/exe", []string{"sbx", "init"}, attr)
	if attr.Sys != nil {
		placed = err == nil
		if (err == unix.ENOSYS || err == unix.EACCES || err == unix.EPERM) && l.cgroup.place != nil {
			// No clone3 (ENOSYS), or no right to create a process
			// there from here (EACCES): start it, then move it. Not
			// on EAGAIN: a full pids.max, which a move would pass.
			attr.Sys = nil
			stage, err = syscall.ForkExec("/proc/self/exe", []string{"sbx", "init"}, attr)
		}
	}
	child.Close()
	if err != nil {
		parent.Close()
		signal.Stop(sigs)
		return nil, fmt.Errorf("start sbx stage 0: %w", err)
	}
	p := &process{sock: parent, stage: stage, sigs: sigs, tty: l.tty}
	if l.cgroup != nil && !placed {
		stamp.Mark("parent.cgroup")
		if err := l.cgroup.place(stage); err != nil {
			p.abort()
			return nil, err
		}
		stamp.Mark("parent.placed")
	}
	if l.join != "" {
		p.join = &joinGuard{name: l.join}
	}
	if err := nsexec.WriteFrame(p.sock, nsexec.MsgBootstrap, l.plan.EncodeStages()); err != nil {
		// Stage 0 is gone: its report, if any, says why.
		if se := p.pendingStageError(); se != nil {
			err = se
		} else {
			err = fmt.Errorf("send the plan to sbx stage 0: %w", err)
		}
		p.abort()
		return nil, err
	}
	return p, nil
}

// proceed finishes a start with the whole plan pl (the one whose stage part
// start sent): it reads the stage reports until the sandbox's pid 1
// exists, lets it go on and hands the Go init the plan.
func (p *process) proceed(pl *plan.Plan) error {
	if err := p.handshake(pl); err != nil {
		// A joining process killed at the bound breaks the handshake.
		if _, jerr := p.joined(); jerr != nil {
			err = jerr
		}
		p.abort()
		return err
	}
	return nil
}

// handshake collects the stage reports and, once the sandbox's pid 1
// exists, lets it go on and sends the plan to the Go init (encoded after
// beforeGo, which may complete it).
func (p *process) handshake(pl *plan.Plan) error {
	stage1 := 0
	defer func() {
		if stage1 > 0 {
			reap(stage1)
		}
	}()
	for p.init == 0 {
		typ, payload, err := nsexec.ReadFrame(p.sock)
		if errors.Is(err, io.EOF) {
			return errors.New("sandbox setup ended without a report (a stage crashed?)")
		}
		if err != nil {
			return fmt.Errorf("read sandbox setup report: %w", err)
		}
		switch typ {
		case nsexec.MsgError:
			se, err := nsexec.DecodeStageError(payload)
			if err != nil {
				return err
			}
			return explainStageError(se)
		case nsexec.MsgStage1PID:
			if stage1, err = nsexec.DecodePID(payload); err != nil {
				return err
			}
		case nsexec.MsgStage2PID:
			if p.init, err = nsexec.DecodePID(payload); err != nil {
				return err
			}
			p.arm()
		default:
			return fmt.Errorf("unexpected frame %d during sandbox setup", typ)
		}
	}
	if ws := reap(p.stage); !ws.Exited() || ws.ExitStatus() != 0 {
		p.stage = 0
		return fmt.Errorf("sbx stage 0 failed (wait status %#x)", int(ws))
	}
	p.stage = 0
	if p.beforeGo != nil {
		stamp.Mark("parent.slot")
		if err := p.beforeGo(p.init); err != nil {
			return err
		}
		stamp.Mark("parent.slotted")
	}
	err := nsexec.WriteFrame(p.sock, nsexec.MsgContinue, nil)
	if err == nil {
		err = nsexec.WriteFrame(p.sock, nsexec.MsgPlan, pl.Encode())
	}
	if err != nil {
		// Stage 2 is gone: its report, if any, says why.
		if se := p.pendingStageError(); se != nil {
			return se
		}
		return fmt.Errorf("send the plan to the sandbox: %w", err)
	}
	return nil
}

// pendingStageError returns a failure report waiting on the socket.
func (p *process) pendingStageError() error {
	for {
		typ, payload, err := nsexec.ReadFrame(p.sock)
		if err != nil {
			return nil
		}
		if typ == nsexec.MsgError {
			if se, err := nsexec.DecodeStageError(payload); err == nil {
				return explainStageError(se)
			}
		}
	}
}

// explainStageError adds the fix to failures a user can do something about.
func explainStageError(se *nsexec.StageError) error {
	switch {
	case se.Stage == 0 && se.Errno == 0:
		// newuidmap/newgidmap refused: the usual cause is /etc/sub[ug]id.
		return fmt.Errorf("%w (check /etc/subuid and /etc/subgid, or use --map single; run `sbx check` for details)", se)
	case se.Stage == 1 && (se.Errno == unix.EPERM || se.Errno == unix.ENOSPC || se.Errno == unix.EACCES):
		return fmt.Errorf("%w (unprivileged user namespaces may be disabled: run `sbx check` for details)", se)
	}
	return se
}

// readInitReports reads the socket until the Go init has exec'd the
// command (its end closes) and returns the failure it reported, if any.
func (p *process) readInitReports() *InitError {
	var initErr *InitError
	for {
		typ, payload, err := nsexec.ReadFrame(p.sock)
		if err != nil {
			return initErr // EOF: exec'd, or gone; the wait status tells
		}
		if ie := decodeReport(typ, payload); ie != nil {
			initErr = ie
		}
	}
}

// decodeReport turns a failure report of the Go init or of stage 2 (which
// can fail after it has been reported) into an InitError.
func decodeReport(typ uint32, payload []byte) *InitError {
	switch typ {
	case nsexec.MsgInitError:
		ie, err := plan.DecodeReport(payload)
		if err != nil {
			ie = &InitError{Message: fmt.Sprintf("undecodable error from sandbox init: %v", err), Code: ExitSbxFailed}
		}
		return ie
	case nsexec.MsgError:
		msg := "undecodable error report from stage 2"
		if se, err := nsexec.DecodeStageError(payload); err == nil {
			msg = explainStageError(se).Error()
		}
		return &InitError{Message: msg, Code: ExitSbxFailed}
	}
	return nil
}

// abort kills whatever the setup has started so far and reaps it. Before
// pid 1 has its go-ahead, every stage (and a newuidmap stage 0 runs) is in
// the process group stage 0 leads (it starts a session of its own first),
// also those whose pids have not been reported yet; stages 1 and 2 are
// sbx's own children.
func (p *process) abort() {
	p.joined()
	if p.init > 0 {
		unix.Kill(p.init, unix.SIGKILL)
		reap(p.init)
		p.init = 0
	}
	if p.stage > 0 {
		unix.Kill(-p.stage, unix.SIGKILL)
		unix.Kill(p.stage, unix.SIGKILL)
		reap(p.stage)
		for {
			var ws unix.WaitStatus
			if _, err := unix.Wait4(-p.stage, &ws, 0, nil); err != nil && err != unix.EINTR {
				break // ECHILD: none left
			}
		}
		p.stage = 0
	}
	p.sock.Close()
}

// wait forwards signals to the sandbox until its pid 1 exits, and returns
// the command's exit code. Signals act from the start, also while -t waits
// for the terminal: forwarded to the sandbox's pid 1, or, for a joining
// process that has not exec'd the command yet, INT, TERM and HUP end it
// (see joinGuard).
func (p *process) wait() (int, error) {
	defer p.sock.Close()
	var term atomic.Pointer[terminal]
	done := make(chan struct{})
	forwarding := make(chan struct{})
	go func() {
		defer close(forwarding)
		for {
			select {
			case s := <-p.sigs:
				sig := s.(syscall.Signal)
				if endsJoin(sig) && p.endJoin(sig) {
					continue
				}
				if sig == unix.SIGWINCH && p.tty {
					// The terminal takes the size when it
					// comes; the command gets SIGWINCH from it.
					if t := term.Load(); t != nil {
						t.resize()
					}
					continue
				}
				p.forward(sig)
			case <-done:
				return
			}
		}
	}()
	stopForwarding := sync.OnceFunc(func() {
		close(done)
		<-forwarding
	})
	// The signals stay caught: sbx ends once the sandbox has, and one
	// that comes now is not for a command that is gone (signal.Stop would
	// cost a wait for Go's signal goroutine to go idle).
	defer stopForwarding()

	if p.tty {
		master, ie := p.receiveConsole()
		if ie != nil {
			code, err := p.joined()
			reap(p.init)
			if err != nil || code != 0 {
				return code, err
			}
			return ie.Code, &ExitError{Code: ie.Code, Err: ie}
		}
		if master != nil {
			t := attach(master)
			term.Store(t)
			defer t.detach()
			// Sized: the command may start. If the init is gone
			// already, its report or its wait status says why.
			nsexec.WriteFrame(p.sock, nsexec.MsgContinue, nil)
		}
	}

	initErr := p.readInitReports()
	if p.onExec != nil {
		p.onExec()
	}
	code, joinErr := p.joined()
	if joinErr != nil || code != 0 {
		reap(p.init)
		return code, joinErr
	}
	if initErr == nil && !p.tty && !exitsWithin(p.init, handOverAfter) {
		stopForwarding()
		err := p.handOver()
		// Still here: the exec failed. Wait the Go way, and say why the
		// lighter way did not work.
		fmt.Fprintf(os.Stderr, "sbx: %v\n", err)
		go func() {
			for s := range p.sigs {
				p.forward(s.(syscall.Signal))
			}
		}()
	}
	status := reap(p.init)
	stamp.Mark("parent.reaped")
	code = exitCode(status)
	if initErr != nil {
		return initErr.Code, &ExitError{Code: initErr.Code, Err: initErr}
	}
	return code, nil
}

// forward passes sig on to the sandbox. sbx run's child is the sandbox's
// pid 1, which forwards it to the command's process group itself; sbx
// exec's is the command, which leads a process group of its own once it
// runs (the joining process starts a session): the signal goes to that
// group, the command's job, as a terminal's would, or to the process alone
// while it leads none yet.
func (p *process) forward(sig syscall.Signal) {
	if p.join != nil && unix.Kill(-p.init, sig) != unix.ESRCH {
		return
	}
	unix.Kill(p.init, sig)
}

// started waits until the command has been executed (the Go init's end
// of the socket closes) or the init reports why it could not.
func (p *process) started() (int, error) {
	defer p.sock.Close()
	ie := p.readInitReports()
	if p.onExec != nil {
		p.onExec()
	}
	if ie != nil {
		reap(p.init)
		return ie.Code, &ExitError{Code: ie.Code, Err: ie}
	}
	return 0, nil
}

// reap waits for a child of ours that os/exec did not start.
func reap(pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return ws
		}
	}
}

func exitCode(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return ExitSbxFailed
}

// Package inside is the code that runs inside a new or joined sandbox,
// with every capability of its user namespace until it execs the command:
// the Go init of a new sandbox (Init), which builds the view of the plan
// and execs its command, and the joining process of sbx exec (ExecInit).
// Both read the plan from the init socket; neither decides anything the
// plan does not say. The C stages (nsexec) have made the namespaces and
// the maps before either starts.
package inside

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
	"github.com/sbx-sandbox/sbx/stamp"
)

// Exit codes, as podman has them (nsexec/sbxwire.h).
const (
	exitFailed        = nsexec.ExitSbxFailed
	exitCannotExecute = nsexec.ExitCannotExecute
	exitNotFound      = nsexec.ExitNotFound
)

// codeError is a failure with the exit code sbx ends with.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// Init is the Go init of a new sandbox: pid 2 of its PID namespace. It
// reads the plan, builds the view, and execs the command. It never
// returns: on failure it reports to the sbx parent and exits with the code
// to use.
func Init() {
	// Thread-scoped state (prctl settings, later seccomp) must be set on
	// the thread that execs.
	runtime.LockOSThread()
	stamp.Use(nsexec.StampFD())
	stamp.Mark("init.main")
	sock := nsexec.InitSocket()
	reportAndExit(sock, initSandbox(sock))
}

// ExecInit is the Go side of a process that joined a running sandbox: it
// takes on the plan's ids and working directory and execs the command.
// It never returns.
func ExecInit() {
	runtime.LockOSThread()
	stamp.Use(nsexec.StampFD())
	stamp.Mark("exec.main")
	sock := nsexec.InitSocket()
	reportAndExit(sock, execInit(sock))
}

// reportAndExit sends why the command could not be exec'd to the sbx
// parent and exits with the code to use.
func reportAndExit(sock *os.File, err error) {
	code := exitFailed
	var ce *codeError
	if errors.As(err, &ce) {
		code = ce.code
	}
	r := plan.Report{Code: code, Message: err.Error()}
	if nsexec.WriteFrame(sock, nsexec.MsgInitError, r.Encode()) != nil {
		fmt.Fprintf(os.Stderr, "sbx: %v\n", err)
	}
	os.Exit(code)
}

// readPlan reads the plan the sbx parent sends.
func readPlan(sock *os.File) (*plan.Plan, error) {
	typ, payload, err := nsexec.ReadFrame(sock)
	if err != nil {
		return nil, fmt.Errorf("read the plan: %w", err)
	}
	if typ != nsexec.MsgPlan {
		return nil, fmt.Errorf("expected the plan, got frame %d", typ)
	}
	p, err := plan.Decode(payload)
	if err != nil {
		return nil, err
	}
	if len(p.Process.Args) == 0 {
		return nil, errors.New("the plan has no command")
	}
	return p, nil
}

func initSandbox(sock *os.File) error {
	p, err := readPlan(sock)
	if err != nil {
		return err
	}
	stamp.Mark("init.plan")
	// An OCI config's user namespace need not map the runtime's own ids
	// (podman --uidmap 0:1:1000): the view is then built as its root.
	if p.Stages.CloneFlags&unix.CLONE_NEWUSER != 0 {
		if err := becomeMappedRoot(); err != nil {
			return err
		}
	}
	// A network namespace of the sandbox's own (not the host's, nor one
	// joined with --net sandbox:NAME) starts with lo down.
	if p.Stages.CloneFlags&unix.CLONE_NEWNET != 0 {
		if err := setUpNetwork(); err != nil {
			return err
		}
	}
	if err := buildView(p); err != nil {
		return err
	}
	stamp.Mark("init.view")
	// An OCI config without a hostname leaves the UTS namespace's.
	if p.Hostname != "" {
		if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", p.Hostname, err)
		}
	}
	// In a user namespace of its own the map gave the ids (sbx run maps
	// the caller to them); in one joined with --net sandbox:NAME, or none
	// of its own (an OCI config), or where the config maps other ids,
	// they are taken on now.
	pr := &p.Process
	ids := func() error { return switchIDs(pr.UID, pr.GID, pr.AdditionalGids) }
	return finishAndExec(sock, p, ids)
}

func execInit(sock *os.File) error {
	p, err := readPlan(sock)
	if err != nil {
		return err
	}
	pr := &p.Process
	if pr.GIDFromPasswd {
		if pr.GID, err = primaryGID(pr.UID, pr.GID); err != nil {
			return err
		}
	}
	return finishAndExec(sock, p, func() error { return switchIDs(pr.UID, pr.GID, pr.AdditionalGids) })
}

// switchIDs takes on the ids inside, when they differ from the ones the
// process got from the user namespace's map, and the supplementary groups
// groups, if any are asked.
func switchIDs(uid, gid uint32, groups []uint32) error {
	switch {
	case groups != nil:
		gs := make([]int, len(groups))
		for i, g := range groups {
			gs[i] = int(g)
		}
		// A user namespace with setgroups denied keeps the groups it
		// has: none asked is what runc does there too.
		if err := unix.Setgroups(gs); err != nil && !(len(gs) == 0 && errors.Is(err, unix.EPERM)) {
			return fmt.Errorf("set supplementary groups %v: %w (are they mapped, and may the sandbox set groups?)", groups, err)
		}
	case uint32(unix.Getegid()) != gid:
		// Supplementary groups go first, where the namespace allows it.
		if err := unix.Setgroups(nil); err != nil && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("drop supplementary groups: %w", err)
		}
	}
	if uint32(unix.Getegid()) != gid {
		if err := unix.Setresgid(int(gid), int(gid), int(gid)); err != nil {
			return fmt.Errorf("--gid %d: %w (is it mapped in the sandbox?)", gid, err)
		}
	}
	if uint32(unix.Geteuid()) != uid {
		if err := unix.Setresuid(int(uid), int(uid), int(uid)); err != nil {
			return fmt.Errorf("--uid %d: %w (is it mapped in the sandbox?)", uid, err)
		}
	}
	return nil
}

// setUpNetwork brings up lo of the sandbox's fresh network namespace (its
// sysctls are the plan's, see writeSysctls).
func setUpNetwork() error {
	return loopbackUp()
}

// loopbackUp brings up lo, the only interface of a fresh network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: set flags: %w", err)
	}
	return nil
}

// becomeMappedRoot switches to uid and gid 0 of the user namespace when
// the ids the process has are not mapped in it (they read as the overflow
// ids) and 0 is.
func becomeMappedRoot() error {
	// The start path of every sandbox comes here: ids other than the
	// kernel's default overflow ids are mapped, nothing to read.
	const overflowID = 65534
	if unix.Getuid() != overflowID && unix.Getgid() != overflowID {
		return nil
	}
	for _, m := range []struct {
		file string
		id   int
		set  func() error
	}{
		{"/proc/self/gid_map", unix.Getgid(), func() error { return unix.Setresgid(0, 0, 0) }},
		{"/proc/self/uid_map", unix.Getuid(), func() error { return unix.Setresuid(0, 0, 0) }},
	} {
		b, err := os.ReadFile(m.file)
		if err != nil {
			return fmt.Errorf("read %s: %w", m.file, err)
		}
		if mapsID(string(b), m.id) || !mapsID(string(b), 0) {
			continue
		}
		if err := m.set(); err != nil {
			return fmt.Errorf("take on id 0 of the user namespace (%s does not map the runtime's own): %w", m.file, err)
		}
	}
	return nil
}

// mapsID reports whether id is an inside id of the map (uid_map format).
func mapsID(idMap string, id int) bool {
	for _, l := range strings.Split(idMap, "\n") {
		var inside, outside, count int
		if n, _ := fmt.Sscan(l, &inside, &outside, &count); n == 3 && id >= inside && id < inside+count {
			return true
		}
	}
	return false
}

// Package state keeps the records of named sandboxes: one directory per
// sandbox under $XDG_RUNTIME_DIR/sbx (or a private directory of the user's
// when that is unset), holding the file "plan": a plan.Record in the wire
// format (the sandbox's pid 1 and the plan it was started with), written
// atomically, and a detached sandbox's log and exit code.
//
// A record names the sandbox's pid 1 together with its start time, so that
// a reused pid is never taken for the sandbox: a record whose process is
// gone, or is another process now, reads as exited.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// Status of a sandbox.
const (
	Creating = "creating" // reserved, record not written yet
	Running  = "running"
	Exited   = "exited"
)

// creatingGrace is how long a reserved name without a record reads as
// creating; after that it is taken for the leftover of a crash.
const creatingGrace = time.Minute

// RecordFile is the name of the record in a sandbox's directory;
// oldRecordFile that of a record of sbx before the plan (JSON); ExitFile
// that of a detached sandbox's exit code, KilledFile the mark of its kill
// by sbx (see MarkKilled), and LogFile that of its output.
const (
	RecordFile    = "plan"
	oldRecordFile = "state.json"
	ExitFile      = "exit"
	KilledFile    = "killed"
	LogFile       = "log"
)

// State is a record of one sandbox as sbx reads it, with its status now.
type State struct {
	Name    string
	Pid     int
	Status  string
	Created time.Time
	// Detached sandboxes outlive their sbx parent and stay listed after
	// they exit, until sbx rm.
	Detached bool
	// StartTime is the start time of Pid in clock ticks since boot, from
	// /proc/PID/stat: with Pid it identifies the process.
	StartTime uint64
	// Plan is the plan the sandbox was started with; nil while it is
	// being created, and in a record an older sbx wrote (Old).
	Plan *plan.Plan
	// Cgroup is the directory of the sandbox's cgroup, "" for none, and
	// CgroupUnit the systemd scope it is in, if any.
	Cgroup, CgroupUnit string
	// ExitCode is the exit code of an exited detached sandbox's command
	// (128+N for signal N), nil while it runs and when it is not known:
	// a sandbox run attached, or whose pid 1 was killed.
	ExitCode *int
	// Old marks a record written by an older sbx: it can be listed,
	// signalled and removed, not joined.
	Old        bool
	oldCommand []string
}

// Command is the sandbox's command.
func (s *State) Command() []string {
	if s.Plan == nil {
		return s.oldCommand
	}
	return s.Plan.Process.Args
}

// validName reports whether name is 1 to 64 letters, digits, '_', '.' and
// '-', starting with a letter or digit. (A regexp would do, but compiling
// one costs a quarter of a millisecond at every start of sbx.)
func validName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i, c := range []byte(name) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// CheckName checks a sandbox name.
func CheckName(name string) error {
	if !validName(name) {
		return fmt.Errorf("bad sandbox name %q: use up to 64 letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// RootPath returns the directory that holds every record, without
// creating it: $XDG_RUNTIME_DIR/sbx, or sbx-UID in $TMPDIR (or /tmp) when
// XDG_RUNTIME_DIR is unset. No sandbox may see it (see sandbox.NewPlan):
// sbx exec believes what a record says about a sandbox's security.
func RootPath() string {
	if rootOverride != "" {
		return rootOverride
	}
	// A relative value is invalid (the XDG base directory specification)
	// and ignored: records relative to the working directory could land
	// where a sandbox can write.
	if base := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(base) {
		return filepath.Join(base, "sbx")
	}
	tmp := os.TempDir()
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, fmt.Sprintf("sbx-%d", os.Getuid()))
}

// rootOverride, if set, is where the records are instead (SetRootPath).
var rootOverride string

// SetRootPath makes dir (absolute) the directory of every record from now
// on: the OCI runtime's --root, or its default.
func SetRootPath(dir string) { rootOverride = filepath.Clean(dir) }

// WriteFile writes a file of a record's own next to it (the OCI runtime's
// config of a container), private, replaced atomically.
func WriteFile(name, file string, data []byte) error {
	dir, err := Dir(name)
	if err != nil {
		return err
	}
	if err := checkPrivate(dir, unix.S_IFDIR); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+file+"-*")
	if err != nil {
		return fmt.Errorf("write %s of %s: %w", file, name, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, file))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s of %s: %w", file, name, err)
	}
	return nil
}

// ReadFile reads a file WriteFile wrote, checked to be private.
func ReadFile(name, file string) ([]byte, error) {
	dir, err := Dir(name)
	if err != nil {
		return nil, err
	}
	return readPrivate(dir, file)
}

// ErrNoRoot marks the failures of Root: there is no state directory sbx
// may use (a read-only or foreign place).
var ErrNoRoot = errors.New("no usable state directory")

// rootError is a failure of Root, which is an ErrNoRoot.
type rootError struct{ err error }

func (e *rootError) Error() string         { return e.err.Error() }
func (e *rootError) Unwrap() []error       { return []error{e.err, ErrNoRoot} }
func noRoot(format string, a ...any) error { return &rootError{fmt.Errorf(format, a...)} }

// Root returns the directory holding every record, creating it (0700).
func Root() (string, error) {
	dir := RootPath()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", noRoot("create state directory %s: %w", dir, err)
	}
	// The fallback lives in a shared directory: it must be ours alone.
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", noRoot("state directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Getuid() || st.Mode&0o077 != 0 {
		return "", noRoot("state directory %s is not a private directory of yours (mode %o, owner %d): remove it or set XDG_RUNTIME_DIR", dir, st.Mode&0o7777, st.Uid)
	}
	return dir, nil
}

// ErrNotFound is returned for a name without a record, ErrExists by
// Create for a name that has one.
var (
	ErrNotFound = errors.New("no such sandbox")
	ErrExists   = errors.New("name taken")
)

// existsError is Create's error for a name that is taken.
type existsError struct{ name string }

func (e *existsError) Error() string {
	return fmt.Sprintf("a sandbox named %q already exists: pick another name, or remove it with sbx rm %s (or run --replace)", e.name, e.name)
}

func (e *existsError) Is(target error) bool { return target == ErrExists }

// Create reserves name: exactly one of several concurrent callers wins.
func Create(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	root, err := Root()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return &existsError{name}
		}
		if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return noRoot("create state for %s: %w", name, err)
		}
		return fmt.Errorf("create state for %s: %w", name, err)
	}
	// What sbx writes in it (the record, the log) must land in the
	// directory just made: checked, never a link.
	return checkPrivate(dir, unix.S_IFDIR)
}

// Save writes the record atomically: a temporary file renamed over it.
func Save(r *plan.Record) error {
	root, err := Root()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, r.Name)
	tmp, err := os.CreateTemp(dir, ".plan-*")
	if err != nil {
		return fmt.Errorf("write the record of %s: %w", r.Name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(r.Encode()); err != nil {
		tmp.Close()
		return fmt.Errorf("write the record of %s: %w", r.Name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the record of %s: %w", r.Name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, RecordFile)); err != nil {
		return fmt.Errorf("write the record of %s: %w", r.Name, err)
	}
	return nil
}

// Load reads a record and fills in its current status.
func Load(name string) (*State, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	root, err := Root()
	if err != nil {
		return nil, err
	}
	b, err := readPrivate(filepath.Join(root, name), RecordFile)
	if errors.Is(err, os.ErrNotExist) {
		if s, err := loadOld(filepath.Join(root, name), name); err == nil {
			return s, nil
		}
		if st, err := os.Stat(filepath.Join(root, name)); err == nil {
			// Reserved, not yet written (starting) or left by a crash
			// before the first write.
			status := Exited
			if time.Since(st.ModTime()) < creatingGrace {
				status = Creating
			}
			return &State{Name: name, Status: status, Created: st.ModTime()}, nil
		}
		return nil, fmt.Errorf("%w %q (see sbx ps)", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", name, err)
	}
	r, err := plan.DecodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("the record of %s is damaged, or written by another version of sbx (%v): remove it with sbx rm %s", name, err, name)
	}
	s := &State{Name: r.Name, Pid: int(r.Pid), StartTime: r.StartTime, Created: time.Unix(0, r.Created),
		Detached: r.Detached, Plan: &r.Plan, Status: Exited, Cgroup: r.Cgroup, CgroupUnit: r.CgroupUnit}
	if s.Pid > 0 && Alive(s.Pid, s.StartTime) {
		s.Status = Running
	} else if s.Detached {
		s.ExitCode = readExit(filepath.Join(root, name))
	}
	return s, nil
}

// readExit reads the exit code pid 1 wrote in the record's directory dir;
// without one, 137 if sbx killed it (MarkKilled); else nil.
func readExit(dir string) *int {
	if code := readExitFile(dir); code != nil {
		return code
	}
	if _, err := readPrivate(dir, KilledFile); err == nil {
		code := 128 + int(unix.SIGKILL)
		return &code
	}
	return nil
}

// readExitFile reads the exit code pid 1 wrote in the record's directory
// dir, nil if none: not written (yet), or not one line of a number.
func readExitFile(dir string) *int {
	b, err := readPrivate(dir, ExitFile)
	if err != nil || len(b) < 2 || len(b) > 4 || b[len(b)-1] != '\n' {
		return nil
	}
	code, err := strconv.Atoi(string(b[:len(b)-1]))
	if err != nil || code < 0 || code > 255 {
		return nil
	}
	return &code
}

// OpenExit creates the empty file of a new record that its sandbox's pid 1
// writes the exit code to (see nsexec/pid1.c): pid 1 gets the descriptor.
func OpenExit(name string) (*os.File, error) {
	return createInRecord(name, ExitFile, 0)
}

// MarkKilled notes in the record of name that sbx is about to kill its
// pid 1 with SIGKILL, which leaves it no chance to write the exit code:
// without one, the record then reads as killed by SIGKILL (137). It is a
// no-op unless the record still names the process pid that started at
// start.
func MarkKilled(name string, pid int, start uint64) error {
	dir, err := Dir(name)
	if err != nil {
		return err
	}
	b, err := readPrivate(dir, RecordFile)
	if err != nil {
		return nil // gone: nothing to note
	}
	if r, err := plan.DecodeRecord(b); err != nil || int(r.Pid) != pid || r.StartTime != start {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, KilledFile), os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("note the kill of %s: %w", name, err)
	}
	return f.Close()
}

// oldRecord is what sbx reads of a record an older sbx wrote (state.json):
// enough to list it, signal it and remove it, not to exec into it.
type oldRecord struct {
	Name      string    `json:"name"`
	Pid       int       `json:"pid"`
	StartTime uint64    `json:"start_time"`
	Created   time.Time `json:"created"`
	Detached  bool      `json:"detached"`
	Command   []string  `json:"command"`
}

// loadOld reads a record an older sbx wrote, with the same checks.
func loadOld(dir, name string) (*State, error) {
	b, err := readPrivate(dir, oldRecordFile)
	if err != nil {
		return nil, err
	}
	var r oldRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	s := &State{Name: name, Pid: r.Pid, StartTime: r.StartTime, Created: r.Created, Detached: r.Detached,
		Status: Exited, Old: true, oldCommand: r.Command}
	if s.Pid > 0 && Alive(s.Pid, s.StartTime) {
		s.Status = Running
	}
	return s, nil
}

// readPrivate reads the file name in dir, both checked to be the caller's
// own and private (no link followed, no access for group or others), as sbx
// writes them: a record that is not cannot have been written by sbx.
func readPrivate(dir, name string) ([]byte, error) {
	if err := checkPrivate(dir, unix.S_IFDIR); err != nil {
		return nil, err
	}
	fd, err := unix.Open(filepath.Join(dir, name), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(dir, name), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, name))
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if err := privateStat(f.Name(), &st, unix.S_IFREG); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// checkPrivate checks that path, not followed if it is a link, is of type
// kind (S_IFDIR, S_IFREG), the caller's and private.
func checkPrivate(path string, kind uint32) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return privateStat(path, &st, kind)
}

func privateStat(path string, st *unix.Stat_t, kind uint32) error {
	if st.Mode&unix.S_IFMT != kind || int(st.Uid) != os.Getuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("%s is not a private %s of yours (mode %o, owner %d): sbx did not write it; remove it", path, kindName(kind), st.Mode&0o7777, st.Uid)
	}
	return nil
}

func kindName(kind uint32) string {
	if kind == unix.S_IFDIR {
		return "directory"
	}
	return "file"
}

// List returns every record, sorted by creation time.
func List() ([]*State, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read state directory: %w", err)
	}
	var list []*State
	for _, e := range entries {
		if !e.IsDir() || CheckName(e.Name()) != nil {
			continue
		}
		s, err := Load(e.Name())
		if err != nil {
			continue
		}
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
	return list, nil
}

// Remove deletes a record.
func Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	root, err := Root()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, name)
	// What sbx writes there, then the directory; anything else that a
	// crash left takes the longer way.
	for _, f := range []string{RecordFile, LogFile, ExitFile, KilledFile, oldRecordFile} {
		unix.Unlink(filepath.Join(dir, f))
	}
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove state of %s: %w", name, err)
	}
	return nil
}

// StartTime returns the start time of pid in clock ticks since boot.
func StartTime(pid int) (uint64, error) { return readStartTime(pid, false) }

// ChildStartTime is StartTime for a child of the caller that it has not
// reaped yet: a command that ended at once leaves a zombie, which still has
// its start time, and whose pid cannot be reused before the caller waits.
func ChildStartTime(pid int) (uint64, error) { return readStartTime(pid, true) }

func readStartTime(pid int, zombieOK bool) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// starttime is field 22 of stat; f[0] is field 3.
	if len(f) < 20 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	if !zombieOK && (f[0] == "Z" || f[0] == "X") {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Alive reports whether pid is still the process that started at start.
func Alive(pid int, start uint64) bool {
	t, err := StartTime(pid)
	return err == nil && t == start
}

// Dir returns the directory of a record.
func Dir(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, name), nil
}

// OpenLog opens the log of a detached sandbox for appending: its stdout
// and stderr.
func OpenLog(name string) (*os.File, error) {
	return createInRecord(name, LogFile, os.O_APPEND)
}

// createInRecord creates the file file, empty and private, in the record
// of name that Create just made, for writing (with more flags, if any).
func createInRecord(name, file string, flags int) (*os.File, error) {
	dir, err := Dir(name)
	if err != nil {
		return nil, err
	}
	// The record's directory was just made by Create: the file is new,
	// and nothing that already stands at its path (a link, say) is
	// followed.
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW|flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s of %s: %w", file, name, err)
	}
	return f, nil
}

// OpenLogReader opens the log of a sandbox for reading, checked to be
// private as sbx makes it; ErrNoLog if it has none (it runs attached).
func OpenLogReader(name string) (*os.File, error) {
	dir, err := Dir(name)
	if err != nil {
		return nil, err
	}
	if err := checkPrivate(dir, unix.S_IFDIR); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LogFile)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, ErrNoLog
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	if err := privateStat(path, &st, unix.S_IFREG); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ErrNoLog is returned for a sandbox without a log.
var ErrNoLog = errors.New("no log")

// RemoveIfOwned deletes the record of name only while it still names the
// process pid that started at start: after `sbx rm -f` a new sandbox may
// have taken the name, and its record is not ours to remove.
func RemoveIfOwned(name string, pid int, start uint64) error {
	dir, err := Dir(name)
	if err != nil {
		return err
	}
	b, err := readPrivate(dir, RecordFile)
	if err != nil {
		return nil // gone, or not written by anyone yet: not ours
	}
	r, err := plan.DecodeRecord(b)
	if err != nil || int(r.Pid) != pid || r.StartTime != start {
		return nil
	}
	return Remove(name)
}

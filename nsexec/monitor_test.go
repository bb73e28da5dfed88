package nsexec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The monitor is the test binary too, started with MonitorEnv: a shell
// starts a child that stands in for the sandbox's pid 1, then execs the
// test binary as that child's monitor (the same pid, so still its parent).

// monitorScript starts the child (it exits with 7 once fd 3 has a line),
// prints its pid, reads "STARTTIME DIR" and becomes the monitor.
const monitorScript = `(read x <&3; exit 7) &
echo $!
read -r rest
export ` + MonitorEnv + `="$! $rest"
exec "$0"`

// procStart is field 22 of /proc/PID/stat: the start time in clock ticks.
func procStart(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return start
}

// planAttrs is a plan with a record identity: attributes of both sides
// around RECORD_PID and RECORD_START.
func planAttrs(pid uint32, start uint64) []byte {
	var p []byte
	var v4 [4]byte
	var v8 [8]byte
	nativeEndian.PutUint32(v4[:], 0x10000000)
	p = appendAttr(p, AttrCloneFlags, v4[:])
	p = appendAttr(p, AttrGoFirst+3, []byte(`{"anything": "the Go side keeps"}`))
	nativeEndian.PutUint32(v4[:], pid)
	p = appendAttr(p, AttrRecordPID, v4[:])
	nativeEndian.PutUint64(v8[:], start)
	p = appendAttr(p, AttrRecordStart, v8[:])
	return appendAttr(p, 0xffff, nil)
}

// monitorCase sets up a record for the child pid that started at start.
type monitorCase struct {
	name   string
	record func(t *testing.T, dir string, pid uint32, start uint64)
	kept   bool // the record must stay
}

// writeRecord writes a record's files as sbx does.
func writeRecord(t *testing.T, dir string, plan []byte) {
	t.Helper()
	for name, data := range map[string][]byte{"plan": plan, "log": []byte("output\n"), ".plan-123": plan} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMonitorRemovesOwnRecord(t *testing.T) {
	for _, tc := range []monitorCase{
		{"own", func(t *testing.T, dir string, pid uint32, start uint64) {
			writeRecord(t, dir, planAttrs(pid, start))
		}, false},
		{"own, plan only", func(t *testing.T, dir string, pid uint32, start uint64) {
			os.WriteFile(filepath.Join(dir, "plan"), planAttrs(pid, start), 0o600)
		}, false},
		{"another start time", func(t *testing.T, dir string, pid uint32, start uint64) {
			writeRecord(t, dir, planAttrs(pid, start+1))
		}, true},
		{"another pid", func(t *testing.T, dir string, pid uint32, start uint64) {
			writeRecord(t, dir, planAttrs(pid+1, start))
		}, true},
		{"no identity", func(t *testing.T, dir string, pid uint32, start uint64) {
			writeRecord(t, dir, planAttrs(pid, start)[:AttrHeaderSize+4])
		}, true},
		{"identity twice", func(t *testing.T, dir string, pid uint32, start uint64) {
			writeRecord(t, dir, append(planAttrs(pid, start), planAttrs(pid, start+1)...))
		}, true},
		{"truncated plan", func(t *testing.T, dir string, pid uint32, start uint64) {
			p := planAttrs(pid, start)
			writeRecord(t, dir, p[:len(p)-1])
		}, true},
		{"plan readable by others", func(t *testing.T, dir string, pid uint32, start uint64) {
			writeRecord(t, dir, planAttrs(pid, start))
			os.Chmod(filepath.Join(dir, "plan"), 0o644)
		}, true},
		{"plan a link", func(t *testing.T, dir string, pid uint32, start uint64) {
			other := filepath.Join(t.TempDir(), "plan")
			os.WriteFile(other, planAttrs(pid, start), 0o600)
			os.Symlink(other, filepath.Join(dir, "plan"))
		}, true},
		{"state.json only", func(t *testing.T, dir string, pid uint32, start uint64) {
			os.WriteFile(filepath.Join(dir, "state.json"), []byte(fmt.Sprintf(`{"pid":%d,"start_time":%d}`, pid, start)), 0o600)
		}, true},
		{"another file", func(t *testing.T, dir string, pid uint32, start uint64) {
			writeRecord(t, dir, planAttrs(pid, start))
			os.WriteFile(filepath.Join(dir, "other"), nil, 0o600)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rec ord")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			code := runMonitor(t, dir, tc.record, nil)
			if code != 7 {
				t.Errorf("the monitor exited with %d, want the child's 7", code)
			}
			_, err := os.Lstat(dir)
			if tc.kept && err != nil {
				t.Errorf("the record is gone (%v), want it kept", err)
			}
			if !tc.kept && !errors.Is(err, os.ErrNotExist) {
				names, _ := os.ReadDir(dir)
				t.Errorf("the record is still there (%v, holding %v), want it removed", err, names)
			}
		})
	}
}

func TestMonitorWithoutRecord(t *testing.T) {
	stamps := filepath.Join(t.TempDir(), "stamps")
	f, err := os.OpenFile(stamps, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if code := runMonitor(t, "-", nil, f); code != 7 {
		t.Errorf("the monitor exited with %d, want the child's 7", code)
	}
	data, _ := os.ReadFile(stamps)
	for _, label := range []string{"monitor.start ", "monitor.cleanup ", "monitor.exit "} {
		if !bytes.Contains(data, []byte(label)) {
			t.Errorf("no %s stamp in %q", label, data)
		}
	}
}

// runMonitor runs the monitor over a child with the record dir ("-" for
// none) that record fills in, stamping to stamps if it is not nil, and
// returns the monitor's exit code.
func runMonitor(t *testing.T, dir string, record func(*testing.T, string, uint32, uint64), stamps *os.File) int {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	childR, childW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer childW.Close()
	cmd := exec.Command("/bin/sh", "-c", monitorScript, bin)
	cmd.ExtraFiles = []*os.File{childR}
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if stamps != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, stamps)
		cmd.Env = append(cmd.Env, StampFDEnv+"=4")
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childR.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("read the child's pid: %q, %v", line, err)
	}
	start := procStart(t, pid)
	if record != nil {
		record(t, dir, uint32(pid), start)
	}
	fmt.Fprintf(in, "%d %s\n", start, dir)
	in.Close()
	// The child exits once the shell has become the monitor (a shell may
	// reap a child that exits before).
	waitExec(t, cmd.Process.Pid, bin)
	fmt.Fprintln(childW, "exit")
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// waitExec waits until process pid runs bin with no arguments.
func waitExec(t *testing.T, pid int, bin string) {
	t.Helper()
	want := []byte(bin + "\x00")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || bytes.Equal(argv, want) {
			return // gone already, or the monitor
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pid %d did not exec %s within 10 s", pid, bin)
}

func TestMonitorRejectsBadArgument(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1 2 /x", "junk", "100 2", "100 2 relative", "100 -2 /x", " 100 2 /x", "100 2x /x"} {
		cmd := exec.Command(bin)
		cmd.Env = []string{MonitorEnv + "=" + v}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != ExitSbxFailed || !bytes.Contains(out, []byte("internal to sbx")) {
			t.Errorf("%s=%q: got %v and %q, want exit %d naming it internal", MonitorEnv, v, err, out, ExitSbxFailed)
		}
	}
}

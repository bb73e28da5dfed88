package nsexec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary holds the constructor too: started with InitPipeEnv, it
// runs the stages like sbx does. These tests stop short of the go-ahead, so
// no Go init ever starts: stage 2 re-executes itself, finds the init socket
// closed and leaves.

// appendAttr appends one attribute to a bootstrap payload.
func appendAttr(b []byte, typ uint16, val []byte) []byte {
	var hdr [AttrHeaderSize]byte
	nativeEndian.PutUint16(hdr[0:2], typ)
	nativeEndian.PutUint32(hdr[4:8], uint32(len(val)))
	return append(append(b, hdr[:]...), val...)
}

// stagesResult is what the stages of one start reported.
type stagesResult struct {
	stage1, stage2 int         // pids, 0 if not reported
	err            *StageError // a failure report
}

// runStages starts the test binary as stage 0 with payload as its
// bootstrap and extra as descriptors 4 and on (the init socket is 3), reads
// its reports until stage 2's pid or a failure, and waits for every stage.
func runStages(t *testing.T, payload []byte, extra ...*os.File) stagesResult {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
	defer parent.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{InitPipeEnv + "=3"}
	cmd.ExtraFiles = append([]*os.File{child}, extra...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	if err := WriteFrame(parent, MsgBootstrap, payload); err != nil {
		t.Fatal(err)
	}
	var r stagesResult
	for r.stage2 == 0 && r.err == nil {
		typ, p, err := ReadFrame(parent)
		if err != nil {
			t.Errorf("read a report of the stages: %v", err)
			break
		}
		switch typ {
		case MsgStage1PID:
			r.stage1, err = DecodePID(p)
		case MsgStage2PID:
			r.stage2, err = DecodePID(p)
		case MsgError:
			r.err, err = DecodeStageError(p)
		default:
			err = fmt.Errorf("unexpected frame %d", typ)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Without the go-ahead, a re-executed stage 2 leaves at once.
	parent.Close()
	if err := cmd.Wait(); err != nil && r.err == nil {
		t.Errorf("stage 0: %v", err)
	}
	// Stages 1 and 2 are children of this process (CLONE_PARENT).
	for _, pid := range []int{r.stage1, r.stage2} {
		if pid == 0 {
			continue
		}
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
	}
	return r
}

// simpleBootstrap is a sandbox with a user namespace that maps the caller
// alone, made with a sealed memfd copy (no mount needed); stampFD, if not
// 0, is the descriptor time stamps go to. (The plan package encodes the
// real ones; this is the same format, written by hand.)
func simpleBootstrap(t *testing.T, stampFD uint32) []byte {
	t.Helper()
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	uid, gid := os.Getuid(), os.Getgid()
	var b []byte
	b = appendAttr(b, AttrCloneFlags, u32(unix.CLONE_NEWUSER))
	b = appendAttr(b, AttrUIDMap, []byte(fmt.Sprintf("%d %d 1\n", uid, uid)))
	b = appendAttr(b, AttrGIDMap, []byte(fmt.Sprintf("%d %d 1\n", gid, gid)))
	b = appendAttr(b, AttrSetgroupsDeny, u32(1))
	b = appendAttr(b, AttrCloneMethod, u32(2)) // clonedbinary.Memfd
	if stampFD != 0 {
		b = appendAttr(b, AttrStampFD, u32(stampFD))
	}
	return b
}

// skipWithoutUserns skips when this machine gives the caller no user
// namespace.
func skipWithoutUserns(t *testing.T, r stagesResult) {
	t.Helper()
	if r.err != nil && r.err.Stage == 1 && errors.Is(r.err, unix.EPERM) {
		t.Skipf("no user namespaces here: %v", r.err)
	}
}

func TestStagesSkipGoAttributes(t *testing.T) {
	payload := simpleBootstrap(t, 0)
	payload = appendAttr(payload, AttrGoFirst, []byte{1, 2, 3})
	payload = appendAttr(payload, 1000, nil)
	payload = appendAttr(payload, 0xffff, make([]byte, 70000))
	// A record's identity is known to the stages, and ignored.
	payload = appendAttr(payload, AttrRecordPID, []byte{1, 0, 0, 0})
	payload = appendAttr(payload, AttrRecordStart, make([]byte, 8))
	r := runStages(t, payload)
	skipWithoutUserns(t, r)
	if r.err != nil || r.stage1 == 0 || r.stage2 == 0 {
		t.Fatalf("stages with attributes of the Go side: stage 1 pid %d, stage 2 pid %d, error %v", r.stage1, r.stage2, r.err)
	}
}

func TestStagesRejectBadAttributes(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		payload    []byte
	}{
		{"unknown below the Go side's", "stage 0: unknown bootstrap attribute 63: protocol error",
			appendAttr(simpleBootstrap(t, 0), AttrGoFirst-1, nil)},
		{"record start of 4 bytes", "stage 0: bootstrap attribute record start time has length 4, want 8: protocol error",
			appendAttr(simpleBootstrap(t, 0), AttrRecordStart, make([]byte, 4))},
		{"length past the end", "stage 0: malformed bootstrap attribute 64 at offset 0: protocol error",
			appendAttr(nil, AttrGoFirst, make([]byte, 4))[:AttrHeaderSize+3]},
		{"truncated header", "stage 0: truncated bootstrap attribute header at offset 0: protocol error",
			[]byte{1, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runStages(t, tc.payload)
			if r.err == nil || r.err.Error() != tc.want {
				t.Errorf("got error %v, want %q", r.err, tc.want)
			}
		})
	}
}

// TestStagesStamp has the stages stamp their steps to a file, descriptor 4
// of stage 0, and reads the lines back in the order of their steps.
func TestStagesStamp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := runStages(t, simpleBootstrap(t, 4), f)
	skipWithoutUserns(t, r)
	if r.err != nil {
		t.Fatal(r.err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stamps:\n%s", data)
	at := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		label, ns, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil || n <= 0 {
			t.Fatalf("bad stamp line %q in:\n%s", line, data)
		}
		if _, dup := at[label]; dup {
			t.Errorf("%s stamped twice:\n%s", label, data)
		}
		at[label] = n
	}
	steps := []string{"stage0.start", "stage1.start", "stage0.mapped", "stage1.unshared", "stage2.start", "stage2.resumed"}
	for i, label := range steps {
		if _, ok := at[label]; !ok {
			t.Fatalf("no %s stamp in:\n%s", label, data)
		}
		if i > 0 && at[label] < at[steps[i-1]] {
			t.Errorf("%s stamped before %s:\n%s", label, steps[i-1], data)
		}
	}
	if len(at) != len(steps) {
		t.Errorf("stamps %v, want exactly %v", at, steps)
	}
}

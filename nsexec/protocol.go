package nsexec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// The init socket carries frames: a native-endian header of two uint32s,
// the frame type and the payload length, then the payload.
//
//	parent -> stage 0   MsgBootstrap  the plan (package plan): stage 0 reads
//	                                  the attributes below AttrGoFirst
//	stage 0 -> parent   MsgStage1PID  int32 pid of stage 1 (a child of the parent)
//	stage 1 -> parent   MsgStage2PID  int32 pid of stage 2, the sandbox's pid 1
//	any stage -> parent MsgError      int32 stage, int32 errno, text
//	parent -> stage 2   MsgContinue   empty: the parent is alive, go on
//	parent -> Go init   MsgPlan       the same plan bytes
//	Go init -> parent   MsgInitError  a plan.Report (code, message), sent
//	                                  instead of the exec
//	Go init -> parent   MsgConsole    empty, with the pty master (SCM_RIGHTS)
//	parent -> Go init   MsgContinue   empty: the terminal is sized, exec
//	Go init -> parent   MsgParked     empty: an OCI container is created, its
//	                                  init waits for the start command
//
// The numbers are defined once, in sbxwire.h (see wire.go).

// maxFrame bounds what either side accepts, to fail cleanly on garbage.
const maxFrame = maxFrameC

var nativeEndian = binary.NativeEndian

// PutHeader writes a frame header into b (8 bytes).
func PutHeader(b []byte, typ, n uint32) {
	nativeEndian.PutUint32(b[0:4], typ)
	nativeEndian.PutUint32(b[4:8], n)
}

// ParseHeader reads a frame header from b (8 bytes).
func ParseHeader(b []byte) (typ, n uint32) {
	return nativeEndian.Uint32(b[0:4]), nativeEndian.Uint32(b[4:8])
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ uint32, payload []byte) error {
	buf := make([]byte, 8+len(payload))
	nativeEndian.PutUint32(buf[0:4], typ)
	nativeEndian.PutUint32(buf[4:8], uint32(len(payload)))
	copy(buf[8:], payload)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame %d: %w", typ, err)
	}
	return nil
}

// ReadFrame reads one frame. At a clean end of stream it returns io.EOF.
func ReadFrame(r io.Reader) (typ uint32, payload []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		return 0, nil, fmt.Errorf("read frame header: %w", err)
	}
	typ = nativeEndian.Uint32(hdr[0:4])
	n := nativeEndian.Uint32(hdr[4:8])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame %d of %d bytes is too large", typ, n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("read %d-byte frame %d: %w", n, typ, err)
	}
	return typ, payload, nil
}

// StageError is a failure reported by one of the C stages.
type StageError struct {
	Stage int
	Errno unix.Errno
	What  string
}

func (e *StageError) Error() string {
	if e.Errno == 0 {
		return fmt.Sprintf("stage %d: %s", e.Stage, e.What)
	}
	return fmt.Sprintf("stage %d: %s: %s", e.Stage, e.What, e.Errno.Error())
}

func (e *StageError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// DecodeStageError decodes the payload of a MsgError frame.
func DecodeStageError(payload []byte) (*StageError, error) {
	if len(payload) < 8 {
		return nil, fmt.Errorf("short error frame of %d bytes", len(payload))
	}
	return &StageError{
		Stage: int(int32(nativeEndian.Uint32(payload[0:4]))),
		Errno: unix.Errno(int32(nativeEndian.Uint32(payload[4:8]))),
		What:  string(payload[8:]),
	}, nil
}

// DecodePID decodes the payload of a MsgStage1PID or MsgStage2PID frame.
func DecodePID(payload []byte) (int, error) {
	if len(payload) != 4 {
		return 0, fmt.Errorf("pid frame of %d bytes, want 4", len(payload))
	}
	pid := int(int32(nativeEndian.Uint32(payload)))
	if pid <= 0 {
		return 0, fmt.Errorf("bad pid %d in report", pid)
	}
	return pid, nil
}

package nsexec

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	frames := []struct {
		typ     uint32
		payload []byte
	}{
		{MsgBootstrap, []byte("abc")},
		{MsgContinue, nil},
		{MsgPlan, bytes.Repeat([]byte("x"), 100000)},
	}
	for _, f := range frames {
		if err := WriteFrame(&buf, f.typ, f.payload); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frames {
		typ, payload, err := ReadFrame(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if typ != f.typ || !bytes.Equal(payload, f.payload) {
			t.Fatalf("got frame %d (%d bytes), want %d (%d bytes)", typ, len(payload), f.typ, len(f.payload))
		}
	}
	if _, _, err := ReadFrame(&buf); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestReadFrameRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated header", []byte{1, 0, 0}},
		{"truncated payload", append(header(MsgPlan, 10), 'a')},
		{"oversized", header(MsgPlan, maxFrame+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadFrame(bytes.NewReader(tt.data))
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("got %v, want a decode error", err)
			}
		})
	}
}

func header(typ, n uint32) []byte {
	b := make([]byte, 8)
	nativeEndian.PutUint32(b[0:4], typ)
	nativeEndian.PutUint32(b[4:8], n)
	return b
}

func TestDecodeStageError(t *testing.T) {
	p := make([]byte, 8)
	nativeEndian.PutUint32(p[0:4], 1)
	nativeEndian.PutUint32(p[4:8], uint32(unix.EPERM))
	p = append(p, "unshare the user namespace"...)
	se, err := DecodeStageError(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "stage 1: unshare the user namespace: operation not permitted"; se.Error() != want {
		t.Errorf("got %q, want %q", se.Error(), want)
	}
	if !errors.Is(se, unix.EPERM) {
		t.Error("errors.Is(EPERM) is false")
	}
	if _, err := DecodeStageError([]byte{1}); err == nil {
		t.Error("short frame decoded")
	}
}

// attrs decodes a bootstrap payload the way codec.c does.
func attrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	m := map[uint16][]byte{}
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("truncated attribute header: %v", b)
		}
		typ := nativeEndian.Uint16(b[0:2])
		if pad := nativeEndian.Uint16(b[2:4]); pad != 0 {
			t.Fatalf("attribute %d: pad %d", typ, pad)
		}
		n := nativeEndian.Uint32(b[4:8])
		b = b[8:]
		if int(n) > len(b) {
			t.Fatalf("attribute %d: length %d beyond the payload", typ, n)
		}
		m[typ] = b[:n]
		b = b[n:]
	}
	return m
}

package clonedbinary

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMemfdCopyIsSealed(t *testing.T) {
	f, used, err := Clone(Memfd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if used != Memfd {
		t.Fatalf("used %s, want memfd", used)
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		bit  int
	}{
		{"F_SEAL_SEAL", unix.F_SEAL_SEAL}, {"F_SEAL_WRITE", unix.F_SEAL_WRITE},
		{"F_SEAL_GROW", unix.F_SEAL_GROW}, {"F_SEAL_SHRINK", unix.F_SEAL_SHRINK},
	} {
		if seals&s.bit == 0 {
			t.Errorf("%s missing from seals %#x", s.name, seals)
		}
	}

	// The copy is the binary, byte for byte.
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := io.ReadAll(io.NewSectionReader(f, 0, int64(len(self))+1))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(cp) != sha256.Sum256(self) {
		t.Fatal("memfd copy differs from /proc/self/exe")
	}

	// Every way of changing it is refused, even through a writable reopen.
	w, err := os.OpenFile("/proc/self/fd/"+itoa(f.Fd()), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("reopen memfd read-write: %v", err)
	}
	defer w.Close()
	attacks := []struct {
		name string
		do   func() error
	}{
		{"write", func() error { _, err := w.WriteAt([]byte("x"), 0); return err }},
		{"grow", func() error { return w.Truncate(int64(len(self)) + 4096) }},
		{"shrink", func() error { return w.Truncate(0) }},
		{"unseal", func() error { _, err := unix.FcntlInt(w.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_FUTURE_WRITE); return err }},
		{"writable mmap", func() error {
			_, err := unix.Mmap(int(w.Fd()), 0, 4096, unix.PROT_WRITE, unix.MAP_SHARED)
			return err
		}},
	}
	for _, a := range attacks {
		if err := a.do(); !errors.Is(err, unix.EPERM) {
			t.Errorf("%s: got %v, want EPERM", a.name, err)
		}
	}
	after, err := io.ReadAll(io.NewSectionReader(f, 0, int64(len(self))+1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, self) {
		t.Fatal("memfd copy changed")
	}
}

func itoa(fd uintptr) string {
	return string(appendUint(nil, uint64(fd)))
}

func appendUint(b []byte, v uint64) []byte {
	if v >= 10 {
		b = appendUint(b, v/10)
	}
	return append(b, byte('0'+v%10))
}

func TestProtectionOfATestBinary(t *testing.T) {
	// A test binary runs from a writable build directory.
	m, err := Protection()
	if err != nil {
		t.Fatal(err)
	}
	if m != None {
		t.Errorf("test binary reported as protected by %s", m)
	}
}

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]Method{"": Auto, "auto": Auto, "bind": Bind, "memfd": Memfd} {
		if got, err := ParseMethod(in); err != nil || got != want {
			t.Errorf("ParseMethod(%q) = %s, %v", in, got, err)
		}
	}
	if _, err := ParseMethod("copy"); err == nil {
		t.Error("ParseMethod(copy) succeeded")
	}
}

package seccomp

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads the program on the calling thread, which must have
// no_new_privs set (or CAP_SYS_ADMIN) and should exec next: the filter
// applies to this thread and everything it executes or creates.
func Install(p Program) error {
	if len(p) == 0 || len(p)%8 != 0 || p.Len() > 0xffff {
		return errors.New("install seccomp filter: not a BPF program")
	}
	prog := unix.SockFprog{
		Len:    uint16(p.Len()),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p[0])),
	}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("install seccomp filter: %w", errno)
	}
	return nil
}

// Package clonedbinary keeps the sbx binary out of reach of its sandboxes.
//
// Every sbx process that lives inside a sandbox's namespaces (the sandbox's
// pid 1, the Go init, a joining sbx exec) runs from an unwritable copy of
// the binary, so that nothing in the sandbox can open /proc/PID/exe for
// writing and replace the host's sbx (the CVE-2019-5736 class). The C side
// (cloned_binary.c) is called by nsexec before the Go runtime starts; this
// Go side lets tests and `sbx check` inspect the result.
package clonedbinary

/*
#cgo CFLAGS: -Wall -Wextra -Werror -std=gnu11 -O2
#include "cloned_binary.h"
*/
import "C"

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Method is how the copy is made.
type Method int

const (
	Auto  Method = C.SBX_CLONE_AUTO
	Bind  Method = C.SBX_CLONE_BIND
	Memfd Method = C.SBX_CLONE_MEMFD
	// None means the running binary is not protected.
	None Method = -1
)

// EnvForce is the environment variable that forces a method: "bind" or
// "memfd". Tests and benchmarks use it.
const EnvForce = "SBX_CLONE"

func (m Method) String() string {
	switch m {
	case Auto:
		return "auto"
	case Bind:
		return "bind"
	case Memfd:
		return "memfd"
	}
	return "none"
}

// ParseMethod parses the value of SBX_CLONE; empty means Auto.
func ParseMethod(s string) (Method, error) {
	switch s {
	case "", "auto":
		return Auto, nil
	case "bind":
		return Bind, nil
	case "memfd":
		return Memfd, nil
	}
	return Auto, fmt.Errorf("%s=%q: use bind or memfd", EnvForce, s)
}

// FromEnv reads the forced method from the environment.
func FromEnv() (Method, error) {
	return ParseMethod(os.Getenv(EnvForce))
}

// Protection tells how the running binary is protected: Bind (a read-only
// mount), Memfd (a sealed memfd) or None.
func Protection() (Method, error) {
	r := C.sbx_binary_protection()
	if r < 0 {
		return None, fmt.Errorf("inspect /proc/self/exe: %w", unix.Errno(-r))
	}
	if r == 0 {
		return None, nil
	}
	return Method(r), nil
}

// Clone makes an unwritable copy of the running binary and returns a
// read-only descriptor of it with the method used.
func Clone(m Method) (*os.File, Method, error) {
	var used C.int
	fd := C.sbx_clone_binary(C.int(m), &used)
	if fd < 0 {
		return nil, Method(used), fmt.Errorf("clone binary (%s): %w", Method(used), unix.Errno(-fd))
	}
	return os.NewFile(uintptr(fd), "sbx-clone"), Method(used), nil
}

// Package nsexec is the part of sbx that runs before the Go runtime: a cgo
// constructor (stages.c, helped by one C file per concern) that creates the
// sandbox's namespaces in staged, single-threaded processes, and the Go side
// that speaks to it.
//
// The sbx parent re-executes its own binary with the environment variable
// _SBX_INITPIPE naming an inherited socket, writes the plan in a
// MsgBootstrap frame (protocol.go) and reads the stages' reports. In every
// other invocation the constructor returns at once.
package nsexec

/*
#cgo CFLAGS: -Wall -Wextra -Werror -std=gnu11 -O2 -I${SRCDIR}/../clonedbinary
// Static: sbx exec re-executes sbx inside the sandbox's mount namespace,
// where a --rootfs may have no dynamic loader (and it saves the loader's
// time on each of sbx's executions).
#cgo LDFLAGS: -static
#include "nsexec.h"
*/
import "C"

import (
	"os"

	// The stages call its C side to run from an unwritable binary.
	_ "github.com/sbx-sandbox/sbx/clonedbinary"
)

// IsInit reports whether this process is the Go init of a new sandbox, set
// up by the constructor and waiting for its configuration.
func IsInit() bool {
	return C.sbx_role == C.SBX_ROLE_INIT
}

// IsExecInit reports whether this process has joined a running sandbox for
// sbx exec and waits for its configuration.
func IsExecInit() bool {
	return C.sbx_role == C.SBX_ROLE_EXEC
}

// StampFD returns the descriptor that the C side sent its time stamps to,
// in the Go init and in a joining sbx exec, or -1 if there is none (see
// package stamp). It is close-on-exec.
func StampFD() int {
	return int(C.sbx_stamp_fd)
}

// InitSocket returns the socket to the sbx parent, in the Go init only.
// It is close-on-exec: a successful exec of the command closes it, which
// the parent reads as success.
func InitSocket() *os.File {
	if !IsInit() && !IsExecInit() {
		return nil
	}
	return os.NewFile(uintptr(C.sbx_init_fd), "sbx-init-socket")
}

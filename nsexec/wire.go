package nsexec

// The constants that the C side and the Go side of sbx share, read through
// cgo from sbxwire.h, where each is defined once.

/*
#include "sbxwire.h"

// The tables are static in the header (each C file has its own copy), so
// Go reaches them through these.
static const int *sbx_wire_signals(void) { return sbx_forwarded_signals; }
static const struct sbx_namespace *sbx_wire_namespaces(void) { return sbx_namespaces; }
static const char *const *sbx_wire_env(void) { return sbx_internal_env; }
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Frame types on the init socket (see protocol.go).
const (
	MsgBootstrap uint32 = C.SBX_MSG_BOOTSTRAP
	MsgError     uint32 = C.SBX_MSG_ERROR
	MsgStage1PID uint32 = C.SBX_MSG_STAGE1_PID
	MsgStage2PID uint32 = C.SBX_MSG_STAGE2_PID
	MsgContinue  uint32 = C.SBX_MSG_CONTINUE
	MsgPlan      uint32 = C.SBX_MSG_PLAN
	MsgInitError uint32 = C.SBX_MSG_INIT_ERROR
	MsgConsole   uint32 = C.SBX_MSG_CONSOLE
	MsgParked    uint32 = C.SBX_MSG_PARKED
)

// Attribute types of the bootstrap and of a record's plan. An attribute is
// a native-endian uint16 type, a uint16 zero, a uint32 length and the value
// (AttrHeaderSize bytes of header): uint32 or uint64 numbers, native-endian,
// or strings without terminator.
const (
	AttrHeaderSize = C.SBX_ATTR_HEADER

	AttrCloneFlags    uint16 = C.SBX_ATTR_CLONE_FLAGS    // uint32: CLONE_NEW* to create
	AttrUIDMap        uint16 = C.SBX_ATTR_UID_MAP        // string: /proc/PID/uid_map lines
	AttrGIDMap        uint16 = C.SBX_ATTR_GID_MAP        // string: /proc/PID/gid_map lines
	AttrUIDMapHelper  uint16 = C.SBX_ATTR_UIDMAP_HELPER  // string: absolute path of newuidmap
	AttrGIDMapHelper  uint16 = C.SBX_ATTR_GIDMAP_HELPER  // string: absolute path of newgidmap
	AttrSetgroupsDeny uint16 = C.SBX_ATTR_SETGROUPS_DENY // uint32: != 0 denies setgroups
	AttrPdeathsig     uint16 = C.SBX_ATTR_PDEATHSIG      // uint32: pid 1's parent-death signal
	AttrCloneMethod   uint16 = C.SBX_ATTR_CLONE_METHOD   // uint32: clonedbinary.Method
	AttrJoinPidfd     uint16 = C.SBX_ATTR_JOIN_PIDFD     // uint32: descriptor of a pidfd to join
	AttrJoinFlags     uint16 = C.SBX_ATTR_JOIN_FLAGS     // uint32: CLONE_NEW* to join
	AttrLogMax        uint16 = C.SBX_ATTR_LOG_MAX        // uint32: cap of a detached sandbox's log
	AttrStampFD       uint16 = C.SBX_ATTR_STAMP_FD       // uint32: descriptor time stamps go to
	AttrRecordPID     uint16 = C.SBX_ATTR_RECORD_PID     // uint32: a record's pid 1
	AttrRecordStart   uint16 = C.SBX_ATTR_RECORD_START   // uint64: its start time in clock ticks
	AttrRecordCgroup  uint16 = C.SBX_ATTR_RECORD_CGROUP  // string: the sandbox's cgroup directory
	AttrJoinNS        uint16 = C.SBX_ATTR_JOIN_NS        // uint64, repeated: descriptor<<32 | CLONE_NEW* stage 1 joins
	AttrExitFD        uint16 = C.SBX_ATTR_EXIT_FD        // uint32: descriptor pid 1 writes the exit code to
	AttrHoldFD        uint16 = C.SBX_ATTR_HOLD_FD        // uint32: descriptor pid 1 holds until it exits

	// AttrGoFirst is the first attribute type of the Go side: the C side
	// skips every attribute from it on.
	AttrGoFirst uint16 = C.SBX_ATTR_GO_FIRST
)

// Exit codes, as podman has them.
// maxFrameC is SBX_MAX_FRAME: the largest frame either side accepts.
const maxFrameC = C.SBX_MAX_FRAME

const (
	ExitSbxFailed     = C.SBX_EXIT_FAILED         // sbx itself failed
	ExitCannotExecute = C.SBX_EXIT_CANNOT_EXECUTE // the command cannot be executed
	ExitNotFound      = C.SBX_EXIT_NOT_FOUND      // the command was not found
)

// Environment variables internal to sbx; InternalEnv lists them all.
const (
	// InitPipeEnv names a stage's init socket and makes the constructor run.
	InitPipeEnv = C.SBX_ENV_INITPIPE
	// MonitorEnv holds "PID1 STARTTIME DIR" for the monitor: DIR is the
	// absolute path of the sandbox's record, or "-" for none.
	MonitorEnv = C.SBX_ENV_MONITOR
	// ResumeEnv, ClonedEnv, PdeathsigEnv, LogMaxEnv, StampFDEnv, ExitFDEnv and HoldFDEnv pass
	// stage 2's state across its re-execution from the unwritable copy of
	// the binary.
	ResumeEnv    = C.SBX_ENV_RESUME
	ClonedEnv    = C.SBX_ENV_CLONED
	PdeathsigEnv = C.SBX_ENV_PDEATHSIG
	LogMaxEnv    = C.SBX_ENV_LOGMAX
	StampFDEnv   = C.SBX_ENV_STAMPFD
	ExitFDEnv    = C.SBX_ENV_EXITFD
	HoldFDEnv    = C.SBX_ENV_HOLDFD
	// KeeperEnv, "1", makes the process the keeper of a network helper
	// (keeper.c), which runs the helper of its command line.
	KeeperEnv = C.SBX_ENV_KEEPER
)

// InternalEnv are the environment variables of sbx's own: none may reach a
// sandbox's command.
var InternalEnv = internalEnv()

// ForwardedSignals are the signals the sbx parent (or the monitor) passes
// on to the command, and pid 1 to its child.
var ForwardedSignals = forwardedSignals()

// Namespace is a kind of namespace: its name in /proc/PID/ns and its
// CLONE_NEW* flag.
type Namespace struct {
	Name string
	Flag uint32
}

// Namespaces are the namespaces a sandbox has, in the order sbx exec joins
// them (the user namespace first).
var Namespaces = namespaces()

func forwardedSignals() []unix.Signal {
	c := unsafe.Slice(C.sbx_wire_signals(), C.SBX_N_FORWARDED_SIGNALS)
	s := make([]unix.Signal, len(c))
	for i, sig := range c {
		s[i] = unix.Signal(sig)
	}
	return s
}

func namespaces() []Namespace {
	c := unsafe.Slice(C.sbx_wire_namespaces(), C.SBX_N_NAMESPACES)
	ns := make([]Namespace, len(c))
	for i, n := range c {
		ns[i] = Namespace{Name: C.GoString(n.name), Flag: uint32(n.flag)}
	}
	return ns
}

func internalEnv() []string {
	c := unsafe.Slice(C.sbx_wire_env(), C.SBX_N_INTERNAL_ENV)
	env := make([]string, len(c))
	for i, name := range c {
		env[i] = C.GoString(name)
	}
	return env
}

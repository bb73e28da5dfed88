// SPDX-License-Identifier: Apache-2.0
//
// sbxwire.h: every constant that the C side of sbx (the nsexec stages, pid
// 1, the monitor) and its Go side share, defined once. The C files include
// it; package nsexec reads it through cgo (wire.go) and exports it to the
// rest of sbx. Change a value here and both sides follow.
#ifndef SBX_WIRE_H
#define SBX_WIRE_H

#include <signal.h>
#include <linux/sched.h>

// ---- frames on the init socket (see protocol.go) -------------------------

#define SBX_MSG_BOOTSTRAP 1  // parent -> stage 0: the bootstrap attributes
#define SBX_MSG_ERROR 2      // any stage -> parent: int32 stage, int32 errno, text
#define SBX_MSG_STAGE1_PID 3 // stage 0 -> parent: int32 pid of stage 1
#define SBX_MSG_STAGE2_PID 4 // stage 1 -> parent: int32 pid of stage 2 (pid 1)
#define SBX_MSG_CONTINUE 5   // parent -> stage 2 or Go init: empty, go on
#define SBX_MSG_PLAN 6       // parent -> Go init: the plan, as attributes
#define SBX_MSG_INIT_ERROR 7 // Go init -> parent: the error, sent instead of exec
#define SBX_MSG_CONSOLE 8    // Go init -> parent: empty, with the pty master
#define SBX_MSG_PARKED 9     // Go init -> parent: empty, created, waits for start (OCI)

// ---- attributes of the bootstrap and of a record's plan ------------------
//
// An attribute is a native-endian u16 type, a u16 zero, a u32 length and
// the value: a u32 or u64 number (native-endian), or a string without
// terminator.

#define SBX_ATTR_HEADER 8 // bytes before the value

// The largest frame either side accepts (a plan with a command line and an
// environment as large as the kernel takes fits), and the largest record.
#define SBX_MAX_FRAME (64 << 20)

#define SBX_ATTR_CLONE_FLAGS 1     // u32: CLONE_NEW* to create
#define SBX_ATTR_UID_MAP 2         // string: "inside outside count\n" lines
#define SBX_ATTR_GID_MAP 3         // string: the same for gids
#define SBX_ATTR_UIDMAP_HELPER 4   // string: absolute path of newuidmap
#define SBX_ATTR_GIDMAP_HELPER 5   // string: absolute path of newgidmap
#define SBX_ATTR_SETGROUPS_DENY 6  // u32: != 0 writes "deny" to setgroups
#define SBX_ATTR_PDEATHSIG 7       // u32: pid 1's parent-death signal
#define SBX_ATTR_CLONE_METHOD 8    // u32: SBX_CLONE_* (cloned_binary.h)
#define SBX_ATTR_JOIN_PIDFD 9      // u32: descriptor of a pidfd to join (sbx exec)
#define SBX_ATTR_JOIN_FLAGS 10     // u32: CLONE_NEW* to join
#define SBX_ATTR_LOG_MAX 11        // u32: cap of a detached sandbox's log
#define SBX_ATTR_STAMP_FD 12       // u32: descriptor that time stamps go to
#define SBX_ATTR_RECORD_PID 13     // u32: the sandbox's pid 1 (in a record)
#define SBX_ATTR_RECORD_START 14   // u64: its start time, field 22 of /proc/PID/stat
#define SBX_ATTR_RECORD_CGROUP 15  // string: the sandbox's cgroup directory (in a record)
#define SBX_ATTR_JOIN_NS 17        // u64, repeated: (descriptor << 32) | CLONE_NEW* stage 1 joins, in order
#define SBX_ATTR_EXIT_FD 18        // u32: descriptor of the file pid 1 writes the exit code to (detached)
#define SBX_ATTR_HOLD_FD 19        // u32: descriptor pid 1 holds, unused, until it exits (the end of the host services' pipe)
#define SBX_MAX_JOIN_NS 8          // at most this many

// SBX_CGROUP_MOUNT is where the cgroup v2 hierarchy is (cgroupv2.Mount).
#define SBX_CGROUP_MOUNT "/sys/fs/cgroup"

// Attributes from SBX_ATTR_GO_FIRST on belong to the Go side: the C side
// skips them, whatever their length. An unknown one below is an error.
#define SBX_ATTR_GO_FIRST 64

// ---- roles of a process once the constructor returns ---------------------

#define SBX_ROLE_NONE 0 // an ordinary sbx invocation
#define SBX_ROLE_INIT 1 // the Go init of a new sandbox (pid 2 inside it)
#define SBX_ROLE_EXEC 2 // a process that joined a running sandbox (sbx exec)

// ---- exit codes, as podman has them --------------------------------------

#define SBX_EXIT_FAILED 125         // sbx itself failed
#define SBX_EXIT_CANNOT_EXECUTE 126 // the command cannot be executed
#define SBX_EXIT_NOT_FOUND 127      // the command was not found

// ---- signals the sbx parent (or the monitor) and pid 1 pass on -----------

static const int sbx_forwarded_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
};
#define SBX_N_FORWARDED_SIGNALS (sizeof(sbx_forwarded_signals) / sizeof(sbx_forwarded_signals[0]))

// ---- namespaces ----------------------------------------------------------

// sbx_namespace is a namespace by its name in /proc/PID/ns and its flag.
struct sbx_namespace {
	const char *name;
	unsigned int flag;
};

// sbx_namespaces are the namespaces a sandbox has, in the order sbx exec
// joins them (the user namespace first).
static const struct sbx_namespace sbx_namespaces[] = {
	{ "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },  { "pid", CLONE_NEWPID },
	{ "ipc", CLONE_NEWIPC },   { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
	{ "cgroup", CLONE_NEWCGROUP },
};
#define SBX_N_NAMESPACES (sizeof(sbx_namespaces) / sizeof(sbx_namespaces[0]))

// ---- environment variables internal to sbx -------------------------------

// The init socket of a stage; its presence makes the constructor run.
#define SBX_ENV_INITPIPE "_SBX_INITPIPE"
// "PID1 STARTTIME DIR" for the monitor (DIR: the record's directory, or -).
#define SBX_ENV_MONITOR "_SBX_MONITOR"
// After stage 2 re-executes itself from the unwritable copy of the binary,
// these tell the new image where it is. The marker (SBX_ENV_CLONED) is
// believed only together with the protection itself.
#define SBX_ENV_RESUME "_SBX_RESUME"       // "2" (pid 1) or "exec" (sbx exec)
#define SBX_ENV_CLONED "_SBX_CLONED"       // "bind" or "memfd"
#define SBX_ENV_PDEATHSIG "_SBX_PDEATHSIG" // the parent-death signal to re-arm
#define SBX_ENV_LOGMAX "_SBX_LOGMAX"       // the log's cap, if pid 1 relays it
#define SBX_ENV_STAMPFD "_SBX_STAMPFD"     // the descriptor time stamps go to
#define SBX_ENV_EXITFD "_SBX_EXITFD"       // the descriptor pid 1 writes the exit code to
#define SBX_ENV_HOLDFD "_SBX_HOLDFD"       // the descriptor pid 1 holds for its life
// "1" makes the process the keeper of a sandbox's network helper
// (keeper.c).
#define SBX_ENV_KEEPER "_SBX_KEEPER"

// sbx_internal_env lists them all: none may reach a sandbox's command.
static const char *const sbx_internal_env[] = {
	SBX_ENV_INITPIPE, SBX_ENV_MONITOR, SBX_ENV_RESUME, SBX_ENV_CLONED,
	SBX_ENV_PDEATHSIG, SBX_ENV_LOGMAX, SBX_ENV_STAMPFD, SBX_ENV_EXITFD, SBX_ENV_HOLDFD,
	SBX_ENV_KEEPER,
};
#define SBX_N_INTERNAL_ENV (sizeof(sbx_internal_env) / sizeof(sbx_internal_env[0]))

#endif

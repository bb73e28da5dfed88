//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// reexec.c: stage 2 re-executes itself from an unwritable copy of the sbx
// binary (see clonedbinary/) before anything of the sandbox can reach it,
// passing what it knows in a few environment variables; the new image
// checks that it runs from such a copy before it believes them.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "cloned_binary.h"
#include "codec.h"
#include "reexec.h"
#include "sbxwire.h"
#include "nsexec.h"
#include "stamp.h"

// raise_ambient_caps keeps every capability across the re-execution of
// stage 2, which runs as a non-root uid inside when the caller's own id is
// mapped. The Go init clears them again before it execs the command.
static void raise_ambient_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &hdr, data) < 0)
		bail(errno, "capget");
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].inheritable = data[i].permitted;
	if (syscall(SYS_capset, &hdr, data) < 0)
		bail(errno, "capset inheritable");
	for (int cap = 0; cap < 64; cap++) {
		// A process that made no user namespace of its own (an OCI
		// container of root, or of root in another user namespace)
		// may lack some: it keeps what it has.
		if (!(data[cap / 32].permitted & (1U << (cap % 32))))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
			if (errno == EINVAL)
				break; // past the kernel's last capability
			bail(errno, "raise ambient capability %d", cap);
		}
	}
}

// reexec_from_clone replaces stage 2 with an unwritable copy of the sbx
// binary (see clonedbinary/), so that the sandbox's pid 1 and the Go init
// never run from the host's file: fd, if it is one (sbx exec got it before
// joining, made with method used), else a copy made here. It does not
// return.
SBX_INTERNAL void reexec_from_clone(const struct bootstrap *b, const char *resume, int fd, int used)
{
	if (fd < 0) {
		fd = sbx_clone_binary(b->clone_method, &used);
		if (fd < 0)
			bail(-fd, "make an unwritable copy of the sbx binary (%s)",
			     used == SBX_CLONE_BIND ? "read-only bind mount" : "sealed memfd");
	}
	raise_ambient_caps();
	// The init socket must survive this one exec, and so must the stamp
	// descriptor; the new image makes them close-on-exec again.
	if (fcntl(init_fd, F_SETFD, 0) < 0)
		bail(errno, "keep the init socket across exec");
	if (sbx_stamp_fd >= 0 && fcntl(sbx_stamp_fd, F_SETFD, 0) < 0)
		bail(errno, "keep the stamp descriptor across exec");
	if (b->exit_fd > 0 && fcntl(b->exit_fd, F_SETFD, 0) < 0)
		bail(errno, "keep the exit code descriptor across exec");
	if (b->hold_fd > 0 && fcntl(b->hold_fd, F_SETFD, 0) < 0)
		bail(errno, "keep the held descriptor across exec");

	char pipe_env[32], cloned_env[32], pdeath_env[32], resume_env[32], logmax_env[40], stamp_env[32], exit_env[32], hold_env[32];
	snprintf(pipe_env, sizeof(pipe_env), SBX_ENV_INITPIPE "=%d", init_fd);
	snprintf(cloned_env, sizeof(cloned_env), SBX_ENV_CLONED "=%s", used == SBX_CLONE_BIND ? "bind" : "memfd");
	snprintf(pdeath_env, sizeof(pdeath_env), SBX_ENV_PDEATHSIG "=%d", b->pdeathsig);
	snprintf(resume_env, sizeof(resume_env), SBX_ENV_RESUME "=%s", resume);
	snprintf(logmax_env, sizeof(logmax_env), SBX_ENV_LOGMAX "=%u", b->log_max);
	snprintf(stamp_env, sizeof(stamp_env), SBX_ENV_STAMPFD "=%d", sbx_stamp_fd);
	snprintf(exit_env, sizeof(exit_env), SBX_ENV_EXITFD "=%d", b->exit_fd);
	snprintf(hold_env, sizeof(hold_env), SBX_ENV_HOLDFD "=%d", b->hold_fd);
	// The Go init lives for a few milliseconds: one P and no garbage
	// collection spare it threads and work (the command gets its own
	// environment, not this one).
	char *envp[11] = { pipe_env, resume_env, cloned_env, pdeath_env, "GOGC=off", "GOMAXPROCS=1" };
	size_t n = 6;
	if (b->log_max > 0)
		envp[n++] = logmax_env;
	if (sbx_stamp_fd >= 0)
		envp[n++] = stamp_env;
	if (b->exit_fd > 0)
		envp[n++] = exit_env;
	if (b->hold_fd > 0)
		envp[n++] = hold_env;
	envp[n] = NULL;
	char *argv[] = { "sbx", "init", NULL };
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	bail(errno, "re-execute the unwritable copy of the sbx binary");
}

// resume_checked is the common start of a re-executed stage 2: take back the
// stamp descriptor, believe the marker only together with the protection,
// re-arm the death signal and become non-dumpable.
SBX_INTERNAL void resume_checked(void)
{
	current_stage = 2;
	int stamp_fd = sbx_stamp_env_fd();
	if (stamp_fd >= 0 && sbx_stamp_use(stamp_fd) < 0)
		bail(errno, "take back the stamp descriptor %d", stamp_fd);
	const char *marker = getenv(SBX_ENV_CLONED);
	int protection = sbx_binary_protection();
	if (protection < 0)
		bail(-protection, "check the copy of the sbx binary");
	int want = marker == NULL ? -1 : strcmp(marker, "bind") == 0 ? SBX_CLONE_BIND
				       : strcmp(marker, "memfd") == 0 ? SBX_CLONE_MEMFD : -1;
	if (protection == 0 || protection != want)
		bail(EPERM, "resumed stage 2 does not run from an unwritable copy of the sbx binary (marker %s)",
		     marker ? marker : "missing");
	const char *pd = getenv(SBX_ENV_PDEATHSIG);
	int pdeathsig = pd ? atoi(pd) : 0;
	if (pdeathsig > 0 && prctl(PR_SET_PDEATHSIG, pdeathsig) < 0)
		bail(errno, "set parent death signal");
	// Nothing in the sandbox may ptrace this process or open its /proc
	// files; the Go init inherits this until it execs the command.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail(errno, "make sandbox init non-dumpable");
}

// await_go_ahead waits for the sbx parent's go-ahead (MSG_CONTINUE) and
// starts a new session.
SBX_INTERNAL void await_go_ahead(void)
{
	// The go-ahead doubles as a liveness check: if the sbx parent died
	// before the death signal was armed, this read sees EOF.
	struct frame_header h;
	if (read_all(init_fd, &h, sizeof(h)) < 0) {
		if (errno == EPIPE)
			_exit(SBX_EXIT_FAILED);
		bail(errno, "wait for the go-ahead of the sbx parent");
	}
	if (h.type != SBX_MSG_CONTINUE || h.len != 0)
		bail(EPROTO, "unexpected frame type %u while waiting for the go-ahead", h.type);

	// A new session: the caller's terminal is never our controlling
	// terminal (no TIOCSTI into it, no job-control signals from it: the
	// sbx parent forwards what it receives instead).
	if (setsid() < 0)
		bail(errno, "setsid");
}

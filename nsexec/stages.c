//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// stages.c: the part of sbx that must run before the Go runtime starts.
//
// Creating or joining namespaces (above all the user and mount namespaces)
// requires a single-threaded process, and the Go runtime starts threads
// before main. So sbx re-executes itself with an init socket in
// _SBX_INITPIPE, and this cgo constructor does the staged work first:
//
//   stage 0  the re-executed process. Reads the bootstrap data, creates
//            stage 1, writes stage 1's id maps (itself, or through the
//            setuid helpers newuidmap/newgidmap) and exits.
//   stage 1  unshares CLONE_NEWUSER first, waits until stage 0 has mapped
//            it, unshares the other namespaces and creates stage 2.
//   stage 2  the first process of the new PID namespace (pid 1). It waits
//            for the go-ahead of the sbx parent, starts a new session,
//            forks the Go init (pid 2) and stays behind as a tiny C init
//            that reaps zombies and forwards signals.
//
// Stages 1 and 2 are created with CLONE_PARENT, so they are children of the
// sbx parent itself: the parent can wait for the sandbox's pid 1, and the
// parent-death signal of pid 1 is tied to the parent, not to a stage that
// exits during setup.
//
// Every failure ends in one SBX_MSG_ERROR frame on the init socket that
// names the stage, the step and errno; the sbx parent prints it as one
// line. The wire format is documented in protocol.go, its numbers in
// sbxwire.h.
//
// The other files of this directory hold one concern each: codec.c (frames,
// attribute lists, failure reports), idmap.c (stage 0's id maps), reexec.c
// (stage 2's re-execution from an unwritable copy of the binary), pid1.c
// (the sandbox's pid 1), monitor.c (the monitor of an attached sandbox and
// the removal of its record), logrelay.c (a detached sandbox's capped log),
// keeper.c (what ends a network helper with its sandbox) and stamp.c (time
// stamps for make bench).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/sched.h>

#include "cloned_binary.h"
#include "codec.h"
#include "idmap.h"
#include "keeper.h"
#include "monitor.h"
#include "nsexec.h"
#include "pid1.h"
#include "reexec.h"
#include "sbxwire.h"
#include "stamp.h"

// Bytes exchanged between stage 0 and stage 1 on their private socket.
enum {
	SYNC_USERNS_READY = 0x40,
	SYNC_MAPPED = 0x41,
};

// sbx_role tells the Go side what this process is once the constructor
// returns: SBX_ROLE_NONE for every ordinary invocation of sbx.
int sbx_role = SBX_ROLE_NONE;
int sbx_init_fd = -1;

// ---- processes -----------------------------------------------------------

// clone_parent creates a child whose parent is our own parent (the sbx
// process), continuing on a copy of this stack like fork(2). clone3 where the
// kernel has it, the classic clone otherwise.
static pid_t clone_parent(void)
{
	// With CLONE_PARENT the exit signal is our own (SIGCHLD, as os/exec
	// started stage 0); clone3 insists that exit_signal is left zero.
	struct clone_args args = {
		.flags = CLONE_PARENT,
	};
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0 && errno == ENOSYS) {
		// Argument order differs between architectures, but with every
		// argument after the flags zero it does not matter (s390 aside).
		pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	}
	return (pid_t)pid;
}

// ---- stage 0 and stage 1 synchronisation ---------------------------------

// sync_send sends one byte to the other stage.
static void sync_send(int fd, char byte, const char *what)
{
	if (write_all(fd, &byte, 1) < 0)
		bail(errno, "send %s to the other stage", what);
}

// sync_wait waits for one byte; EOF means the other stage failed and has
// already reported why, so this one leaves quietly.
static void sync_wait(int fd, char want, const char *what)
{
	char byte;
	ssize_t n;
	do {
		n = read(fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		_exit(SBX_EXIT_FAILED);
	if (n < 0)
		bail(errno, "wait for %s", what);
	if (byte != want)
		bail(EPROTO, "got sync byte %#x while waiting for %s", byte, what);
}

// ---- stage 2 -------------------------------------------------------------

// stage2 runs as pid 1 of the new PID namespace, in two halves: before the
// re-execution from the cloned binary (stage2) and after it
// (stage2_resumed). For sbx exec it is the joining process instead, and bin
// the copy of the binary it got before joining (-1 for a new sandbox).
__attribute__((noreturn))
static void stage2(const struct bootstrap *b, int bin, int used)
{
	current_stage = 2;
	if (b->join_pidfd <= 0)
		sbx_stamp("stage2.start");
	if (b->pdeathsig > 0 && prctl(PR_SET_PDEATHSIG, b->pdeathsig) < 0)
		bail(errno, "set parent death signal");
	// Our working directory is still sbx's, a directory of the host's
	// mount tree, which the pivot to the sandbox's root leaves writable
	// behind it (reachable as /proc/1/cwd by anything that may ptrace
	// us). The root instead is moved along by pivot_root, and so is a
	// working directory at the root.
	if (chdir("/") < 0)
		bail(errno, "change to the root directory");
	reexec_from_clone(b, b->join_pidfd > 0 ? "exec" : "2", bin, used);
}

// stage2_exec_resumed is a joining sbx exec: the process goes on to the Go
// side, which execs the command; it stays a child of the sbx parent.
static void stage2_exec_resumed(void)
{
	resume_checked();
	sbx_stamp("exec.resumed");
	await_go_ahead();
	sbx_role = SBX_ROLE_EXEC;
}

// fd_from_env takes back a descriptor of pid 1's that reexec_from_clone
// passed on in the variable name (the exit code's file, the held one),
// close-on-exec again; -1 for none. what names it in errors.
static int fd_from_env(const char *name, const char *what)
{
	const char *v = getenv(name);
	if (v == NULL)
		return -1;
	char *end;
	errno = 0;
	long fd = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || fd < 3 || fd > 1 << 20 || fd == init_fd)
		bail(EINVAL, "bad %s=%s", name, v);
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		bail(errno, "take back the %s %ld", what, fd);
	return (int)fd;
}

// stage2_resumed is the sandbox's pid 1 after its re-execution: it goes on
// as pid1_start, which returns in the Go init only.
static void stage2_resumed(void)
{
	resume_checked();
	sbx_stamp("stage2.resumed");
	await_go_ahead();
	const char *lm = getenv(SBX_ENV_LOGMAX);
	int exit_fd = fd_from_env(SBX_ENV_EXITFD, "exit code descriptor");
	int hold_fd = fd_from_env(SBX_ENV_HOLDFD, "held descriptor");
	if (exit_fd >= 0 && exit_fd == hold_fd)
		bail(EINVAL, "the exit code descriptor and the held one are both %d", exit_fd);
	pid1_start(lm ? strtoul(lm, NULL, 10) : 0, exit_fd, hold_fd);
}

// ---- stage 1 -------------------------------------------------------------

// stage1 creates the namespaces: the user namespace first, mapped by stage
// 0 meanwhile, then the others; and stage 2 in the new PID namespace.
static void stage1(const struct bootstrap *b, int syncfd)
{
	current_stage = 1;
	sbx_stamp("stage1.start");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		bail(errno, "set parent death signal");

	// Namespaces to join come first, in the plan's order, the user
	// namespace's first: joining another sandbox's network (--net
	// sandbox:NAME) takes its user namespace too, which owns that network
	// namespace (one setns on a pidfd); an OCI config joins namespaces by
	// path (nsfs files).
	for (int i = 0; i < b->n_join_ns; i++) {
		if (setns(b->join_ns[i].fd, (int)b->join_ns[i].flags) < 0)
			bail(errno, "join namespaces %#x (descriptor %d)", b->join_ns[i].flags, b->join_ns[i].fd);
		close(b->join_ns[i].fd);
	}
	// The user namespace is created first of the rest: every other
	// namespace is then owned by it, and creating them needs the
	// capabilities it grants.
	if (b->clone_flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail(errno, "unshare the user namespace");
		sync_send(syncfd, SYNC_USERNS_READY, "user namespace ready");
		sync_wait(syncfd, SYNC_MAPPED, "id maps");
	}
	close(syncfd);

	uint32_t rest = b->clone_flags & ~(uint32_t)CLONE_NEWUSER;
	if (rest != 0 && unshare((int)rest) < 0)
		bail(errno, "unshare namespaces (flags %#x)", rest);
	sbx_stamp("stage1.unshared");

	// The signals the sbx parent forwards are blocked for pid 1 from its
	// first instruction on (the mask is inherited, and survives its
	// exec), so that none is lost before run_init waits for them: pid 1
	// of a PID namespace drops a signal it neither blocks nor handles.
	sigset_t set;
	sigemptyset(&set);
	add_forwarded_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		bail(errno, "block signals for the sandbox init");

	// Entering the new PID namespace takes a new process.
	pid_t pid = clone_parent();
	if (pid < 0)
		bail(errno, "create the sandbox init process");
	if (pid == 0)
		stage2(b, -1, 0);
	send_pid(SBX_MSG_STAGE2_PID, pid);
	_exit(0);
}

// ---- stage 0 -------------------------------------------------------------

// join_sandbox is stage 0 of sbx exec: get the unwritable copy of the
// binary while still outside, enter the namespaces of the sandbox's pid 1
// through its pidfd (the user namespace first: setns with a pidfd enters
// them all at once, in the right order), then fork into its PID namespace.
__attribute__((noreturn))
static void join_sandbox(const struct bootstrap *b)
{
	sbx_stamp("exec.start");
	// Nothing in the sandbox may ptrace or open /proc/PID/exe of this
	// process while it still runs from the host's binary.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail(errno, "make the joining process non-dumpable");
	// Before joining: inside, the binary's path could lead anywhere (a
	// FIFO there would block an open forever).
	int used = 0;
	int bin = sbx_clone_for_join(b->join_pidfd, b->clone_method, &used);
	if (bin < 0) {
		if (used == SBX_CLONE_BIND)
			bail(-bin, "SBX_CLONE=bind: the sandbox's pid 1 does not run from a read-only bind of this sbx binary");
		bail(-bin, "make an unwritable copy of the sbx binary (sealed memfd)");
	}
	if (b->join_flags != 0 && setns(b->join_pidfd, (int)b->join_flags) < 0)
		bail(errno, "join the namespaces of the sandbox (flags %#x; Linux 5.8 or newer is needed)", b->join_flags);
	close(b->join_pidfd);
	sbx_stamp("exec.joined");
	pid_t pid = clone_parent();
	if (pid < 0)
		bail(errno, "create the joining process");
	if (pid == 0)
		stage2(b, bin, used);
	send_pid(SBX_MSG_STAGE2_PID, pid);
	_exit(0);
}

// stage0 is the re-executed sbx: it creates stage 1 and writes its id maps
// (or joins a running sandbox, for sbx exec).
static void stage0(const struct bootstrap *b)
{
	// A session of its own before anything enters the sandbox: no stage
	// and no joining process ever has the caller's terminal as its
	// controlling terminal, not even before it re-executes and while a
	// sandbox given CAP_SYS_PTRACE could attach to it.
	if (setsid() < 0)
		bail(errno, "setsid");
	if (b->join_pidfd > 0)
		join_sandbox(b);

	int sync[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0)
		bail(errno, "create stage socket pair");

	pid_t pid = clone_parent();
	if (pid < 0)
		bail(errno, "create stage 1");
	if (pid == 0) {
		close(sync[0]);
		stage1(b, sync[1]);
		return;
	}
	close(sync[1]);
	send_pid(SBX_MSG_STAGE1_PID, pid);

	if (b->clone_flags & CLONE_NEWUSER) {
		sync_wait(sync[0], SYNC_USERNS_READY, "stage 1 to create its user namespace");
		map_stage1(b, pid);
		sbx_stamp("stage0.mapped");
		sync_send(sync[0], SYNC_MAPPED, "id maps written");
	}
	_exit(0);
}

// ---- entry ---------------------------------------------------------------

// start_stamps sends time stamps to the descriptor the bootstrap names, if
// it names one, from here on; the first is for the constructor's start at
// t0 (if that was read).
static void start_stamps(const struct bootstrap *b, const struct timespec *t0)
{
	if (b->stamp_fd <= 0)
		return;
	if (sbx_stamp_use(b->stamp_fd) < 0)
		bail(errno, "use the stamp descriptor %d", b->stamp_fd);
	if (t0 != NULL)
		sbx_stamp_at("stage0.start", t0);
}

// guard_fd keeps a descriptor of pid 1's that the bootstrap names (fd > 0:
// the file pid 1 writes the exit code to, the one it holds) from every exec
// until stage 2's own: no id map helper, no network helper gets it. what
// names it in errors.
static void guard_fd(int fd, const char *what)
{
	if (fd <= 0)
		return;
	if (fd < 3 || fd == init_fd)
		bail(EINVAL, "%s %d is stdio or the init socket", what, fd);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		bail(errno, "mark the %s %d close-on-exec", what, fd);
}

// nsexec runs before the Go runtime in every invocation of sbx: as the
// monitor, as a stage, or not at all when neither variable is set.
__attribute__((constructor))
static void nsexec(void)
{
	const char *mon = getenv(SBX_ENV_MONITOR);
	if (mon != NULL)
		monitor(mon);
	const char *keep = getenv(SBX_ENV_KEEPER);
	if (keep != NULL)
		keeper(keep);

	const char *env = getenv(SBX_ENV_INITPIPE);
	if (env == NULL)
		return;
	// Whether this start is stamped is known only from the bootstrap.
	struct timespec t0;
	int have_t0 = clock_gettime(CLOCK_MONOTONIC, &t0) == 0;

	char *end;
	errno = 0;
	long fd = strtol(env, &end, 10);
	if (errno != 0 || *end != '\0' || fd < 3 || fd > 1 << 20) {
		dprintf(2, "sbx: bad %s=%s: it is internal to sbx, unset it\n", SBX_ENV_INITPIPE, env);
		_exit(SBX_EXIT_FAILED);
	}
	init_fd = (int)fd;
	// "exe" (from /proc/self/exe) says nothing in ps; name the stages.
	prctl(PR_SET_NAME, "sbx", 0, 0, 0);
	// Helpers and the command must never inherit the init socket.
	if (fcntl(init_fd, F_SETFD, FD_CLOEXEC) < 0) {
		dprintf(2, "sbx: init socket fd %d: %s\n", init_fd, strerror(errno));
		_exit(SBX_EXIT_FAILED);
	}

	const char *resume = getenv(SBX_ENV_RESUME);
	if (resume != NULL) {
		if (strcmp(resume, "exec") == 0)
			stage2_exec_resumed();
		else
			stage2_resumed();
		sbx_init_fd = init_fd;
		return;
	}

	uint32_t len;
	char *data = read_frame(SBX_MSG_BOOTSTRAP, &len);
	struct bootstrap b;
	parse_bootstrap(data, len, &b);
	free(data);
	start_stamps(&b, have_t0 ? &t0 : NULL);
	guard_fd(b.exit_fd, "exit code descriptor");
	guard_fd(b.hold_fd, "held descriptor");
	if (b.exit_fd > 0 && b.exit_fd == b.hold_fd)
		bail(EINVAL, "the exit code descriptor and the held one are both %d", b.exit_fd);

	stage0(&b);
	// Only the Go init gets here.
	sbx_init_fd = init_fd;
}

//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// pid1.c: the sandbox's pid 1. Once stage 2 has re-executed itself from the
// unwritable copy of the binary, it forks the Go init and stays behind as a
// tiny C init: it holds no capability, reaps every orphan, forwards the
// signals the sbx parent passes on, relays a detached sandbox's output to
// its log, and exits like the command, which ends the PID namespace (a
// detached sandbox's pid 1 writes that exit code to its record first).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "codec.h"
#include "logrelay.h"
#include "nsexec.h"
#include "pid1.h"
#include "sbxwire.h"
#include "stamp.h"

// add_forwarded_signals adds every forwarded signal to set.
SBX_INTERNAL void add_forwarded_signals(sigset_t *set)
{
	for (size_t i = 0; i < SBX_N_FORWARDED_SIGNALS; i++)
		sigaddset(set, sbx_forwarded_signals[i]);
}

// exit_like turns a wait status into an exit code the way shells and
// podman do: the exit code itself, or 128+N for death by signal N.
SBX_INTERNAL int exit_like(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return SBX_EXIT_FAILED;
}

// signal_job sends sig to the job that pid leads, as a terminal would: its
// process group (the Go init puts the command in one of its own, or -t's
// session makes one), or pid alone while it leads none (a signal that comes
// before the Go init has made the group). ESRCH (gone already) is fine.
SBX_INTERNAL void signal_job(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && errno == ESRCH)
		kill(pid, sig);
}

// exit_fd is the file of the record that pid 1 writes the command's exit
// code to before it exits (a detached sandbox, whose pid 1 no sbx reaps),
// or -1. sbx opened it empty; pid 1 holds it from its start, so writing
// needs no capability and no path.
static int exit_fd = -1;

// record_exit writes code to exit_fd as one line ("137\n") in one write at
// offset 0: a reader sees an empty file or the whole line (state.Load takes
// only a line with its newline). A failure can only be told to the log.
static void record_exit(int code)
{
	if (exit_fd < 0)
		return;
	char line[16];
	int n = snprintf(line, sizeof(line), "%d\n", code);
	ssize_t w;
	do
		w = pwrite(exit_fd, line, (size_t)n, 0);
	while (w < 0 && errno == EINTR);
	if (w != n)
		dprintf(2, "sbx: could not record the exit code %d: %s\n", code,
			w < 0 ? strerror(errno) : "short write");
}

// exit_with_command ends pid 1 like the command whose wait status is status
// ended, recording its exit code first.
__attribute__((noreturn))
static void exit_with_command(int status)
{
	int code = exit_like(status);
	record_exit(code);
	_exit(code);
}

// next_signal waits for one of waitset; with a log relay, it moves the
// command's output to the log meanwhile.
static int next_signal(const sigset_t *waitset, struct log_relay *relay, int sigfd)
{
	for (;;) {
		if (relay == NULL || relay->in < 0) {
			siginfo_t info;
			int sig = sigwaitinfo(waitset, &info);
			if (sig < 0 && errno != EINTR)
				bail(errno, "sigwaitinfo in sandbox init");
			if (sig > 0)
				return sig;
			continue;
		}
		struct pollfd fds[2] = { { .fd = sigfd, .events = POLLIN }, { .fd = relay->in, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			bail(errno, "poll in sandbox init");
		}
		if (fds[1].revents != 0 && log_relay_pump(relay, 0) == 0) {
			close(relay->in); // every writer is gone
			relay->in = -1;
		}
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				return (int)si.ssi_signo;
		}
	}
}

// run_init is the whole life of the sandbox's pid 1: forward signals to the
// command's process group, reap every orphan, relay a detached sandbox's
// output to its log, and exit with the command's status, which takes the
// rest of the PID namespace down with it.
__attribute__((noreturn))
static void run_init(pid_t command, const sigset_t *waitset, struct log_relay *relay)
{
	int sigfd = -1;
	if (relay != NULL && (sigfd = signalfd(-1, waitset, SFD_CLOEXEC)) < 0)
		bail(errno, "signalfd in sandbox init");
	for (;;) {
		int sig = next_signal(waitset, relay, sigfd);
		if (sig != SIGCHLD) {
			signal_job(command, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == command) {
				if (relay != NULL && relay->in >= 0)
					log_relay_pump(relay, 1);
				exit_with_command(status);
			}
		}
	}
}

// close_fds_from closes every descriptor >= lowfd.
static void close_fds_from(int lowfd)
{
	if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0)
		return;
	// Kernels before 5.9: close what the fd table may hold.
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = lowfd; fd < max; fd++)
		close((int)fd);
}

// keep_fds moves the exit code descriptor, if any, to 3 and the held one,
// if any, right after it: the only descriptors past stdio that pid 1 keeps.
// It returns the first descriptor past them.
static int keep_fds(int exit_code_fd, int hold_fd)
{
	// Both out of the way first: neither may land on the other.
	if (exit_code_fd >= 0 && (exit_code_fd = fcntl(exit_code_fd, F_DUPFD_CLOEXEC, 10)) < 0)
		bail(errno, "keep the exit code descriptor");
	if (hold_fd >= 0 && (hold_fd = fcntl(hold_fd, F_DUPFD_CLOEXEC, 10)) < 0)
		bail(errno, "keep the held descriptor");
	int next = 3;
	if (exit_code_fd >= 0) {
		if (dup2(exit_code_fd, next) < 0)
			bail(errno, "keep the exit code descriptor");
		exit_fd = next++;
	}
	if (hold_fd >= 0) {
		if (dup2(hold_fd, next) < 0)
			bail(errno, "keep the held descriptor");
		next++;
	}
	return next;
}

// drop_all_caps leaves the sandbox's pid 1 with no capability in any set,
// bounding and ambient included: after setup it only waits and forwards
// signals to its own child, which needs none.
static void drop_all_caps(void)
{
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; // past the kernel's last capability
			bail(errno, "drop capability %d from the bounding set", cap);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		bail(errno, "clear the ambient capabilities");
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		bail(errno, "clear the capability sets");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		bail(errno, "set no_new_privs");
}

// pid1_start is the sandbox's pid 1 after its re-execution: it forks the Go
// init (pid 2), which returns from here to set up the sandbox and exec the
// command, and stays behind as the tiny init of run_init. With log_max > 0
// the command's stdout and stderr go through a pipe that pid 1 relays to
// its own stdout, the log, under that cap. With exit_code_fd >= 0, pid 1
// writes the command's exit code to it when it ends (record_exit). With
// hold_fd >= 0, pid 1 holds it and nothing else does: it closes when pid 1
// exits, whatever ends the sandbox (the sandbox's host services watch its
// other end). The Go init, and so the command, gets neither.
SBX_INTERNAL void pid1_start(unsigned long log_max, int exit_code_fd, int hold_fd)
{
	sigset_t waitset;
	sigemptyset(&waitset);
	sigaddset(&waitset, SIGCHLD);
	add_forwarded_signals(&waitset);
	// Block before forking so that no signal is lost in between.
	if (sigprocmask(SIG_BLOCK, &waitset, NULL) < 0)
		bail(errno, "block signals in sandbox init");

	// A detached sandbox's output (its stdout and stderr are the log)
	// goes through a pipe that pid 1 relays to the log, under its cap.
	int logpipe[2] = { -1, -1 };
	if (log_max > 0 && pipe2(logpipe, O_CLOEXEC) < 0)
		bail(errno, "create the log pipe");

	pid_t command = fork();
	if (command < 0)
		bail(errno, "fork the sandbox command");
	if (command == 0) {
		// Stage 1 blocked the forwarded signals for pid 1: they were
		// not in the mask sbx started with.
		if (sigprocmask(SIG_UNBLOCK, &waitset, NULL) < 0)
			bail(errno, "restore signal mask");
		if (log_max > 0 && (dup2(logpipe[1], 1) < 0 || dup2(logpipe[1], 2) < 0))
			bail(errno, "connect the command's output to the log pipe");
		if (log_max > 0) {
			close(logpipe[0]);
			close(logpipe[1]);
		}
		// The exit code is pid 1's to write, not the command's.
		if (exit_code_fd >= 0 && close(exit_code_fd) < 0)
			bail(errno, "close the exit code descriptor");
		if (hold_fd >= 0 && close(hold_fd) < 0)
			bail(errno, "close the held descriptor");
		sbx_role = SBX_ROLE_INIT;
		return;
	}
	sbx_stamp("pid1.forked");
	drop_all_caps();
	struct log_relay relay, *rp = NULL;
	if (log_max > 0) {
		// The pipe's read end goes to 0 (pid 1 reads nothing else), the
		// log stays at 1, and everything from 3 on is closed.
		if (dup2(logpipe[0], 0) < 0)
			bail(errno, "keep the log pipe");
		close(logpipe[1]);
		struct stat st;
		relay = (struct log_relay){ .in = 0, .out = 1, .max = log_max,
					    .size = fstat(1, &st) == 0 ? (uint64_t)st.st_size : 0 };
		rp = &relay;
	}
	close_fds_from(keep_fds(exit_code_fd, hold_fd)); // the stamp descriptor too
	sbx_stamp_fd = -1;
	run_init(command, &waitset, rp);
}

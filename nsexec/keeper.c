//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// keeper.c: what ends a sandbox's network helper together with the
// sandbox, and relays its published UDP ports (udprelay.c).
//
// sbx starts the keeper in the launcher's slot, once the sandbox's pid 1
// exists: the same binary, re-executed with SBX_ENV_KEEPER set and the
// helper's command line. It gets a pidfd of pid 1, which becomes readable
// when pid 1 exits, however the sandbox ends (its command exits, sbx kill,
// sbx rm -f, the parent-death signal of a SIGKILLed sbx); nothing the
// sandbox holds can keep it from doing so. The keeper runs the helper in
// the foreground as its child, with SIGKILL as its parent-death signal,
// and with the read end of a pipe at descriptor 3 whose write end only the
// keeper holds (slirp4netns's --exit-fd; pasta ignores it). It waits on
// the pidfd and the child:
//
//   - pid 1 has exited: it kills the helper, reaps it and exits 0;
//   - the helper exits first: it exits like it.
//
// Either way the helper never outlives the keeper, and the keeper never
// outlives the sandbox. It is C only and never starts the Go runtime.
//
// Descriptors: 0, 1, 2 stdio; 3 the pidfd; 4 the helper's readiness pipe
// (pasta's pid file, slirp4netns's --ready-fd), passed to the helper; with
// published UDP ports, 5 and 6 the sandbox's user and network namespaces
// and 7 on the host's UDP sockets. The helper gets 0, 1, 2, the exit pipe
// at 3 and 4, nothing else.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keeper.h"
#include "pid1.h"
#include "sbxwire.h"
#include "udprelay.h"

// KEEPER_MAX_ARGS bounds the keeper's command line.
#define KEEPER_MAX_ARGS 512

// The keeper's descriptors (see above).
enum {
	KEEPER_PIDFD = 3,
	KEEPER_READY = 4,
	KEEPER_USERNS = 5,
	KEEPER_NETNS = 6,
};

// keeper_fail reports a failure on stderr (sbx shows it) and exits; the
// helper, if started, dies with it (its parent-death signal).
__attribute__((noreturn, format(printf, 1, 2)))
static void keeper_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "sbx: network helper keeper: %s\n", msg);
	_exit(SBX_EXIT_FAILED);
}

// read_cmdline reads this process's command line into argv (NULL
// terminated) from /proc/self/cmdline: a constructor has no argv of its
// own. A command line that does not fit is an error, never cut short.
static void read_cmdline(char *buf, size_t size, char **argv, size_t max)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		keeper_fail("open /proc/self/cmdline: %s", strerror(errno));
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			keeper_fail("read /proc/self/cmdline: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size)
			keeper_fail("command line longer than %zu bytes", size - 1);
	}
	close(fd);
	buf[len] = '\0';
	size_t n = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
		if (n == max - 1)
			keeper_fail("more than %zu arguments", max - 1);
		argv[n++] = buf + i;
	}
	argv[n] = NULL;
}

// keeper_args is the keeper's command line: "--udp=PORT" for each
// published UDP port (its host socket at descriptor 7, 8, ... in order),
// then "--" and the helper's command line.
struct keeper_args {
	struct udp_relay relay;
	char **helper;
};

static void parse_keeper_args(char **argv, struct keeper_args *a)
{
	for (int i = 0; i < UDP_RELAY_MAX_FLOWS; i++)
		a->relay.flows[i].inside_fd = -1;
	for (argv++; *argv != NULL; argv++) {
		if (strncmp(*argv, "--udp=", 6) == 0) {
			if (a->relay.nports == UDP_RELAY_MAX_PORTS)
				keeper_fail("more than %d UDP ports", UDP_RELAY_MAX_PORTS);
			char *end;
			errno = 0;
			long port = strtol(*argv + 6, &end, 10);
			if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
				keeper_fail("bad argument %s", *argv);
			struct udp_relay_port *p = &a->relay.ports[a->relay.nports];
			p->host_fd = KEEPER_NETNS + 1 + a->relay.nports++;
			p->port = (uint16_t)port;
		} else if (strcmp(*argv, "--") == 0) {
			if (argv[1] == NULL || argv[1][0] != '/')
				keeper_fail("no helper to run (want an absolute path after --)");
			a->helper = argv + 1;
			return;
		} else {
			keeper_fail("unknown argument %s", *argv);
		}
	}
	keeper_fail("no helper to run (want -- and its command line)");
}

// run_helper forks the helper (argv[0], an absolute path) with SIGKILL as
// its parent-death signal, the read end of a pipe only the keeper writes
// to at 3 (--exit-fd), the readiness pipe at 4 and nothing else from 3 on.
// The child execs only once the keeper closes go: after it has joined the
// sandbox's namespaces, so that the helper never reports ready for a
// keeper that failed. It returns the helper's pid.
static pid_t run_helper(char **argv, int exit_read, const int go[2], const sigset_t *blocked)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		keeper_fail("fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(SBX_EXIT_FAILED);
	close(go[1]);
	char b;
	ssize_t n;
	do
		n = read(go[0], &b, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0 || getppid() != parent)
		_exit(SBX_EXIT_FAILED);
	if (dup2(exit_read, KEEPER_PIDFD) < 0 || syscall(SYS_close_range, KEEPER_READY + 1, ~0U, 0) < 0)
		_exit(SBX_EXIT_FAILED);
	sigprocmask(SIG_UNBLOCK, blocked, NULL);
	execv(argv[0], argv);
	dprintf(2, "sbx: run %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? SBX_EXIT_NOT_FOUND : SBX_EXIT_CANNOT_EXECUTE);
}

// join_sandbox_net enters the sandbox's user namespace (which owns its
// network namespace) and network namespace, for the relay's sockets.
static void join_sandbox_net(void)
{
	if (setns(KEEPER_USERNS, CLONE_NEWUSER) < 0)
		keeper_fail("join the sandbox's user namespace: %s", strerror(errno));
	if (setns(KEEPER_NETNS, CLONE_NEWNET) < 0)
		keeper_fail("join the sandbox's network namespace: %s", strerror(errno));
	close(KEEPER_USERNS);
	close(KEEPER_NETNS);
	// Nothing in there may ptrace it (it has no pid in the sandbox's PID
	// namespace anyway).
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		keeper_fail("make the keeper non-dumpable: %s", strerror(errno));
}

// GONE_WAIT_MS bounds how long the keeper waits for its helper to end.
#define GONE_WAIT_MS 2000

// gone ends the keeper once the sandbox has, the helper first: its exit
// pipe closes (slirp4netns ends by itself then) and it gets SIGKILL, which
// the keeper may not be allowed to send (slirp4netns --enable-sandbox
// takes the uid of the sandbox's root, a subordinate id); it is waited for
// a moment, so that its ports are free when the keeper is gone. What is
// left then dies of its parent-death signal when the keeper exits.
__attribute__((noreturn))
static void gone(pid_t helper, int exit_write, int sigfd)
{
	close(exit_write);
	kill(helper, SIGKILL);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int status;
		if (waitpid(helper, &status, WNOHANG) != 0)
			break; // reaped, or no longer ours
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= GONE_WAIT_MS)
			break;
		struct pollfd p = { .fd = sigfd, .events = POLLIN };
		if (poll(&p, 1, (int)(GONE_WAIT_MS - ms)) > 0) {
			struct signalfd_siginfo si;
			(void)!read(sigfd, &si, sizeof(si));
		}
	}
	_exit(0);
}

SBX_INTERNAL void keeper(const char *arg)
{
	if (strcmp(arg, "1") != 0)
		keeper_fail("bad %s=%s: it is internal to sbx, unset it", SBX_ENV_KEEPER, arg);
	unsetenv(SBX_ENV_KEEPER);
	prctl(PR_SET_NAME, "sbx-netkeep", 0, 0, 0);

	static char cmdline[32768];
	static char *argv[KEEPER_MAX_ARGS];
	static struct keeper_args a;
	read_cmdline(cmdline, sizeof(cmdline), argv, KEEPER_MAX_ARGS);
	parse_keeper_args(argv, &a);

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
		keeper_fail("block SIGCHLD: %s", strerror(errno));
	int sigfd = signalfd(-1, &chld, SFD_CLOEXEC);
	if (sigfd < 0)
		keeper_fail("signalfd: %s", strerror(errno));
	int exit_pipe[2], go[2];
	if (pipe2(exit_pipe, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		keeper_fail("pipe: %s", strerror(errno));
	// The helper starts on the host's side, before the keeper joins the
	// sandbox's namespaces, and execs once the keeper has.
	pid_t helper = run_helper(a.helper, exit_pipe[0], go, &chld);
	close(exit_pipe[0]);
	close(go[0]);
	close(KEEPER_READY);
	if (a.relay.nports > 0)
		join_sandbox_net();
	close(go[1]);

	static struct pollfd fds[2 + UDP_RELAY_MAX_PORTS + UDP_RELAY_MAX_FLOWS];
	for (;;) {
		int status;
		if (waitpid(helper, &status, WNOHANG) == helper)
			_exit(exit_like(status));
		fds[0] = (struct pollfd){ .fd = KEEPER_PIDFD, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		int n = 2 + udp_relay_pollfds(&a.relay, fds + 2);
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			keeper_fail("poll: %s", strerror(errno));
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			(void)!read(sigfd, &si, sizeof(si));
		}
		if (fds[0].revents != 0)
			gone(helper, exit_pipe[1], sigfd); // pid 1 has exited: the sandbox is gone
		udp_relay_handle(&a.relay, fds + 2, n - 2);
	}
}

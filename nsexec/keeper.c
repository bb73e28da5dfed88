//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// keeper.c: what ends a network helper together with its sandbox, and
// relays its published UDP ports (udprelay.c).
//
// The sandbox's pid 1 holds the write end of a pipe, the lifeline, for its
// whole life (pid1.c), however the sandbox ends: its command exits, sbx
// kill, sbx rm -f, or the parent-death signal of a SIGKILLed sbx. The read
// end sees end of file then. slirp4netns takes that read end itself
// (--exit-fd); pasta has nothing of the kind for a namespace it joined by
// pid. For pasta, sbx starts this keeper instead: the same binary,
// re-executed with SBX_ENV_KEEPER=FD and the helper's command line. The
// keeper runs the helper in the foreground as its child, with SIGKILL as
// its parent-death signal, and waits on the lifeline and on the child:
//
//   - end of file on the lifeline: the sandbox is gone; it kills the
//     helper, reaps it and exits 0;
//   - the helper exits first: it exits like it.
//
// Either way the helper never outlives the keeper, and the keeper never
// outlives the sandbox. It is a few hundred kilobytes of C and never
// starts the Go runtime.

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keeper.h"
#include "pid1.h"
#include "sbxwire.h"
#include "udprelay.h"

// KEEPER_MAX_ARGS bounds the helper's command line.
#define KEEPER_MAX_ARGS 256

// keeper_fail reports a failure on stderr (sbx shows it) and exits.
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
// own.
static void read_cmdline(char *buf, size_t size, char **argv, size_t max)
{
	FILE *f = fopen("/proc/self/cmdline", "re");
	if (f == NULL)
		keeper_fail("open /proc/self/cmdline: %s", strerror(errno));
	size_t len = fread(buf, 1, size - 1, f);
	int full = !feof(f);
	fclose(f);
	if (full)
		keeper_fail("command line longer than %zu bytes", size - 1);
	buf[len] = '\0';
	size_t n = 0;
	for (size_t i = 0; i < len && n < max - 1; i += strlen(buf + i) + 1)
		argv[n++] = buf + i;
	argv[n] = NULL;
}

// run_helper forks the helper argv[0] (an absolute path) with SIGKILL as
// its parent-death signal and returns its pid.
static pid_t run_helper(char **argv, int lifeline, const sigset_t *blocked)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		keeper_fail("fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(SBX_EXIT_FAILED);
	close(lifeline);
	sigprocmask(SIG_UNBLOCK, blocked, NULL);
	execv(argv[0], argv);
	dprintf(2, "sbx: run %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? SBX_EXIT_NOT_FOUND : SBX_EXIT_CANNOT_EXECUTE);
}

// keeper_args is the keeper's command line: "--ns=USERFD,NETFD" (the
// sandbox's namespaces, for the UDP relay), "--udp=FD:PORT" (a published
// UDP port: the host's socket and the sandbox's port), then "--" and the
// helper's command line, if it runs one.
struct keeper_args {
	int userns, netns;
	struct udp_relay relay;
	char **helper;
};

// parse_int reads a number from s up to end character stop.
static long parse_int(const char *s, char stop, const char **rest, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != stop || v < 0 || v > max)
		keeper_fail("bad argument %s", s);
	*rest = end + (stop != '\0');
	return v;
}

static void parse_keeper_args(char **argv, struct keeper_args *a)
{
	*a = (struct keeper_args){ .userns = -1, .netns = -1 };
	for (int i = 0; i < UDP_RELAY_MAX_FLOWS; i++)
		a->relay.flows[i].inside_fd = -1;
	const char *rest;
	for (argv++; *argv != NULL; argv++) {
		if (strncmp(*argv, "--ns=", 5) == 0) {
			a->userns = (int)parse_int(*argv + 5, ',', &rest, 1 << 20);
			a->netns = (int)parse_int(rest, '\0', &rest, 1 << 20);
		} else if (strncmp(*argv, "--udp=", 6) == 0) {
			if (a->relay.nports == UDP_RELAY_MAX_PORTS)
				keeper_fail("more than %d UDP ports", UDP_RELAY_MAX_PORTS);
			struct udp_relay_port *p = &a->relay.ports[a->relay.nports++];
			p->host_fd = (int)parse_int(*argv + 6, ':', &rest, 1 << 20);
			p->port = (uint16_t)parse_int(rest, '\0', &rest, 65535);
		} else if (strcmp(*argv, "--") == 0) {
			if (argv[1] == NULL || argv[1][0] != '/')
				keeper_fail("no helper to run (want an absolute path after --)");
			a->helper = argv + 1;
			return;
		} else {
			keeper_fail("unknown argument %s", *argv);
		}
	}
	if (a->relay.nports > 0 && a->netns < 0)
		keeper_fail("UDP ports without --ns");
}

// join_sandbox_net enters the sandbox's user namespace (which owns its
// network namespace) and network namespace, for the relay's sockets.
static void join_sandbox_net(const struct keeper_args *a)
{
	if (setns(a->userns, CLONE_NEWUSER) < 0)
		keeper_fail("join the sandbox's user namespace: %s", strerror(errno));
	if (setns(a->netns, CLONE_NEWNET) < 0)
		keeper_fail("join the sandbox's network namespace: %s", strerror(errno));
	close(a->userns);
	close(a->netns);
	// Nothing in there may ptrace it (it has no pid in the sandbox's
	// PID namespace anyway).
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// gone ends the keeper once the sandbox has: the helper, if any, first.
__attribute__((noreturn))
static void gone(pid_t helper)
{
	if (helper > 0) {
		int status;
		kill(helper, SIGKILL);
		while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
			;
	}
	_exit(0);
}

SBX_INTERNAL void keeper(const char *arg)
{
	char *end;
	errno = 0;
	long fd = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || fd < 3 || fd > 1 << 20)
		keeper_fail("bad %s=%s: it is internal to sbx, unset it", SBX_ENV_KEEPER, arg);
	int lifeline = (int)fd;
	unsetenv(SBX_ENV_KEEPER);
	prctl(PR_SET_NAME, "sbx-netkeep", 0, 0, 0);

	static char cmdline[16384];
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
	// The helper starts on the host's side, before the keeper joins the
	// sandbox's namespaces.
	pid_t helper = a.helper != NULL ? run_helper(a.helper, lifeline, &chld) : -1;
	if (a.netns >= 0)
		join_sandbox_net(&a);

	static struct pollfd fds[2 + UDP_RELAY_MAX_PORTS + UDP_RELAY_MAX_FLOWS];
	for (;;) {
		int status;
		if (helper > 0 && waitpid(helper, &status, WNOHANG) == helper)
			_exit(exit_like(status));
		fds[0] = (struct pollfd){ .fd = lifeline, .events = POLLIN };
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
		if (fds[0].revents != 0) {
			char b;
			ssize_t r = read(lifeline, &b, 1);
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
				gone(helper); // the sandbox is gone
		}
		udp_relay_handle(&a.relay, fds + 2, n - 2);
	}
}

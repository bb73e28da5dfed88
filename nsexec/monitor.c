//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// monitor.c: the sbx parent of an attached sandbox that runs a while (see
// sandbox/monitor.go) re-executes itself as this monitor, which the
// constructor runs before any Go starts: the same pid, still the parent of
// the sandbox's pid 1, at a fraction of the memory. It forwards signals,
// waits for pid 1, removes the sandbox's record while it is still this
// sandbox's, and exits like pid 1.
//
// A record is a directory of the user's (mode 0700) that holds the
// sandbox's plan in the file "plan" (mode 0600), a list of attributes (see
// sbxwire.h) whose SBX_ATTR_RECORD_PID and SBX_ATTR_RECORD_START name the
// sandbox's pid 1; next to it maybe the log ("log") and temporary files of
// a plan being replaced (".plan-*"). After `sbx rm -f` another sandbox may
// have taken the name: its record names another pid 1 and stays.

#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "codec.h"
#include "monitor.h"
#include "pid1.h"
#include "sbxwire.h"
#include "nsexec.h"
#include "stamp.h"

// MAX_PLAN bounds the plan the monitor reads.
#define MAX_PLAN SBX_MAX_FRAME

// monitor_arg is the value of SBX_ENV_MONITOR: the sandbox's pid 1, its
// start time in clock ticks, and its record's directory (NULL for none).
struct monitor_arg {
	pid_t pid;
	unsigned long long start;
	const char *dir;
};

// parse_monitor_arg reads "PID1 STARTTIME DIR", where DIR is the rest of
// the value (spaces included): an absolute path, or "-" for no record. It
// returns -1 if arg is not that.
static int parse_monitor_arg(const char *arg, struct monitor_arg *m)
{
	char *end;
	if (!isdigit((unsigned char)arg[0]))
		return -1;
	errno = 0;
	long pid = strtol(arg, &end, 10);
	if (errno != 0 || *end != ' ' || pid <= 1 || pid > INT_MAX)
		return -1;
	const char *p = end + 1;
	if (!isdigit((unsigned char)p[0]))
		return -1;
	errno = 0;
	unsigned long long start = strtoull(p, &end, 10);
	if (errno != 0 || *end != ' ')
		return -1;
	const char *dir = end + 1;
	if (strcmp(dir, "-") != 0 && dir[0] != '/')
		return -1;
	m->pid = (pid_t)pid;
	m->start = start;
	m->dir = strcmp(dir, "-") == 0 ? NULL : dir;
	return 0;
}

// wait_forwarding forwards the signals in set (all but SIGCHLD) to pid's
// process group (signal_job: pid alone while it leads none) until it
// exits, and returns its wait status. The Go side blocked the signals
// before its exec, so none is lost in between.
static int wait_forwarding(pid_t pid, const sigset_t *set)
{
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR) {
			dprintf(2, "sbx: monitor: wait for sandbox pid %d: %s (%s is internal to sbx: unset it)\n",
				pid, strerror(errno), SBX_ENV_MONITOR);
			_exit(SBX_EXIT_FAILED);
		}
		siginfo_t info;
		int sig = sigwaitinfo(set, &info);
		if (sig > 0 && sig != SIGCHLD)
			signal_job(pid, sig);
	}
}

// CHILDREN_WAIT bounds how long the monitor waits, once pid 1 is gone, for
// its other children: the sandbox's network helper (or its keeper), which
// ends with it. Waiting frees a published port before sbx exits.
#define CHILDREN_WAIT_MS 3000

// wait_children reaps the monitor's other children, for at most
// CHILDREN_WAIT_MS (SIGCHLD is blocked).
static void wait_children(void)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	struct timespec left = { .tv_sec = CHILDREN_WAIT_MS / 1000, .tv_nsec = (CHILDREN_WAIT_MS % 1000) * 1000000L };
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r > 0)
			continue;
		if (r < 0 && errno != EINTR)
			return; // ECHILD: none left
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= CHILDREN_WAIT_MS)
			return;
		left.tv_sec = (CHILDREN_WAIT_MS - ms) / 1000;
		left.tv_nsec = ((CHILDREN_WAIT_MS - ms) % 1000) * 1000000L;
		sigtimedwait(&chld, NULL, &left);
	}
}

// is_private reports whether st is of type kind (S_IFDIR, S_IFREG), the
// caller's and closed to group and others, as sbx writes its records.
static int is_private(const struct stat *st, mode_t kind)
{
	return (st->st_mode & S_IFMT) == kind && st->st_uid == getuid() && (st->st_mode & 077) == 0;
}

// read_plan reads the file "plan" of the record open at dirfd into a new
// buffer of *len bytes, or returns NULL if it is missing, unreadable, not
// private or larger than MAX_PLAN.
static char *read_plan(int dirfd, size_t *len)
{
	// O_NONBLOCK: a FIFO in its place must not hold the monitor.
	int fd = openat(dirfd, "plan", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) < 0 || !is_private(&st, S_IFREG) || st.st_size > MAX_PLAN)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto out;
	size_t used = 0;
	while (used < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			buf = NULL;
			goto out;
		}
		if (n == 0)
			break; // shorter than it was: what is there is the plan
		used += (size_t)n;
	}
	*len = used;
out:
	close(fd);
	return buf;
}

// plan_names reports whether the top-level attributes of plan name the
// process pid that started at start, each exactly once; if so, it points
// *cgroup at a copy of the sandbox's cgroup directory, if the record has
// one (the caller frees it).
static int plan_names(const char *plan, size_t len, pid_t pid, unsigned long long start, char **cgroup)
{
	uint32_t off = 0;
	struct sbx_attr a;
	int r, have_pid = 0, have_start = 0, have_cgroup = 0;
	uint32_t plan_pid = 0;
	uint64_t plan_start = 0;
	const char *cg = NULL;
	uint32_t cg_len = 0;
	while ((r = attr_next(plan, (uint32_t)len, &off, &a)) > 0) {
		if (a.type == SBX_ATTR_RECORD_PID) {
			if (have_pid++ || a.len != sizeof(plan_pid))
				return 0;
			memcpy(&plan_pid, a.val, sizeof(plan_pid));
		} else if (a.type == SBX_ATTR_RECORD_START) {
			if (have_start++ || a.len != sizeof(plan_start))
				return 0;
			memcpy(&plan_start, a.val, sizeof(plan_start));
		} else if (a.type == SBX_ATTR_RECORD_CGROUP) {
			if (have_cgroup++)
				return 0;
			cg = a.val;
			cg_len = a.len;
		}
	}
	if (r != 0 || !have_pid || !have_start || plan_pid != (uint32_t)pid || plan_start != start)
		return 0;
	if (cg != NULL && cg_len < PATH_MAX && memchr(cg, '\0', cg_len) == NULL) {
		char *dir = strndup(cg, cg_len);
		if (dir != NULL && !cgroup_dir_valid(dir)) {
			free(dir);
			dir = NULL;
		}
		*cgroup = dir;
	}
	return 1;
}

// remove_entries removes what a record holds: the plan, the log and
// temporary plans. It returns -1 if one of them stays.
static int remove_entries(int dirfd)
{
	if (unlinkat(dirfd, "plan", 0) < 0 && errno != ENOENT)
		return -1;
	if (unlinkat(dirfd, "log", 0) < 0 && errno != ENOENT)
		return -1;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, ".plan-", 6) == 0 && unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT)
			ret = -1;
	}
	closedir(d);
	return ret;
}

// remove_record removes the record in dir while it is still the one of
// the sandbox m names, and the sandbox's cgroup first (reporting an OOM
// kill); it leaves both alone, silently, on any mismatch or error: the
// record (and a cgroup of that name) is then someone else's, or `sbx ps`
// reports it stale and cleans up.
static void remove_record(const struct monitor_arg *m)
{
	char *cgroup = NULL;
	int dirfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return;
	struct stat dst, now;
	size_t len = 0;
	char *plan = NULL;
	if (fstat(dirfd, &dst) < 0 || !is_private(&dst, S_IFDIR))
		goto out;
	plan = read_plan(dirfd, &len);
	if (plan == NULL || !plan_names(plan, len, m->pid, m->start, &cgroup))
		goto out;
	if (cgroup != NULL) {
		cgroup_report_oom(cgroup);
		cgroup_remove(cgroup);
	}
	if (remove_entries(dirfd) < 0)
		goto out;
	// The path still leads to this very directory (rmdir refuses one that
	// holds anything, such as the record of a sandbox that took the name).
	if (lstat(m->dir, &now) == 0 && now.st_dev == dst.st_dev && now.st_ino == dst.st_ino)
		rmdir(m->dir);
out:
	free(cgroup);
	free(plan);
	close(dirfd);
}

// monitor is all an attached sbx does once its sandbox has run for a while:
// forward signals to the sandbox's pid 1, wait for it, remove its record,
// and end like it.
SBX_INTERNAL void monitor(const char *arg)
{
	struct monitor_arg m;
	if (parse_monitor_arg(arg, &m) < 0) {
		dprintf(2, "sbx: bad %s=%s: it is internal to sbx, unset it\n", SBX_ENV_MONITOR, arg);
		_exit(SBX_EXIT_FAILED);
	}
	sbx_stamp_fd = sbx_stamp_env_fd();
	sbx_stamp("monitor.start");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	add_forwarded_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		dprintf(2, "sbx: monitor: block signals: %s\n", strerror(errno));
		_exit(SBX_EXIT_FAILED);
	}
	prctl(PR_SET_NAME, "sbx", 0, 0, 0);
	int status = wait_forwarding(m.pid, &set);
	sbx_stamp("monitor.cleanup");
	wait_children();
	if (m.dir != NULL)
		remove_record(&m);
	sbx_stamp("monitor.exit");
	_exit(exit_like(status));
}

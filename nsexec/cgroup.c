//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// cgroup.c: the monitor's part of a sandbox's cgroup (package cgroupv2 makes
// it): after the sandbox's pid 1 has ended, report an OOM kill, kill what is
// left and remove the cgroup, so that an attached sandbox leaves nothing
// behind once sbx has handed over to the monitor.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"

// CGROUP_EMPTY_WAIT_MS bounds the wait for killed processes to go (as
// cgroupv2.emptyWait).
#define CGROUP_EMPTY_WAIT_MS 5000

// read_small reads the interface file name of the cgroup open at dirfd
// into buf (NUL-terminated); it returns the length, or -1.
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, buf, size - 1, 0);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

// write_small writes value to the interface file name of the cgroup open
// at dirfd, in one write.
static int write_small(int dirfd, const char *name, const char *value)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	int err = errno;
	close(fd);
	errno = err;
	return n < 0 ? -1 : 0;
}

// read_key returns the value of key in the flat-keyed text buf ("key
// value" lines), 0 if it is not there.
static long long read_key(const char *buf, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	}
	return 0;
}

// cgroup_dir_valid reports whether dir is a sandbox cgroup as sbx makes
// them (cgroupv2.Cgroup.Valid): under the cgroup mount, no "." or ".."
// part, its last part "sbx-..." (sbx kills and removes what is in it).
SBX_INTERNAL int cgroup_dir_valid(const char *dir)
{
	const char *prefix = SBX_CGROUP_MOUNT "/";
	if (strncmp(dir, prefix, strlen(prefix)) != 0 || strstr(dir, "//") != NULL ||
	    strstr(dir, "/./") != NULL || strstr(dir, "/../") != NULL)
		return 0;
	const char *base = strrchr(dir, '/') + 1;
	return strncmp(base, "sbx-", 4) == 0 && strcmp(base, ".") != 0 && strcmp(base, "..") != 0;
}

SBX_INTERNAL long long cgroup_oom_kills(const char *dir, int *at_limit)
{
	*at_limit = 0;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return 0;
	char buf[1024];
	long long n = 0;
	if (read_small(dirfd, "memory.events", buf, sizeof(buf)) > 0) {
		n = read_key(buf, "oom_kill");
		*at_limit = read_key(buf, "oom") > 0;
	}
	close(dirfd);
	return n;
}

// format_bytes renders a limit as the flags take it (32m, 1g), or as it is.
static void format_bytes(const char *raw, char *out, size_t size)
{
	char *end;
	unsigned long long v = strtoull(raw, &end, 10);
	if (end == raw || (*end != '\0' && *end != '\n')) {
		snprintf(out, size, "%.*s", (int)strcspn(raw, "\n"), raw);
		return;
	}
	if (v != 0 && v % (1ULL << 30) == 0)
		snprintf(out, size, "%llug", v >> 30);
	else if (v != 0 && v % (1ULL << 20) == 0)
		snprintf(out, size, "%llum", v >> 20);
	else if (v != 0 && v % (1ULL << 10) == 0)
		snprintf(out, size, "%lluk", v >> 10);
	else
		snprintf(out, size, "%llu", v);
}

SBX_INTERNAL void cgroup_report_oom(const char *dir)
{
	int at_limit;
	long long kills = cgroup_oom_kills(dir, &at_limit);
	if (kills <= 0)
		return;
	char raw[64] = "", limit[64];
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0) {
		read_small(dirfd, "memory.max", raw, sizeof(raw));
		close(dirfd);
	}
	if (!at_limit || raw[0] == '\0' || strncmp(raw, "max", 3) == 0) {
		dprintf(2, "sbx: the sandbox ran out of memory: the kernel killed %lld process%s in it\n",
			kills, kills == 1 ? "" : "es");
		return;
	}
	format_bytes(raw, limit, sizeof(limit));
	dprintf(2, "sbx: the sandbox reached its memory limit (%s): the kernel killed %lld process%s in it\n",
		limit, kills, kills == 1 ? "" : "es");
}

// kill_all ends every process of the cgroup open at dirfd (cgroup.kill,
// Linux 5.14, as old as the oldest kernel sbx runs on).
static void kill_all(int dirfd)
{
	write_small(dirfd, "cgroup.kill", "1");
}

// wait_empty waits until the cgroup open at dirfd has no process left, its
// children included ("populated 0" in cgroup.events), up to the bound.
static void wait_empty(int dirfd)
{
	int fd = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		char buf[256];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			break;
		buf[n] = '\0';
		if (strstr(buf, "populated 0") != NULL)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= CGROUP_EMPTY_WAIT_MS)
			break;
		struct pollfd pfd = { .fd = fd, .events = POLLPRI };
		if (poll(&pfd, 1, (int)(CGROUP_EMPTY_WAIT_MS - spent)) < 0 && errno != EINTR)
			break;
	}
	close(fd);
}

// remove_children removes the cgroups below the one open at dirfd, deepest
// first, up to depth levels down (a sandbox may make its own).
static void remove_children(int dirfd, int depth)
{
	if (depth <= 0)
		return;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		int child = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child >= 0) {
			remove_children(child, depth - 1);
			close(child);
		}
		unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

SBX_INTERNAL void cgroup_remove(const char *dir)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return;
	kill_all(dirfd);
	wait_empty(dirfd);
	remove_children(dirfd, 8);
	close(dirfd);
	rmdir(dir);
}

//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// stamp.c: when `make bench` asks for them ($SBX_STAMPS), the stages, pid 1
// and the monitor append a line "LABEL NANOSECONDS" at each step to the
// descriptor the sbx parent passed on, so that the lines of every process
// of one start sort into one timeline with the Go side's. Without that
// descriptor a stamp is one comparison.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbxwire.h"
#include "nsexec.h"
#include "stamp.h"

int sbx_stamp_fd = -1;

// sbx_stamp stamps label now (see stamp.h).
SBX_INTERNAL void sbx_stamp(const char *label)
{
	struct timespec now;
	if (sbx_stamp_fd < 0 || clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return;
	sbx_stamp_at(label, &now);
}

// sbx_stamp_at stamps label at when.
SBX_INTERNAL void sbx_stamp_at(const char *label, const struct timespec *when)
{
	char line[128];
	if (sbx_stamp_fd < 0)
		return;
	long long ns = (long long)when->tv_sec * 1000000000LL + when->tv_nsec;
	int n = snprintf(line, sizeof(line), "%s %lld\n", label, ns);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	// One write of a short line: lines of processes that share the file
	// (opened O_APPEND) never interleave.
	if (write(sbx_stamp_fd, line, (size_t)n) < 0)
		return; // a stamp lost is no reason to fail
}

// sbx_stamp_use starts stamping to fd. Helpers and the command must never
// inherit it: it is close-on-exec from here on.
SBX_INTERNAL int sbx_stamp_use(int fd)
{
	if (fd < 3) {
		errno = EBADF;
		return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	sbx_stamp_fd = fd;
	return 0;
}

// sbx_stamp_env_fd reads the descriptor that a re-executed stage 2, or the
// monitor, is to stamp to.
SBX_INTERNAL int sbx_stamp_env_fd(void)
{
	const char *env = getenv(SBX_ENV_STAMPFD);
	if (env == NULL)
		return -1;
	char *end;
	errno = 0;
	long fd = strtol(env, &end, 10);
	if (errno != 0 || end == env || *end != '\0' || fd < 3 || fd > 1 << 20)
		return -1;
	return (int)fd;
}

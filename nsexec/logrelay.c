//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// logrelay.c: the output of a detached sandbox goes through its pid 1 to
// the log in the record's directory, which never grows past its cap: a
// sandbox that writes without end would otherwise fill $XDG_RUNTIME_DIR, a
// small RAM filesystem that the user's whole session needs. Past the cap,
// the log starts again from empty with a line that says so, so that the
// newest output is what it holds.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logrelay.h"

// write_log writes all of buf to the log, dropping what the log refuses
// (a full disk must not stop the command, which would block on the pipe).
static void write_log(struct log_relay *r, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(r->out, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
		r->size += (uint64_t)n;
	}
}

// append adds data to the log, starting it again when it would pass max.
static void append(struct log_relay *r, const char *buf, size_t len)
{
	if (r->size + len <= r->max) {
		write_log(r, buf, len);
		return;
	}
	char note[128];
	int n = snprintf(note, sizeof(note), "[sbx: the log reached its cap of %llu bytes and started again]\n",
			 (unsigned long long)r->max);
	if (ftruncate(r->out, 0) < 0)
		return; // keep it as it is; nothing more is written
	r->size = 0;
	if (n > 0 && (uint64_t)n < r->max)
		write_log(r, note, (size_t)n);
	// Of a chunk larger than what is left, the newest part.
	uint64_t room = r->max - r->size;
	if (len > room) {
		buf += len - room;
		len = (size_t)room;
	}
	write_log(r, buf, len);
}

// DRAIN_CHUNKS bounds the drain at the end: what the pipe held then (a pipe
// holds 64 KiB unless enlarged), not what writers left behind keep adding.
#define DRAIN_CHUNKS 16

SBX_INTERNAL int log_relay_pump(struct log_relay *r, int drain)
{
	char buf[65536];
	if (drain) {
		int flags = fcntl(r->in, F_GETFL);
		if (flags >= 0)
			fcntl(r->in, F_SETFL, flags | O_NONBLOCK);
	}
	for (int chunks = 0; !drain || chunks < DRAIN_CHUNKS; chunks++) {
		ssize_t n = read(r->in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return 0;
		if (n < 0)
			return 1; // EAGAIN while draining: the rest is not written yet
		append(r, buf, (size_t)n);
		if (!drain)
			return 1;
	}
	return 1;
}

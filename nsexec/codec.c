//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// codec.c: frames on the init socket, attribute lists (the bootstrap, a
// record's plan), and the one failure frame (SBX_MSG_ERROR) each stage ends with when a step fails.

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "sbxwire.h"

SBX_INTERNAL int init_fd = -1;
SBX_INTERNAL int current_stage = 0;

// write_all writes all of buf to fd, retrying after signals.
SBX_INTERNAL int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

// read_all reads exactly len bytes from fd, retrying after signals; end of
// file before that is EPIPE.
SBX_INTERNAL int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

// send_frame writes one frame as a single write so that frames of stages
// sharing the socket never interleave.
SBX_INTERNAL int send_frame(uint32_t type, const void *payload, uint32_t len)
{
	char buf[sizeof(struct frame_header) + 1024];
	struct frame_header h = { .type = type, .len = len };
	if (len > sizeof(buf) - sizeof(h)) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	return write_all(init_fd, buf, sizeof(h) + len);
}

// bail reports a failure of the current stage to the sbx parent and exits.
// The message says what failed; err is the errno of the failed call (0 if
// none).
SBX_INTERNAL void bail(int err, const char *fmt, ...)
{
	struct {
		int32_t stage;
		int32_t err;
		char text[512];
	} msg;
	va_list ap;

	msg.stage = current_stage;
	msg.err = err;
	va_start(ap, fmt);
	int n = vsnprintf(msg.text, sizeof(msg.text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg.text))
		n = sizeof(msg.text) - 1;
	if (send_frame(SBX_MSG_ERROR, &msg, (uint32_t)(offsetof(__typeof__(msg), text) + n)) < 0) {
		// The parent is gone or the socket broke: stderr is all we have.
		dprintf(2, "sbx: stage %d: %s: %s\n", current_stage, msg.text, strerror(err));
	}
	_exit(SBX_EXIT_FAILED);
}

// send_pid reports a pid to the sbx parent in a frame of type.
SBX_INTERNAL void send_pid(uint32_t type, pid_t pid)
{
	int32_t v = pid;
	if (send_frame(type, &v, sizeof(v)) < 0)
		bail(errno, "report pid %d to the sbx parent", pid);
}

// read_frame reads one frame of want_type from the init socket, at most
// MAX_BOOTSTRAP bytes, into a NUL-terminated buffer.
SBX_INTERNAL char *read_frame(uint32_t want_type, uint32_t *len)
{
	struct frame_header h;
	if (read_all(init_fd, &h, sizeof(h)) < 0)
		bail(errno, "read frame header from init socket");
	if (h.type != want_type)
		bail(EPROTO, "unexpected frame type %u (want %u)", h.type, want_type);
	if (h.len > MAX_BOOTSTRAP)
		bail(EMSGSIZE, "frame of %u bytes is too large", h.len);
	char *buf = malloc(h.len + 1);
	if (buf == NULL)
		bail(errno, "allocate %u bytes for bootstrap", h.len);
	if (h.len > 0 && read_all(init_fd, buf, h.len) < 0)
		bail(errno, "read %u bytes of frame from init socket", h.len);
	buf[h.len] = '\0';
	*len = h.len;
	return buf;
}

// attr_next reads the attribute at *off into *a and moves *off past it
// (see codec.h for what it returns).
SBX_INTERNAL int attr_next(const char *data, uint32_t len, uint32_t *off, struct sbx_attr *a)
{
	uint16_t pad;
	if (*off >= len)
		return 0;
	if (len - *off < SBX_ATTR_HEADER)
		return -1;
	memcpy(&a->type, data + *off, 2);
	memcpy(&pad, data + *off + 2, 2);
	memcpy(&a->len, data + *off + 4, 4);
	if (pad != 0 || a->len > len - *off - SBX_ATTR_HEADER)
		return -2;
	a->val = data + *off + SBX_ATTR_HEADER;
	*off += SBX_ATTR_HEADER + a->len;
	return 1;
}

// attr_u32 returns a u32 attribute's value; name is for the failure report.
static uint32_t attr_u32(const struct sbx_attr *a, const char *name)
{
	uint32_t v;
	if (a->len != sizeof(v))
		bail(EPROTO, "bootstrap attribute %s has length %u, want 4", name, a->len);
	memcpy(&v, a->val, sizeof(v));
	return v;
}

// attr_u64 returns a u64 attribute's value; name is for the failure report.
static uint64_t attr_u64(const struct sbx_attr *a, const char *name)
{
	uint64_t v;
	if (a->len != sizeof(v))
		bail(EPROTO, "bootstrap attribute %s has length %u, want 8", name, a->len);
	memcpy(&v, a->val, sizeof(v));
	return v;
}

// attr_string returns a NUL-terminated copy of a string attribute.
static const char *attr_string(const struct sbx_attr *a)
{
	char *s = malloc(a->len + 1);
	if (s == NULL)
		bail(errno, "allocate bootstrap string");
	memcpy(s, a->val, a->len);
	s[a->len] = '\0';
	return s;
}

// parse_attr stores one bootstrap attribute in b. Attributes of the Go side
// (SBX_ATTR_GO_FIRST and up) are skipped; an unknown one below is an error.
static void parse_attr(const struct sbx_attr *a, struct bootstrap *b)
{
	switch (a->type) {
	case SBX_ATTR_CLONE_FLAGS:
		b->clone_flags = attr_u32(a, "clone flags");
		break;
	case SBX_ATTR_UID_MAP:
		b->uid_map = attr_string(a);
		break;
	case SBX_ATTR_GID_MAP:
		b->gid_map = attr_string(a);
		break;
	case SBX_ATTR_UIDMAP_HELPER:
		b->uidmap_helper = attr_string(a);
		break;
	case SBX_ATTR_GIDMAP_HELPER:
		b->gidmap_helper = attr_string(a);
		break;
	case SBX_ATTR_SETGROUPS_DENY:
		b->setgroups_deny = attr_u32(a, "setgroups deny") != 0;
		break;
	case SBX_ATTR_PDEATHSIG:
		b->pdeathsig = (int)attr_u32(a, "parent death signal");
		break;
	case SBX_ATTR_CLONE_METHOD:
		b->clone_method = (int)attr_u32(a, "clone method");
		break;
	case SBX_ATTR_JOIN_PIDFD:
		b->join_pidfd = (int)attr_u32(a, "join pidfd");
		break;
	case SBX_ATTR_JOIN_FLAGS:
		b->join_flags = attr_u32(a, "join flags");
		break;
	case SBX_ATTR_LOG_MAX:
		b->log_max = attr_u32(a, "log cap");
		break;
	case SBX_ATTR_STAMP_FD:
		b->stamp_fd = (int)attr_u32(a, "stamp descriptor");
		break;
	case SBX_ATTR_EXIT_FD:
		b->exit_fd = (int)attr_u32(a, "exit code descriptor");
		break;
	case SBX_ATTR_HOLD_FD:
		b->hold_fd = (int)attr_u32(a, "held descriptor");
		break;
	case SBX_ATTR_JOIN_NS: {
		if (b->n_join_ns == SBX_MAX_JOIN_NS)
			bail(E2BIG, "more than %d namespaces to join", SBX_MAX_JOIN_NS);
		uint64_t v = attr_u64(a, "namespace to join");
		b->join_ns[b->n_join_ns].fd = (int)(v >> 32);
		b->join_ns[b->n_join_ns].flags = (uint32_t)v;
		b->n_join_ns++;
		break;
	}
	case SBX_ATTR_RECORD_PID:
		// A record's identity: the stages have no use for it.
		attr_u32(a, "record pid");
		break;
	case SBX_ATTR_RECORD_START:
		attr_u64(a, "record start time");
		break;
	default:
		if (a->type < SBX_ATTR_GO_FIRST)
			bail(EPROTO, "unknown bootstrap attribute %u", a->type);
	}
}

// parse_bootstrap decodes the attribute list of a bootstrap frame.
SBX_INTERNAL void parse_bootstrap(const char *data, uint32_t len, struct bootstrap *b)
{
	uint32_t off = 0;
	struct sbx_attr a;
	int r;
	memset(b, 0, sizeof(*b));
	while ((r = attr_next(data, len, &off, &a)) > 0)
		parse_attr(&a, b);
	if (r == -1)
		bail(EPROTO, "truncated bootstrap attribute header at offset %u", off);
	if (r < 0)
		bail(EPROTO, "malformed bootstrap attribute %u at offset %u", a.type, off);
}

// SPDX-License-Identifier: Apache-2.0
//
// codec.c: frames on the init socket, the bootstrap's attribute list, and
// the one failure frame (MSG_ERROR) each stage ends with when a step fails.

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

int init_fd = -1;
int current_stage = 0;

// write_all writes all of buf to fd, retrying after signals.
int write_all(int fd, const void *buf, size_t len)
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
int read_all(int fd, void *buf, size_t len)
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
int send_frame(uint32_t type, const void *payload, uint32_t len)
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
void bail(int err, const char *fmt, ...)
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
	if (send_frame(MSG_ERROR, &msg, (uint32_t)(offsetof(__typeof__(msg), text) + n)) < 0) {
		// The parent is gone or the socket broke: stderr is all we have.
		dprintf(2, "sbx: stage %d: %s: %s\n", current_stage, msg.text, strerror(err));
	}
	_exit(125);
}

// send_pid reports a pid to the sbx parent in a frame of type.
void send_pid(uint32_t type, pid_t pid)
{
	int32_t v = pid;
	if (send_frame(type, &v, sizeof(v)) < 0)
		bail(errno, "report pid %d to the sbx parent", pid);
}

// read_frame reads one frame of want_type from the init socket, at most
// MAX_BOOTSTRAP bytes, into a NUL-terminated buffer.
char *read_frame(uint32_t want_type, uint32_t *len)
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

// attr_u32 returns a u32 attribute's value; name is for the failure report.
static uint32_t attr_u32(const char *val, uint32_t len, const char *name)
{
	uint32_t v;
	if (len != sizeof(v))
		bail(EPROTO, "bootstrap attribute %s has length %u, want 4", name, len);
	memcpy(&v, val, sizeof(v));
	return v;
}

// attr_string returns a NUL-terminated copy of a string attribute.
static const char *attr_string(const char *val, uint32_t len)
{
	char *s = malloc(len + 1);
	if (s == NULL)
		bail(errno, "allocate bootstrap string");
	memcpy(s, val, len);
	s[len] = '\0';
	return s;
}

// parse_bootstrap decodes the attribute list: each attribute is a u16 type,
// a u16 that must be zero, a u32 length and the value.
void parse_bootstrap(const char *data, uint32_t len, struct bootstrap *b)
{
	uint32_t off = 0;
	memset(b, 0, sizeof(*b));
	while (off < len) {
		uint16_t type, pad;
		uint32_t alen;
		if (len - off < 8)
			bail(EPROTO, "truncated bootstrap attribute header at offset %u", off);
		memcpy(&type, data + off, 2);
		memcpy(&pad, data + off + 2, 2);
		memcpy(&alen, data + off + 4, 4);
		off += 8;
		if (pad != 0 || alen > len - off)
			bail(EPROTO, "malformed bootstrap attribute %u at offset %u", type, off - 8);
		const char *val = data + off;
		switch (type) {
		case ATTR_CLONE_FLAGS:
			b->clone_flags = attr_u32(val, alen, "clone flags");
			break;
		case ATTR_UID_MAP:
			b->uid_map = attr_string(val, alen);
			break;
		case ATTR_GID_MAP:
			b->gid_map = attr_string(val, alen);
			break;
		case ATTR_UIDMAP_HELPER:
			b->uidmap_helper = attr_string(val, alen);
			break;
		case ATTR_GIDMAP_HELPER:
			b->gidmap_helper = attr_string(val, alen);
			break;
		case ATTR_SETGROUPS_DENY:
			b->setgroups_deny = attr_u32(val, alen, "setgroups deny") != 0;
			break;
		case ATTR_PDEATHSIG:
			b->pdeathsig = (int)attr_u32(val, alen, "parent death signal");
			break;
		case ATTR_CLONE_METHOD:
			b->clone_method = (int)attr_u32(val, alen, "clone method");
			break;
		case ATTR_JOIN_PIDFD:
			b->join_pidfd = (int)attr_u32(val, alen, "join pidfd");
			break;
		case ATTR_JOIN_FLAGS:
			b->join_flags = attr_u32(val, alen, "join flags");
			break;
		case ATTR_LOG_MAX:
			b->log_max = attr_u32(val, alen, "log cap");
			break;
		default:
			bail(EPROTO, "unknown bootstrap attribute %u", type);
		}
		off += alen;
	}
}

// SPDX-License-Identifier: Apache-2.0
//
// codec.h (internal to nsexec): the frames of the init socket, the
// attributes of the bootstrap, and the failure report that ends a stage.
// The wire format is documented in protocol.go.
#ifndef SBX_CODEC_H
#define SBX_CODEC_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sbxwire.h"

#define MAX_BOOTSTRAP SBX_MAX_FRAME

// bootstrap is the decoded bootstrap frame: what the stages are to do.
struct bootstrap {
	uint32_t clone_flags;
	const char *uid_map;	// "inside outside count\n" lines, NUL-terminated
	const char *gid_map;
	const char *uidmap_helper; // newuidmap path, or NULL to write directly
	const char *gidmap_helper;
	int setgroups_deny;
	int pdeathsig;
	int clone_method; // SBX_CLONE_*
	int join_pidfd;   // > 0: join the namespaces of this process (sbx exec)
	uint32_t join_flags;
	uint32_t log_max; // > 0: relay stdout and stderr to the log, capped
	int stamp_fd;     // > 0: the descriptor time stamps go to
	int exit_fd;      // > 0: pid 1 writes the command's exit code to it
	int hold_fd;      // > 0: pid 1 holds it until it exits (nothing reads or writes it)
	// join_ns are namespaces stage 1 joins, in order, instead of making
	// them: a descriptor (a pidfd, or an nsfs file) and its CLONE_NEW*.
	struct { int fd; uint32_t flags; } join_ns[SBX_MAX_JOIN_NS];
	int n_join_ns;
};

// frame_header starts every frame, in native byte order.
struct frame_header {
	uint32_t type;
	uint32_t len;
};

// init_fd is the init socket to the sbx parent; current_stage names the
// stage in failure reports.
SBX_INTERNAL int init_fd;
SBX_INTERNAL int current_stage;

// write_all writes all of buf to fd, or returns -1 with errno set.
SBX_INTERNAL int write_all(int fd, const void *buf, size_t len);

// read_all reads exactly len bytes from fd, or returns -1 with errno set
// (EPIPE at end of file).
SBX_INTERNAL int read_all(int fd, void *buf, size_t len);

// send_frame writes one frame to the init socket (see codec.c).
SBX_INTERNAL int send_frame(uint32_t type, const void *payload, uint32_t len);

// bail reports a failure of the current stage to the sbx parent and exits.
__attribute__((noreturn, format(printf, 2, 3)))
SBX_INTERNAL void bail(int err, const char *fmt, ...);

// send_pid reports pid in a frame of type, or bails.
SBX_INTERNAL void send_pid(uint32_t type, pid_t pid);

// read_frame reads one frame of want_type from the init socket into a
// NUL-terminated buffer of *len bytes, or bails.
SBX_INTERNAL char *read_frame(uint32_t want_type, uint32_t *len);

// sbx_attr is one attribute of a list (see sbxwire.h): its type, and its
// value of len bytes.
struct sbx_attr {
	uint16_t type;
	uint32_t len;
	const char *val;
};

// attr_next reads the attribute at *off of the list data (len bytes) into
// *a and moves *off past it. It returns 1 for an attribute, 0 at the end
// of the list, -1 for a truncated header and -2 for a bad header (pad not
// zero, value past the end); *off then stays at the bad attribute.
SBX_INTERNAL int attr_next(const char *data, uint32_t len, uint32_t *off, struct sbx_attr *a);

// parse_bootstrap decodes a bootstrap frame into *b, or bails.
SBX_INTERNAL void parse_bootstrap(const char *data, uint32_t len, struct bootstrap *b);

#endif

// SPDX-License-Identifier: Apache-2.0
//
// stamp.h: time stamps of the C side's steps, for make bench (the Go side
// writes the same lines: see stamp/stamp.go).
#ifndef SBX_STAMP_H
#define SBX_STAMP_H

#include "internal.h"

#include <time.h>

// sbx_stamp_fd is the descriptor stamps go to, -1 for none. The Go init
// and a joining sbx exec find it here (nsexec.StampFD); it is
// close-on-exec, so the command never inherits it.

// sbx_stamp appends "LABEL NANOSECONDS\n" (CLOCK_MONOTONIC) to
// sbx_stamp_fd in one write, ignoring errors; without a descriptor it does
// nothing.
SBX_INTERNAL void sbx_stamp(const char *label);

// sbx_stamp_at is sbx_stamp for a time taken before the descriptor was
// known.
SBX_INTERNAL void sbx_stamp_at(const char *label, const struct timespec *when);

// sbx_stamp_use makes stamps go to fd (above stdio) and makes it
// close-on-exec; it returns -1 with errno set if it cannot.
SBX_INTERNAL int sbx_stamp_use(int fd);

// sbx_stamp_env_fd returns the descriptor that SBX_ENV_STAMPFD names, or -1
// if it is unset or names none above stdio.
SBX_INTERNAL int sbx_stamp_env_fd(void);

#endif

// SPDX-License-Identifier: Apache-2.0
//
// stamp.h: time stamps of the C side's steps, for make bench (the Go side
// writes the same lines: see stamp/stamp.go).
#ifndef SBX_STAMP_H
#define SBX_STAMP_H

#include <time.h>

// sbx_stamp_fd is the descriptor stamps go to, -1 for none. The Go init
// and a joining sbx exec find it here (nsexec.StampFD); it is
// close-on-exec, so the command never inherits it.
extern int sbx_stamp_fd;

// sbx_stamp appends "LABEL NANOSECONDS\n" (CLOCK_MONOTONIC) to
// sbx_stamp_fd in one write, ignoring errors; without a descriptor it does
// nothing.
void sbx_stamp(const char *label);

// sbx_stamp_at is sbx_stamp for a time taken before the descriptor was
// known.
void sbx_stamp_at(const char *label, const struct timespec *when);

// sbx_stamp_use makes stamps go to fd (above stdio) and makes it
// close-on-exec; it returns -1 with errno set if it cannot.
int sbx_stamp_use(int fd);

// sbx_stamp_env_fd returns the descriptor that SBX_ENV_STAMPFD names, or -1
// if it is unset or names none above stdio.
int sbx_stamp_env_fd(void);

#endif

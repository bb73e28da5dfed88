// SPDX-License-Identifier: Apache-2.0
//
// reexec.h (internal to nsexec): stage 2's re-execution from an unwritable
// copy of the sbx binary.
#ifndef SBX_REEXEC_H
#define SBX_REEXEC_H

#include "internal.h"

#include "codec.h"

// reexec_from_clone replaces stage 2 with the unwritable copy fd (made
// with method used), or with one it makes if fd < 0; resume is the value
// of SBX_ENV_RESUME for the new image. It bails on failure.
__attribute__((noreturn))
SBX_INTERNAL void reexec_from_clone(const struct bootstrap *b, const char *resume, int fd, int used);

// resume_checked starts a re-executed stage 2: it takes back the stamp
// descriptor and checks the copy, or bails.
SBX_INTERNAL void resume_checked(void);

// await_go_ahead waits for the sbx parent's go-ahead and starts a new
// session, or bails (quietly, with SBX_EXIT_FAILED, if the parent is gone).
SBX_INTERNAL void await_go_ahead(void);

#endif

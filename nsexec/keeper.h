// SPDX-License-Identifier: Apache-2.0
//
// keeper.h (internal to nsexec): the keeper of a sandbox's network helper.
#ifndef SBX_KEEPER_H
#define SBX_KEEPER_H

#include "internal.h"

// keeper runs the command of its own command line (from argv[1]) as its
// child until the pipe end arg (the value of SBX_ENV_KEEPER) names sees
// end of file, then kills it; it ends like the child if the child ends
// first. It never returns.
__attribute__((noreturn))
SBX_INTERNAL void keeper(const char *arg);

#endif

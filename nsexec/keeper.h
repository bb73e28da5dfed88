// SPDX-License-Identifier: Apache-2.0
//
// keeper.h (internal to nsexec): the keeper of a sandbox's network helper.
#ifndef SBX_KEEPER_H
#define SBX_KEEPER_H

#include "internal.h"

// keeper runs the helper of its own command line (after "--") as its
// child, and relays the published UDP ports it names, until the sandbox's
// pid 1 (its pidfd at descriptor 3) exits; then it kills the helper and
// exits. It ends like the helper if that ends first. arg is the value of
// SBX_ENV_KEEPER, "1". It never returns.
__attribute__((noreturn))
SBX_INTERNAL void keeper(const char *arg);

#endif

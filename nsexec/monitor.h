// SPDX-License-Identifier: Apache-2.0
//
// monitor.h (internal to nsexec): the host-side monitor of an attached
// sandbox.
#ifndef SBX_MONITOR_H
#define SBX_MONITOR_H

#include "internal.h"

#include "sbxwire.h"

// monitor forwards signals to the sandbox's pid 1 that arg (the value of
// SBX_ENV_MONITOR) names, waits for it, removes its record while it is
// still its own, and ends like it. It never returns.
__attribute__((noreturn))
SBX_INTERNAL void monitor(const char *arg);

#endif

// SPDX-License-Identifier: Apache-2.0
//
// idmap.h (internal to nsexec): stage 0 writes stage 1's uid and gid maps.
#ifndef SBX_IDMAP_H
#define SBX_IDMAP_H

#include "internal.h"

#include <sys/types.h>

#include "codec.h"

// map_stage1 gives the process pid (stage 1, in its new user namespace)
// the maps of b, itself or through newuidmap and newgidmap; it bails on
// failure.
SBX_INTERNAL void map_stage1(const struct bootstrap *b, pid_t pid);

#endif

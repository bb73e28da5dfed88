// SPDX-License-Identifier: Apache-2.0
//
// cgroup.h (internal to nsexec): what the monitor does with a sandbox's
// cgroup once the sandbox has ended (see cgroupv2/cgroup.go for the layout).
#ifndef SBX_CGROUP_H
#define SBX_CGROUP_H

#include "internal.h"

// cgroup_dir_valid reports whether dir is a sandbox cgroup as sbx makes
// them (under the cgroup mount, no "." or ".." part, named "sbx-..."): a
// record's cgroup is checked before the monitor kills or removes anything.
SBX_INTERNAL int cgroup_dir_valid(const char *dir);

// cgroup_oom_kills returns how many processes of the cgroup at dir the
// kernel killed for lack of memory (memory.events), 0 if it cannot tell,
// and sets *at_limit when the cgroup's own limit was reached.
SBX_INTERNAL long long cgroup_oom_kills(const char *dir, int *at_limit);

// cgroup_report_oom prints, when the cgroup at dir had processes killed
// for its memory limit, the one line that says so (as the Go side does).
SBX_INTERNAL void cgroup_report_oom(const char *dir);

// cgroup_remove kills what is left in the cgroup at dir, waits until it is
// empty (bounded) and removes it, its children first. Errors are silent:
// `sbx ps` and `sbx rm` clean up what stays.
SBX_INTERNAL void cgroup_remove(const char *dir);

#endif

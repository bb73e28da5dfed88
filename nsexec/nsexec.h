// SPDX-License-Identifier: Apache-2.0
#ifndef SBX_NSEXEC_H
#define SBX_NSEXEC_H

// Roles of a process once the nsexec constructor returns.
#define SBX_ROLE_NONE 0 // an ordinary sbx invocation
#define SBX_ROLE_INIT 1 // the Go init of a new sandbox (pid 2 inside it)
#define SBX_ROLE_EXEC 2 // a process that joined a running sandbox (sbx exec)

extern int sbx_role;
extern int sbx_init_fd;

#endif

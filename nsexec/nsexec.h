// SPDX-License-Identifier: Apache-2.0
//
// nsexec.h: what the constructor leaves for the Go side of package nsexec.
#ifndef SBX_NSEXEC_H
#define SBX_NSEXEC_H

#include "sbxwire.h"

// sbx_role is the role of this process once the constructor returns
// (SBX_ROLE_*), and sbx_init_fd the init socket to the sbx parent in the
// Go init and in a joining sbx exec (-1 otherwise).
extern int sbx_role;
extern int sbx_init_fd;
// sbx_stamp_fd is where time stamps go (stamp.c), -1 for nowhere.
extern int sbx_stamp_fd;

#endif

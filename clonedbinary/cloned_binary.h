// SPDX-License-Identifier: Apache-2.0
#ifndef SBX_CLONED_BINARY_H
#define SBX_CLONED_BINARY_H

// Methods for sbx_clone_binary; keep in sync with clonedbinary.go.
#define SBX_CLONE_AUTO 0  // bind, then memfd
#define SBX_CLONE_BIND 1  // read-only bind mount, detached: zero bytes copied
#define SBX_CLONE_MEMFD 2 // sealed memfd copy

// sbx_clone_binary returns a read-only descriptor of an unwritable copy of
// /proc/self/exe made with method (the method used is stored in *used),
// or -errno. The bind method needs CAP_SYS_ADMIN over the current mount
// namespace.
int sbx_clone_binary(int method, int *used);

// sbx_binary_protection tells how the running binary is protected:
// SBX_CLONE_BIND if it runs from a read-only mount, SBX_CLONE_MEMFD if from
// a fully sealed memfd, 0 if it is writable in principle, -errno on error.
int sbx_binary_protection(void);

#endif

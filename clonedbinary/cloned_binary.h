// SPDX-License-Identifier: Apache-2.0
#ifndef SBX_CLONED_BINARY_H
#define SBX_CLONED_BINARY_H

// Methods for sbx_clone_binary; clonedbinary.go reads them through cgo.
#define SBX_CLONE_AUTO 0  // bind, then memfd
#define SBX_CLONE_BIND 1  // read-only bind mount, detached: zero bytes copied
#define SBX_CLONE_MEMFD 2 // sealed memfd copy

// sbx_clone_binary returns a read-only descriptor of an unwritable copy of
// /proc/self/exe made with method (the method used is stored in *used),
// or -errno. The bind method needs CAP_SYS_ADMIN over the current mount
// namespace.
int sbx_clone_binary(int method, int *used);

// sbx_clone_for_join is sbx_clone_binary for a process about to join the
// sandbox whose pid 1 pidfd refers to, called before it joins: it looks up
// nothing inside the sandbox. The bind method reuses the read-only bind pid 1
// runs from, if it is one of this very binary; the memfd method copies on
// the caller's side. Auto takes the bind if there is one, else a memfd.
int sbx_clone_for_join(int pidfd, int method, int *used);

// sbx_binary_protection tells how the running binary is protected:
// SBX_CLONE_BIND if it runs from a read-only mount, SBX_CLONE_MEMFD if from
// a fully sealed memfd, 0 if it is writable in principle, -errno on error.
int sbx_binary_protection(void);

#endif

// SPDX-License-Identifier: Apache-2.0
#ifndef SBX_INTERNAL_H
#define SBX_INTERNAL_H

// SBX_INTERNAL marks what nsexec's C files share among themselves. They are
// compiled as one unit (nsexec_unit.c), so it is static: the compiler sees
// every caller, and puts the code that only the constructor reaches (the
// stages, pid 1, the monitor) together in the binary's startup text.
#define SBX_INTERNAL static

#endif

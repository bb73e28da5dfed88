// SPDX-License-Identifier: Apache-2.0
//
// nsexec_unit.c: the C side of nsexec as one translation unit. The files by
// concern (stages.c first: it describes the whole) are kept apart for
// people and compiled together here (each says //go:build ignore, so cgo
// does not compile it on its own): their code then lies together in the
// binary. The monitor and the sandbox's pid 1 run only this code for their
// whole life, and the kernel maps the text they touch in 64 KiB blocks
// (fault-around): spread over the binary, the same code cost them about
// 150 KiB more of resident memory each.

#include "stages.c"
#include "codec.c"
#include "idmap.c"
#include "pid1.c"
#include "reexec.c"
#include "monitor.c"
#include "stamp.c"
#include "logrelay.c"
#include "cgroup.c"
#include "keeper.c"
#include "udprelay.c"

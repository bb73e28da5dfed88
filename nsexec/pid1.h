// SPDX-License-Identifier: Apache-2.0
//
// pid1.h (internal to nsexec): the sandbox's pid 1, a tiny C init.
#ifndef SBX_PID1_H
#define SBX_PID1_H

#include "internal.h"

#include <signal.h>

// add_forwarded_signals adds to set every signal that the sbx parent (or
// the monitor) and pid 1 pass on to the command.
SBX_INTERNAL void add_forwarded_signals(sigset_t *set);

// signal_job sends sig to the process group that pid leads, or to pid
// alone if it leads none.
SBX_INTERNAL void signal_job(pid_t pid, int sig);

// exit_like turns a wait status into the exit code to end with.
SBX_INTERNAL int exit_like(int status);

// pid1_start forks the Go init, which returns from it with sbx_role set
// to SBX_ROLE_INIT; pid 1 itself stays in it for the sandbox's life and
// never returns. With exit_code_fd >= 0 it writes the command's exit code
// there before it exits. It bails on failure.
SBX_INTERNAL void pid1_start(unsigned long log_max, int exit_code_fd, int hold_fd);

#endif

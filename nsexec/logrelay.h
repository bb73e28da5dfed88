// SPDX-License-Identifier: Apache-2.0
#ifndef SBX_LOGRELAY_H
#define SBX_LOGRELAY_H

#include "internal.h"

#include <stdint.h>

// log_relay carries a detached sandbox's output from a pipe to its log
// file, keeping the log under max bytes.
struct log_relay {
	int in;        // read end of the command's stdout and stderr
	int out;       // the log, opened O_APPEND
	uint64_t max;  // the log's cap in bytes
	uint64_t size; // bytes in the log now
};

// log_relay_pump moves what is readable now from in to out (once; or, with
// drain, until nothing is left, up to 1 MiB). It returns 0 at end of
// input, 1 otherwise.
SBX_INTERNAL int log_relay_pump(struct log_relay *r, int drain);

#endif

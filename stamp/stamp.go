// Package stamp records when each step of starting a sandbox happens, for
// `make bench`: one line "LABEL NANOSECONDS" per step, in CLOCK_MONOTONIC,
// appended to the file named by $SBX_STAMPS. The C stages write the same
// lines (nsexec/stamp.c), so the lines of every process of one start sort
// into one timeline. Without $SBX_STAMPS nothing is opened or written.
package stamp

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Env names the file that stamps are appended to.
const Env = "SBX_STAMPS"

var fd = -1

// Open opens the file $SBX_STAMPS names, if it is set. sbx calls it first
// thing; the descriptor is close-on-exec and passed on to the sandbox's
// stages explicitly (see FD).
func Open() {
	path := os.Getenv(Env)
	if path == "" {
		return
	}
	f, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err == nil {
		fd = f
	}
}

// Use makes stamps go to descriptor f, one inherited from the sbx parent
// (the Go init). A negative f turns them off.
func Use(f int) { fd = f }

// FD is the descriptor stamps go to, or -1.
func FD() int { return fd }

// Mark records that the step label happens now.
func Mark(label string) {
	if fd < 0 {
		return
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return
	}
	b := make([]byte, 0, len(label)+24)
	b = append(b, label...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts.Nano(), 10)
	b = append(b, '\n')
	unix.Write(fd, b)
}

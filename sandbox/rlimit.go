package sandbox

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rlimitNames are the --ulimit names, as docker and podman spell them.
var rlimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
	"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS,
	"memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE,
	"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS,
	"rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING,
	"stack": unix.RLIMIT_STACK,
}

// rlimitType is the OCI name of a --ulimit name: "nofile" -> "RLIMIT_NOFILE".
func rlimitType(name string) string { return "RLIMIT_" + strings.ToUpper(name) }

// parseUlimits turns --ulimit NAME=SOFT[:HARD] settings into OCI rlimits.
// A hard limit above the caller's own cannot be had without privilege, so it
// is refused here, before anything starts.
func parseUlimits(settings []string) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, s := range settings {
		name, vals, ok := strings.Cut(s, "=")
		res, known := rlimitNames[strings.ToLower(name)]
		if !ok || !known {
			return nil, fmt.Errorf("--ulimit %q: want NAME=SOFT[:HARD] with NAME one of as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack", s)
		}
		softStr, hardStr, hasHard := strings.Cut(vals, ":")
		soft, err := rlimitValue(softStr)
		if err != nil {
			return nil, fmt.Errorf("--ulimit %q: soft limit: %w", s, err)
		}
		hard := soft
		if hasHard {
			if hard, err = rlimitValue(hardStr); err != nil {
				return nil, fmt.Errorf("--ulimit %q: hard limit: %w", s, err)
			}
		}
		if soft > hard {
			return nil, fmt.Errorf("--ulimit %q: the soft limit is above the hard limit", s)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return nil, fmt.Errorf("--ulimit %q: read your own limit: %w", s, err)
		}
		if hard > cur.Max {
			return nil, fmt.Errorf("--ulimit %q: the hard limit is above yours (%s): ask for at most that, or raise your own hard limit first", s, rlimitString(cur.Max))
		}
		typ := rlimitType(strings.ToLower(name))
		for i := range out {
			if out[i].Type == typ {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
		out = append(out, specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard})
	}
	return out, nil
}

func rlimitValue(v string) (uint64, error) {
	switch v {
	case "unlimited", "-1":
		return unix.RLIM_INFINITY, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or \"unlimited\"", v)
	}
	return n, nil
}

func rlimitString(v uint64) string {
	if v == unix.RLIM_INFINITY || v == math.MaxUint64 {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// applyRlimits sets the sandbox's resource limits on this process. It uses
// package syscall's Setrlimit, which also keeps the Go runtime from putting
// its saved RLIMIT_NOFILE back on exec.
func applyRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		name := strings.ToLower(strings.TrimPrefix(l.Type, "RLIMIT_"))
		res, ok := rlimitNames[name]
		if !ok {
			return fmt.Errorf("unknown resource limit %s", l.Type)
		}
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fmt.Errorf("--ulimit %s=%s:%s: %w", name, rlimitString(l.Soft), rlimitString(l.Hard), err)
		}
	}
	return nil
}

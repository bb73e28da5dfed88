package sandbox

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
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

// parseUlimits turns --ulimit NAME=SOFT[:HARD] settings into the plan's
// resource limits.
// A hard limit above the caller's own cannot be had without privilege, so it
// is refused here, before anything starts.
func parseUlimits(settings []string) ([]plan.Rlimit, error) {
	var out []plan.Rlimit
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
			return nil, fmt.Errorf("--ulimit %q: the hard limit is above yours (%s): ask for at most that, or raise your own hard limit first", s, RlimitString(cur.Max))
		}
		for i := range out {
			if out[i].Resource == uint32(res) {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
		out = append(out, plan.Rlimit{Resource: uint32(res), Soft: soft, Hard: hard})
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

// RlimitString renders a limit as --ulimit takes it.
func RlimitString(v uint64) string {
	if v == unix.RLIM_INFINITY || v == math.MaxUint64 {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// rlimitType is the OCI name of a resource limit: RLIMIT_NOFILE.
func rlimitType(res uint32) string {
	for name, r := range rlimitNames {
		if uint32(r) == res {
			return "RLIMIT_" + strings.ToUpper(name)
		}
	}
	return fmt.Sprintf("RLIMIT_%d", res)
}

package sandbox

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// parseUlimits turns --ulimit NAME=SOFT[:HARD] settings into the plan's
// resource limits.
// A hard limit above the caller's own cannot be had without privilege, so it
// is refused here, before anything starts.
func parseUlimits(settings []string) ([]plan.Rlimit, error) {
	var out []plan.Rlimit
	for _, s := range settings {
		name, vals, ok := strings.Cut(s, "=")
		res, known := plan.RlimitNames[strings.ToLower(name)]
		if !ok || !known {
			return nil, fmt.Errorf("--ulimit %q: want NAME=SOFT[:HARD] with NAME one of as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack", s)
		}
		softStr, hardStr, hasHard := strings.Cut(vals, ":")
		sized := sizeLimits[res]
		soft, err := rlimitValue(softStr, sized)
		if err != nil {
			return nil, fmt.Errorf("--ulimit %q: soft limit: %w", s, err)
		}
		hard := soft
		if hasHard {
			if hard, err = rlimitValue(hardStr, sized); err != nil {
				return nil, fmt.Errorf("--ulimit %q: hard limit: %w", s, err)
			}
		}
		if soft > hard {
			return nil, fmt.Errorf("--ulimit %q: the soft limit is above the hard limit", s)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(int(res), &cur); err != nil {
			return nil, fmt.Errorf("--ulimit %q: read your own limit: %w", s, err)
		}
		if hard > cur.Max {
			return nil, fmt.Errorf("--ulimit %q: the hard limit is above yours (%s): ask for at most that, or raise your own hard limit first", s, plan.RlimitValue(cur.Max))
		}
		for i := range out {
			if out[i].Resource == res {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
		out = append(out, plan.Rlimit{Resource: res, Soft: soft, Hard: hard})
	}
	return out, nil
}

// sizeLimits are the limits in bytes, which take k, m and g suffixes.
var sizeLimits = map[uint32]bool{
	unix.RLIMIT_AS: true, unix.RLIMIT_CORE: true, unix.RLIMIT_DATA: true, unix.RLIMIT_FSIZE: true,
	unix.RLIMIT_MEMLOCK: true, unix.RLIMIT_MSGQUEUE: true, unix.RLIMIT_RSS: true, unix.RLIMIT_STACK: true,
}

// rlimitValue reads one limit: a number, "unlimited" or -1; for a limit in
// bytes (sized), also a size with a k, m or g suffix (powers of 1024), as
// --tmpfs takes it.
func rlimitValue(v string, sized bool) (uint64, error) {
	switch v {
	case "unlimited", "-1":
		return unix.RLIM_INFINITY, nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return n, nil
	}
	if !sized {
		return 0, fmt.Errorf("%q is not a number or \"unlimited\"", v)
	}
	if v == "" {
		return 0, fmt.Errorf("an empty size: want a number of bytes with an optional k, m or g suffix, or \"unlimited\"")
	}
	n, err := parseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of bytes (with an optional k, m or g suffix) or \"unlimited\"", v)
	}
	return n, nil
}

// rlimitType is the OCI name of a resource limit: RLIMIT_NOFILE.
func rlimitType(r plan.Rlimit) string {
	return "RLIMIT_" + strings.ToUpper(r.Name())
}

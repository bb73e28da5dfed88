package inside

import (
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"

	"github.com/sbx-sandbox/sbx/plan"
)

// restrictToView puts the command under Landlock (--landlock) with the
// plan's rules, in the view as it is now built. Landlock also forbids every
// mount change, so even a capability added back cannot remount a read-only
// bind writable. It is best effort: on a kernel without Landlock, or with
// an older ABI, sbx applies what the kernel knows (the planner refused
// --landlock where there is none).
func restrictToView(rules []plan.LandlockRule) error {
	var out []landlock.Rule
	for _, r := range rules {
		st, err := os.Stat(r.Path)
		if err != nil {
			if r.IfExists {
				continue // not there (or not reachable): nothing to grant
			}
			return fmt.Errorf("--landlock: %s: %w", r.Path, err)
		}
		out = append(out, pathRule(r, st.IsDir()))
	}
	if err := landlock.V9.BestEffort().RestrictPaths(out...); err != nil {
		return fmt.Errorf("--landlock: %w", err)
	}
	return nil
}

func pathRule(r plan.LandlockRule, dir bool) landlock.Rule {
	var fr landlock.FSRule
	switch {
	case dir && r.Writable:
		fr = landlock.RWDirs(r.Path).WithRefer()
	case dir:
		fr = landlock.RODirs(r.Path)
	case r.Writable:
		fr = landlock.RWFiles(r.Path)
	default:
		fr = landlock.ROFiles(r.Path)
	}
	if r.Dev {
		fr = fr.WithIoctlDev()
	}
	// Named sockets are reachable wherever the mount lets them be, as
	// without Landlock.
	return fr.WithResolveUnix()
}

package sandbox

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// landlockAvailable refuses --landlock on a kernel without Landlock, where
// the best effort would be no effort at all. Older ABIs are used as far as
// they go (see package inside).
func landlockAvailable() error {
	_, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch e {
	case 0:
		return nil
	case unix.EOPNOTSUPP:
		return errors.New("--landlock: Landlock is built into this kernel but not enabled: add landlock to the lsm= boot parameter (run `sbx check` for details)")
	}
	return fmt.Errorf("--landlock: this kernel has no Landlock (%v): it needs Linux 5.13 or newer with CONFIG_SECURITY_LANDLOCK", e)
}

// landlockRules are the Landlock rules of --landlock: the command may reach
// the files of its view only with the mode each mount was given: the root
// read-only (or read-write with --rootfs-rw), /proc, /dev, /tmp, tmpfs,
// overlays and read-write binds writable, read-only binds readable. Rights
// are granted down the tree, so a read-only bind inside a writable one is
// kept read-only by its mount alone.
func landlockRules(p *plan.Plan) []plan.LandlockRule {
	rules := []plan.LandlockRule{{Path: "/", Writable: !p.Root.ReadOnly}}
	for _, m := range p.Mounts {
		r := plan.LandlockRule{Path: m.Dst}
		switch m.Kind {
		case plan.Proc, plan.Tmpfs, plan.Overlay:
			r.Writable = true
		case plan.Dev:
			r.Writable, r.Dev = true, true
		case plan.Cover:
			// Missing and not creatable: not covered.
			r.Writable, r.IfExists = true, true
		case plan.Bind:
			r.Writable, r.Dev = !m.ReadOnly, m.Dev
		default:
			continue // directories, links and hidden paths change no rights
		}
		rules = append(rules, r)
	}
	return rules
}

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/landlock-lsm/go-landlock/landlock"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// restrictToView puts the command under Landlock (--landlock): it may reach
// the files of its view only with the mode each mount was given: the root
// read-only (or read-write with --rootfs-rw), /proc, /dev, /tmp, tmpfs,
// overlays and read-write binds writable, read-only binds readable. Landlock
// also forbids every mount change, so even a capability added back cannot
// remount a read-only bind writable. It is best effort: on a kernel
// without Landlock, or with an older ABI, sbx applies what the kernel
// knows. Rights are granted down the tree, so a read-only bind inside a
// writable one is kept read-only by its mount alone.
func restrictToView(spec *specs.Spec) error {
	rules, err := viewRules(spec)
	if err != nil {
		return err
	}
	if err := landlock.V9.BestEffort().RestrictPaths(rules...); err != nil {
		return fmt.Errorf("--landlock: %w", err)
	}
	return nil
}

// landlockAvailable refuses --landlock on a kernel without Landlock, where
// the best effort would be no effort at all. Older ABIs are used as far as
// they go (see restrictToView).
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

// viewRules returns the Landlock rules of the view, root first.
func viewRules(spec *specs.Spec) ([]landlock.Rule, error) {
	rootRW := spec.Root != nil && !spec.Root.Readonly
	rules := []landlock.Rule{pathRule("/", true, rootRW, false)}
	for _, m := range spec.Mounts {
		var writable, dev bool
		switch m.Type {
		case "proc":
			writable = true
		case MountDev:
			writable, dev = true, true
		case "tmpfs", "overlay":
			writable = true
		case MountCover:
			if _, err := os.Stat(m.Destination); err != nil {
				continue // missing and not creatable: not covered
			}
			writable = true
		case "bind":
			writable = !slices.Contains(m.Options, "ro")
			dev = slices.Contains(m.Options, "dev")
		default:
			continue // directories, symlinks and hidden paths change no rights
		}
		st, err := os.Stat(m.Destination)
		if err != nil {
			return nil, fmt.Errorf("--landlock: %s: %w", m.Destination, err)
		}
		rules = append(rules, pathRule(m.Destination, st.IsDir(), writable, dev))
	}
	return rules, nil
}

func pathRule(path string, dir, writable, dev bool) landlock.Rule {
	var r landlock.FSRule
	switch {
	case dir && writable:
		r = landlock.RWDirs(path).WithRefer()
	case dir:
		r = landlock.RODirs(path)
	case writable:
		r = landlock.RWFiles(path)
	default:
		r = landlock.ROFiles(path)
	}
	if dev {
		r = r.WithIoctlDev()
	}
	// Named sockets are reachable wherever the mount lets them be, as
	// without Landlock.
	return r.WithResolveUnix()
}

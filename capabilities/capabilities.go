// Package capabilities decides and applies the capability sets of a
// sandboxed command: none for an ordinary uid, a small podman-like set for
// uid 0, adjusted by --cap-add and --cap-drop.
package capabilities

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// RootDefault is what a command running as uid 0 inside gets, as podman
// gives it: enough to own files, switch users and bind low ports, nothing
// that reaches the kernel's administration (no CAP_SYS_ADMIN, CAP_NET_ADMIN,
// CAP_SYS_PTRACE, CAP_SYS_RESOURCE...).
var RootDefault = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// All is the word that stands for every capability in --cap-add/--cap-drop.
const All = "ALL"

// Canonical turns "net_raw", "NET_RAW" or "cap_net_raw" into "CAP_NET_RAW",
// and "all" into "ALL"; an unknown name is an error that says so.
func Canonical(name string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	if up == All {
		return All, nil
	}
	if !strings.HasPrefix(up, "CAP_") {
		up = "CAP_" + up
	}
	if _, ok := byName()[up]; !ok {
		return "", fmt.Errorf("unknown capability %q (names as in capabilities(7), e.g. NET_RAW or CAP_NET_RAW, or ALL)", name)
	}
	return up, nil
}

// byName maps "CAP_X" to the capability, for every capability the library
// knows and the running kernel has.
func byName() map[string]capability.Cap {
	last, err := capability.LastCap()
	m := map[string]capability.Cap{}
	for _, c := range capability.List() {
		if err == nil && c > last {
			continue
		}
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}

// allNames lists every capability of this kernel, sorted.
func allNames() []string {
	var names []string
	for n := range byName() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Compute returns the capability sets of a command running as uid, given
// --cap-add and --cap-drop (raw names, ALL allowed). uid 0 starts from
// RootDefault, any other uid from nothing. ALL in drop starts from nothing,
// ALL in add from everything; then the other adds and drops apply. The
// bounding set is the result. Capabilities named in add (or all, with ALL)
// are also ambient, so that a non-root command really holds them after
// exec, as with bwrap; root's command holds the whole bounding set anyway.
func Compute(uid uint32, add, drop []string) (plan.Caps, error) {
	adds, err := canonicalAll("--cap-add", add)
	if err != nil {
		return plan.Caps{}, err
	}
	drops, err := canonicalAll("--cap-drop", drop)
	if err != nil {
		return plan.Caps{}, err
	}
	for _, a := range adds {
		if a != All && slices.Contains(drops, a) {
			return plan.Caps{}, fmt.Errorf("--cap-add %s and --cap-drop %s contradict each other: keep one", a, a)
		}
	}
	set := map[string]bool{}
	if uid == 0 {
		for _, c := range RootDefault {
			set[c] = true
		}
	}
	if slices.Contains(drops, All) {
		clear(set)
	}
	var ambient []string
	if slices.Contains(adds, All) {
		for _, c := range allNames() {
			set[c] = true
		}
		ambient = allNames()
	}
	for _, a := range adds {
		if a != All {
			set[a] = true
			ambient = append(ambient, a)
		}
	}
	for _, d := range drops {
		delete(set, d)
	}
	bounding := make([]string, 0, len(set))
	for c := range set {
		bounding = append(bounding, c)
	}
	slices.Sort(bounding)
	ambient = slices.DeleteFunc(slices.Compact(sorted(ambient)), func(c string) bool { return !set[c] })
	return forUser(uid, bounding, ambient), nil
}

// forUser returns the sets for a command running as uid with the given
// bounding set and explicitly added (ambient) capabilities: uid 0 holds the
// whole bounding set, any other uid only the ambient ones. The inheritable
// set holds only what ambient needs, as in Docker and podman since
// CVE-2022-24769.
func forUser(uid uint32, bounding, ambient []string) plan.Caps {
	b, a := mask(bounding), mask(ambient)
	held := a
	if uid == 0 {
		held = b
	}
	return plan.Caps{Bounding: b, Effective: held, Permitted: held, Inheritable: a, Ambient: a}
}

// mask turns names of known capabilities into a bit mask.
func mask(names []string) uint64 {
	known := byName()
	var m uint64
	for _, n := range names {
		if c, ok := known[n]; ok && c < 64 {
			m |= 1 << uint(c)
		}
	}
	return m
}

// Mask returns the mask of the capabilities names (CAP_X or X, any case),
// or an error naming the first one this kernel's list does not have.
func Mask(names []string) (uint64, error) {
	canon, err := canonicalAll("capability", names)
	if err != nil {
		return 0, err
	}
	return mask(canon), nil
}

// Names returns the names ("CAP_X") of the capabilities in mask, sorted.
func Names(mask uint64) []string {
	var names []string
	for n, c := range byName() {
		if c < 64 && mask&(1<<uint(c)) != 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func canonicalAll(flag string, names []string) ([]string, error) {
	var out []string
	for _, arg := range names {
		for _, n := range strings.Split(arg, ",") {
			c, err := Canonical(n)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", flag, arg, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Apply sets the calling thread's capabilities to caps: it cuts the
// bounding set first (which needs CAP_SETPCAP), then, with KEEPCAPS set,
// runs switchUser (nil to keep the ids), then sets the effective,
// permitted, inheritable and ambient sets. The thread must hold every
// capability of caps when Apply starts.
func Apply(caps plan.Caps, switchUser func() error) error {
	c, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	all := caps.Bounding | caps.Effective | caps.Permitted | caps.Inheritable | caps.Ambient
	if last < 63 && all>>(uint(last)+1) != 0 {
		return fmt.Errorf("capabilities: %#x has capabilities this kernel does not know (its last is %d)", all, last)
	}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for _, s := range []struct {
		which capability.CapType
		mask  uint64
	}{
		{capability.BOUNDING, caps.Bounding}, {capability.EFFECTIVE, caps.Effective},
		{capability.PERMITTED, caps.Permitted}, {capability.INHERITABLE, caps.Inheritable},
		{capability.AMBIENT, caps.Ambient},
	} {
		for v := capability.Cap(0); v <= last; v++ {
			if s.mask&(1<<uint(v)) != 0 {
				c.Set(s.which, v)
			}
		}
	}
	if err := c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("cut the capability bounding set: %w", err)
	}
	// The library skips the cut without CAP_SETPCAP; make sure it happened.
	for v := capability.Cap(0); v <= last; v++ {
		if in, err := capability.GetBound(v); err == nil && in && caps.Bounding&(1<<uint(v)) == 0 {
			return fmt.Errorf("cut the capability bounding set: CAP_%s is still in it", strings.ToUpper(v.String()))
		}
	}
	if switchUser != nil {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("keep capabilities across the uid change: %w", err)
		}
		if err := switchUser(); err != nil {
			return err
		}
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("reset keep-capabilities: %w", err)
		}
	}
	if err := c.Apply(capability.CAPS | capability.AMBS); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	return nil
}

package inside

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// The view is built in three steps, so that no destination is ever
// resolved on the host:
//  1. every source is opened on the host while the host is still visible:
//     a detached clone of each mount tree (open_tree), read-only where
//     asked, and each overlay assembled;
//  2. the root clone is attached and pivot_root'ed to; the host's root is
//     detached and gone;
//  3. the mounts are applied in command-line order inside the new root:
//     every destination is resolved with openat2(RESOLVE_IN_ROOT) and
//     every mount attached through descriptors (move_mount), never through
//     a path resolved twice.

// source is a view operation whose host-side parts have been opened.
type source struct {
	mount plan.Mount
	fd    int   // detached mount: bind clone, overlay or proc
	dev   []int // detached device nodes, for plan.Dev, in devNodes order
}

// devNodes are the host devices a sandbox gets in its minimal /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// buildView builds the view of plan p: the new root, and every operation
// of p.Mounts in order.
func buildView(p *plan.Plan) error {
	ids := newSourceIDs(p.Sources)
	// Nothing mounted in here may ever propagate to the host; host mounts
	// still propagate into the binds.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("make / a recursive slave: %w (mount(2) is refused here, by a seccomp filter: "+
				"is this inside a sandbox or container? run `sbx check` for details)", err)
		}
		return fmt.Errorf("make / a recursive slave: %w", err)
	}
	root, err := openRoot(p.Root, ids)
	if err != nil {
		return err
	}
	sources := make([]source, 0, len(p.Mounts))
	for _, m := range p.Mounts {
		s, err := openSource(m, ids)
		if err != nil {
			return err
		}
		sources = append(sources, s)
	}
	if err := writeSysctls(sources, p.Sysctls); err != nil {
		return err
	}
	if !p.Security.AllowUserns {
		if err := disableUserNamespaces(sources); err != nil {
			return err
		}
	}
	if err := pivotTo(root); err != nil {
		return err
	}
	v, err := newView()
	if err != nil {
		return err
	}
	for _, s := range sources {
		if err := v.apply(s); err != nil {
			return err
		}
	}
	if err := v.restrict(p.Masked, p.ReadOnly); err != nil {
		return err
	}
	if err := v.seal(); err != nil {
		return err
	}
	if p.Root.ReadOnly && p.Root.ReadOnlyLate {
		// The root mount alone: the mounts on it keep their modes.
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(v.root, "", unix.AT_EMPTY_PATH, &attr); err != nil {
			return fmt.Errorf("make the root read-only: %w", err)
		}
	}
	return nil
}

// openRoot clones the tree that becomes /.
func openRoot(r plan.Root, ids sourceIDs) (int, error) {
	if r.Path == "" {
		return -1, errors.New("configuration has no root")
	}
	if r.Overlay {
		// --overlay-root: the tree as the lower layer, writes to a
		// throwaway tmpfs. The overlay has the tree's own files, not
		// the mounts below it (there are none in a tree for --rootfs).
		fd, err := openOverlay(plan.Mount{Lowers: []string{r.Path}}, ids)
		if err != nil {
			return -1, fmt.Errorf("root %s: overlay: %w", r.Path, err)
		}
		return fd, nil
	}
	fd, err := cloneTree(r.Path, ids, true)
	if err != nil {
		return -1, fmt.Errorf("root %s: %w", r.Path, err)
	}
	var attr uint64
	if !r.Suid {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if !r.Dev {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if r.ReadOnly && !r.ReadOnlyLate {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if err := setMountAttr(fd, attr); err != nil {
		return -1, fmt.Errorf("root %s: %w", r.Path, err)
	}
	return fd, nil
}

// cloneTree returns a detached copy of the mount tree at the source path,
// with every mount below it if recursive, once it is checked to be what
// sbx resolved.
func cloneTree(path string, ids sourceIDs, recursive bool) (int, error) {
	src, err := openSourcePath(path, ids)
	if err != nil {
		return -1, err
	}
	defer unix.Close(src)
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(src, "", uint(flags))
	if err != nil {
		return -1, fmt.Errorf("clone mount tree: %w", err)
	}
	return fd, nil
}

func setMountAttr(fd int, set uint64) error {
	attr := unix.MountAttr{Attr_set: set}
	err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if errors.Is(err, unix.ENOSYS) {
		return errors.New("this kernel has no mount_setattr(2): sbx needs Linux 5.12 or newer")
	}
	if err != nil {
		return fmt.Errorf("set mount attributes %#x: %w", set, err)
	}
	return nil
}

// openSource opens what a mount needs from the host.
func openSource(m plan.Mount, ids sourceIDs) (source, error) {
	s := source{mount: m, fd: -1}
	switch m.Kind {
	case plan.Bind:
		fd, err := cloneTree(m.Src, ids, !m.Flat)
		if err != nil {
			return s, fmt.Errorf("bind %s: %w", m.Src, err)
		}
		if err := setMountAttr(fd, mountAttrs(m)); err != nil {
			return s, fmt.Errorf("bind %s: %w", m.Src, err)
		}
		s.fd = fd
	case plan.Sysfs:
		// Like proc, a sysfs must be made while the host's is visible.
		fd, err := newFS("sysfs", nil, int(mountAttrs(m)|unix.MOUNT_ATTR_NODEV))
		if errors.Is(err, unix.EPERM) {
			// A network namespace the sandbox's user namespace does
			// not own: the host's /sys, read-only, as runc does.
			fd, err = unix.OpenTree(unix.AT_FDCWD, "/sys", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
			if err == nil {
				err = setMountAttr(fd, mountAttrs(m)|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_RDONLY)
			}
		}
		if err != nil {
			return s, fmt.Errorf("sysfs on %s: %w", m.Dst, err)
		}
		s.fd = fd
	case plan.Mqueue:
		fd, err := newFS("mqueue", nil, int(mountAttrs(m)))
		if err != nil {
			return s, fmt.Errorf("mqueue on %s: %w", m.Dst, err)
		}
		s.fd = fd
	case plan.Overlay:
		fd, err := openOverlay(m, ids)
		if err != nil {
			return s, fmt.Errorf("overlay on %s: %w", m.Dst, err)
		}
		s.fd = fd
	case plan.Dev:
		for _, n := range devNodes {
			path := "/dev/" + n
			fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
			if err != nil {
				return s, fmt.Errorf("clone host device %s: %w", path, err)
			}
			s.dev = append(s.dev, fd)
		}
	case plan.Proc:
		// The kernel lets a user namespace mount proc only while a fully
		// visible proc is in its mount namespace: the host's, until the
		// pivot. So the instance is made now and attached later.
		fd, err := newFS("proc", nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		if errors.Is(err, unix.EPERM) {
			return s, fmt.Errorf("proc on %s: %w (the kernel refuses a new /proc where the current one has masked paths: "+
				"is this inside a sandbox or container? run `sbx check` for details)", m.Dst, err)
		}
		if err != nil {
			return s, fmt.Errorf("proc on %s: %w", m.Dst, err)
		}
		s.fd = fd
	case plan.Cgroup:
		// Made in the sandbox's cgroup namespace: its root is the
		// sandbox's cgroup. Read-only: the limits in there are the
		// host's to set.
		fd, err := newFS("cgroup2", nil, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		if err != nil {
			return s, fmt.Errorf("cgroup2 on %s: %w", m.Dst, err)
		}
		s.fd = fd
	case plan.Tmpfs, plan.Dir, plan.Symlink, plan.Hide, plan.Cover, plan.File:
	default:
		return s, fmt.Errorf("mount on %s: unknown kind %d", m.Dst, m.Kind)
	}
	return s, nil
}

// mountAttrs are the mount attributes of m: nosuid unless Suid, nodev
// unless Dev, read-only and noexec as asked.
func mountAttrs(m plan.Mount) uint64 {
	var attr uint64
	if !m.Suid {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if !m.Dev {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if m.ReadOnly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if m.NoExec {
		attr |= unix.MOUNT_ATTR_NOEXEC
	}
	return attr
}

// openOverlay assembles a detached overlay of the lower layers with a
// throwaway upper layer on a private tmpfs. The lower paths are resolved
// now, on the host.
func openOverlay(m plan.Mount, ids sourceIDs) (int, error) {
	// Each layer is opened as checked and named to overlayfs by its
	// descriptor.
	var lowers []string
	top := -1
	for _, l := range m.Lowers {
		fd, err := openSourcePath(l, ids)
		if err != nil {
			return -1, err
		}
		defer unix.Close(fd)
		lowers = append(lowers, fmt.Sprintf("/proc/self/fd/%d", fd))
		top = fd
	}
	if top < 0 {
		return -1, errors.New("no lower layer")
	}
	scratch, err := newFS("tmpfs", []string{"mode=0755"}, 0)
	if err != nil {
		return -1, fmt.Errorf("upper layer: %w", err)
	}
	defer unix.Close(scratch)
	for _, d := range []string{"upper", "work"} {
		if err := unix.Mkdirat(scratch, d, 0o755); err != nil {
			return -1, fmt.Errorf("upper layer: mkdir %s: %w", d, err)
		}
	}
	if err := likeTop(scratch, "upper", top); err != nil {
		return -1, fmt.Errorf("upper layer: %w", err)
	}
	self := fmt.Sprintf("/proc/self/fd/%d/", scratch)
	opts := []string{
		// Overlay takes the first lower as the top one; sbx's order is
		// bottom to top, like layers of an image.
		"lowerdir=" + strings.Join(reversed(lowers), ":"),
		"upperdir=" + self + "upper",
		"workdir=" + self + "work",
		"userxattr",
	}
	// Overlayfs clones the upper layer's mount privately, which it can do
	// only while that mount is attached before Linux 6.15: the scratch
	// tmpfs is attached on the root while the overlay is created.
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(root)
	var fd int
	if aerr := attachBriefly(scratch, root, func() error {
		fd, err = newFS("overlay", opts, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
		return nil
	}); aerr != nil {
		if err == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("upper layer: %w", aerr)
	}
	if err != nil {
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) {
			return -1, fmt.Errorf("%w (this kernel cannot mount overlayfs in a user namespace: Linux 5.11 or newer is needed; run `sbx check` for details)", err)
		}
		return -1, err
	}
	return fd, nil
}

// likeTop gives the upper layer's top directory (dir in the scratch
// tmpfs) the mode and owner of the top lower layer's: overlayfs shows the
// upper's as the overlay's own (the sandbox's / with --overlay-root). An
// owner the sandbox does not map (it reads as the overflow id, and chown
// refuses it with EINVAL) stays the sandbox setup's: no file can be given
// to an unmapped id.
func likeTop(scratch int, dir string, lower int) error {
	var st unix.Stat_t
	if err := unix.Fstat(lower, &st); err != nil {
		return fmt.Errorf("stat the top lower layer: %w", err)
	}
	for _, o := range [][2]int{{int(st.Uid), -1}, {-1, int(st.Gid)}} {
		err := unix.Fchownat(scratch, dir, o[0], o[1], unix.AT_SYMLINK_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("chown %s to %d:%d: %w", dir, o[0], o[1], err)
		}
	}
	if err := unix.Fchmodat(scratch, dir, st.Mode&0o7777, 0); err != nil {
		return fmt.Errorf("chmod %s %o: %w", dir, st.Mode&0o7777, err)
	}
	return nil
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// newFS creates a detached mount of a new filesystem instance with the
// new mount API. Options are key=value or bare flags.
func newFS(fstype string, opts []string, attrs int) (int, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(fsfd)
	for _, o := range opts {
		k, v, hasValue := strings.Cut(o, "=")
		if hasValue {
			err = unix.FsconfigSetString(fsfd, k, v)
		} else {
			err = unix.FsconfigSetFlag(fsfd, k)
		}
		if err != nil {
			return -1, fmt.Errorf("%s option %s: %w", fstype, o, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("create %s: %w", fstype, err)
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	return fd, nil
}

// pivotTo attaches the detached root tree and makes it the root of the
// mount namespace, dropping the host's root.
func pivotTo(root int) error {
	// Stacked over the current root, the tree becomes reachable, which
	// pivot_root requires; pivot_root(".", ".") then puts the old root on
	// top of the new one, where it can be detached.
	if err := unix.MoveMount(root, "", unix.AT_FDCWD, "/", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach new root: %w", err)
	}
	if err := unix.Fchdir(root); err != nil {
		return fmt.Errorf("enter new root: %w", err)
	}
	unix.Close(root)
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	return nil
}

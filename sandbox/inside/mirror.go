package inside

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A mount point whose parent is read-only (the host's / in the default
// view, a read-only --rootfs, a read-only bind) cannot be made there
// without changing what lies below. So the view replaces that directory
// by a mirror, what bwrap users write by hand: a fresh tmpfs holding a
// bind of each of its entries (each the same tree, submounts and modes
// included) and a copy of each link, on which the new mount point can be
// made. The directory looks as it did, plus the new mount point; the
// mirror is made read-only again once the view is built (seal). The host
// is never written to.

// mirrorMaxEntries bounds the binds a mirror makes: a directory with more
// entries would cost more mounts than a view should hold.
const mirrorMaxEntries = 1024

// mirrorEntry is one entry of the directory being mirrored: a detached
// clone of it (clone), or the target of a link.
type mirrorEntry struct {
	name  string
	clone int
	link  string
	dir   bool
}

// mirror replaces the directory path of the view (resolved in the root)
// by a writable mirror of it.
func (v *view) mirror(path string) error {
	dir, err := v.open(path, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("mirror %s: %w", path, err)
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		return fmt.Errorf("mirror %s: %w", path, err)
	}
	entries, err := cloneEntries(dir)
	defer func() {
		for _, e := range entries {
			if e.clone >= 0 {
				unix.Close(e.clone)
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("mirror %s: %w", path, err)
	}
	mnt, err := newFS("tmpfs", []string{fmt.Sprintf("mode=%o", st.Mode&0o7777), "size=1m"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return fmt.Errorf("mirror %s: %w", path, err)
	}
	if path == "/" {
		// The root cannot be covered in place (a process's root does not
		// follow a mount on it): the mirror becomes the root.
		if err := pivotTo(mnt); err != nil { // closes mnt
			return fmt.Errorf("mirror /: %w", err)
		}
		root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("mirror /: %w", err)
		}
		unix.Close(v.root)
		v.root = root
		mnt, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("mirror /: %w", err)
		}
	} else {
		target, err := v.open(path, unix.O_PATH|unix.O_DIRECTORY)
		if err == nil {
			err = unix.MoveMount(mnt, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
			unix.Close(target)
		}
		if err != nil {
			unix.Close(mnt)
			return fmt.Errorf("mirror %s: %w", path, err)
		}
		// mnt now refers to the attached tmpfs.
	}
	v.mirrors = append(v.mirrors, mnt)
	for _, e := range entries {
		if err := placeEntry(mnt, e); err != nil {
			return fmt.Errorf("mirror %s: %s: %w", path, e.name, err)
		}
	}
	return nil
}

// cloneEntries takes a detached clone of every entry of the directory
// dir (with the mounts below it), or the target of a link.
func cloneEntries(dir int) ([]mirrorEntry, error) {
	dup, err := unix.Dup(dir)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(dup), "mirror")
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	if len(names) > mirrorMaxEntries {
		return nil, fmt.Errorf("%d entries, more than the %d sbx mirrors to make a mount point beside them (add --tmpfs or --dir for the parent)", len(names), mirrorMaxEntries)
	}
	var entries []mirrorEntry
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return entries, err
		}
		e := mirrorEntry{name: name, clone: -1, dir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(dir, name, buf)
			if err != nil {
				return entries, err
			}
			e.link = string(buf[:n])
		} else {
			fd, err := unix.OpenTree(dir, name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW)
			if err != nil {
				return entries, fmt.Errorf("clone %s: %w", name, err)
			}
			e.clone = fd
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// placeEntry puts e in the mirror mnt: a mount point with its clone on
// it, or the link.
func placeEntry(mnt int, e mirrorEntry) error {
	if e.clone < 0 {
		return unix.Symlinkat(e.link, mnt, e.name)
	}
	if e.dir {
		if err := unix.Mkdirat(mnt, e.name, 0o755); err != nil {
			return err
		}
	} else {
		fd, err := unix.Openat(mnt, e.name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		unix.Close(fd)
	}
	return unix.MoveMount(e.clone, "", mnt, e.name, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// seal makes every mirror read-only, as the directory it stands for was,
// once the view is built.
func (v *view) seal() error {
	for _, m := range v.mirrors {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		err := unix.MountSetattr(m, "", unix.AT_EMPTY_PATH, &attr)
		unix.Close(m)
		if err != nil {
			return fmt.Errorf("make a mirrored directory read-only: %w", err)
		}
	}
	v.mirrors = nil
	return nil
}

// mirrorable reports whether err, from making an entry in a directory,
// is one a mirror of that directory overcomes.
func mirrorable(err error) bool { return errors.Is(err, unix.EROFS) }

// parentOf is filepath.Dir, for the paths of the view (absolute, clean).
func parentOf(path string) string { return filepath.Dir(path) }

package inside

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// view applies mounts inside the new root. Every path is resolved with
// openat2(RESOLVE_IN_ROOT) from the root's descriptor, so a symlink in a
// rootfs (absolute or with "..") can never lead out of it, and every mount
// is attached to the descriptor that was resolved, not to a path looked up
// again.
type view struct {
	root   int // O_PATH descriptor of the new root
	hidden int // detached read-only tmpfs holding the empty "f" and "d", or -1
	// strict is set while sbx's own fixed places are mounted (/proc,
	// /dev, the covers, the masks): no link is followed then, so that a
	// root filesystem cannot send them elsewhere (a /proc that links to
	// a place a later mount covers would leave the masks on nothing).
	strict bool
	// mirrors are the directories replaced by a mirror (mirror.go), made
	// read-only by seal once the view is built.
	mirrors []int
}

func newView() (*view, error) {
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open new root: %w", err)
	}
	return &view{root: root, hidden: -1}, nil
}

// open resolves path inside the root (openat2, Linux 5.6, older than the
// mount API sbx needs: no fallback, which could not refuse links).
func (v *view) open(path string, flags int) (int, error) {
	flags |= unix.O_CLOEXEC
	how := unix.OpenHow{
		Flags:   uint64(flags),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	if v.strict {
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	for {
		fd, err := unix.Openat2(v.root, path, &how)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue // a concurrent rename; resolve again
		}
		if err == unix.ELOOP && v.strict {
			return -1, fmt.Errorf("%s is a symbolic link in the root filesystem, or lies behind one: sbx mounts its own there; make it a real directory: %w", path, err)
		}
		return fd, err
	}
}

// mountpoint returns an O_PATH descriptor of dst, creating it (and its
// parents) as a directory or an empty file where the view is writable.
func (v *view) mountpoint(dst string, dir bool) (int, error) {
	fd, err := v.open(dst, unix.O_PATH)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("stat mount point %s: %w", dst, err)
		}
		if isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR; isDir != dir {
			unix.Close(fd)
			return -1, fmt.Errorf("mount point %s is %s, the source is %s", dst, kind(isDir), kind(dir))
		}
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("open mount point %s: %w", dst, err)
	}
	if err := v.create(dst, dir); err != nil {
		return -1, err
	}
	fd, err = v.open(dst, unix.O_PATH)
	if err != nil {
		return -1, fmt.Errorf("open mount point %s: %w", dst, err)
	}
	return fd, nil
}

// create makes dst (a directory or an empty file) and its missing parents.
// Each step creates one name in a directory resolved inside the root.
func (v *view) create(dst string, dir bool) error {
	parent, err := v.mkdirAll(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	name := filepath.Base(dst)
	make := func(parent int) error {
		if dir {
			return unix.Mkdirat(parent, name, 0o755)
		}
		fd, err := unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}
	err = make(parent)
	if mirrorable(err) {
		// A read-only parent: mirrored, and the mount point made in
		// the mirror.
		if err = v.mirror(parentOf(dst)); err == nil {
			var p int
			if p, err = v.open(parentOf(dst), unix.O_PATH|unix.O_DIRECTORY); err == nil {
				err = make(p)
				unix.Close(p)
			}
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return createError(dst, err)
	}
	return nil
}

// mkdirAll returns an O_PATH descriptor of dir, creating what is missing.
func (v *view) mkdirAll(dir string) (int, error) {
	fd, err := v.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, unix.ENOENT) || dir == "/" {
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", dir, err)
		}
		return fd, nil
	}
	parent, err := v.mkdirAll(filepath.Dir(dir))
	if err != nil {
		return -1, err
	}
	err = unix.Mkdirat(parent, filepath.Base(dir), 0o755)
	unix.Close(parent)
	if mirrorable(err) {
		if err = v.mirror(parentOf(dir)); err == nil {
			if parent, err = v.open(parentOf(dir), unix.O_PATH|unix.O_DIRECTORY); err == nil {
				err = unix.Mkdirat(parent, filepath.Base(dir), 0o755)
				unix.Close(parent)
			}
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, createError(dir, err)
	}
	fd, err = v.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", dir, err)
	}
	return fd, nil
}

func createError(path string, err error) error {
	if errors.Is(err, unix.EROFS) {
		return fmt.Errorf("cannot create %s: its parent is read-only (add --tmpfs or --dir for a parent, or use --rootfs-rw)", path)
	}
	return fmt.Errorf("create %s: %w", path, err)
}

// attach moves a detached mount onto dst.
func (v *view) attach(mnt int, dst string, dir bool) error {
	target, err := v.mountpoint(dst, dir)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	if err := unix.MoveMount(mnt, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount on %s: %w", dst, err)
	}
	return nil
}

// apply performs one view operation inside the new root.
func (v *view) apply(s source) error {
	m := s.mount
	dst := m.Dst
	switch m.Kind {
	case plan.Proc, plan.Dev, plan.Cover:
		v.strict = true
		defer func() { v.strict = false }()
	}
	switch m.Kind {
	case plan.Proc:
		defer unix.Close(s.fd)
		return v.attach(s.fd, dst, true)
	case plan.Cgroup:
		defer unix.Close(s.fd)
		// Where the view has no cgroup directory (a --rootfs without
		// /sys), there is nothing to show it on.
		fd, err := v.open(dst, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil
		}
		defer unix.Close(fd)
		if err := unix.MoveMount(s.fd, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
			return fmt.Errorf("cgroup2 on %s: %w", dst, err)
		}
		return nil
	case plan.Sysfs, plan.Mqueue:
		defer unix.Close(s.fd)
		return v.attach(s.fd, dst, true)
	case plan.Tmpfs:
		attrs := mountAttrs(m)
		if m.CopyUp {
			attrs &^= unix.MOUNT_ATTR_RDONLY // until it is filled
		}
		fd, err := newFS("tmpfs", tmpfsData(m), int(attrs))
		if err != nil {
			return fmt.Errorf("tmpfs on %s: %w", dst, err)
		}
		defer unix.Close(fd)
		if m.CopyUp {
			if err := v.copyUp(dst, fd); err != nil {
				return err
			}
			if m.ReadOnly {
				if err := setMountAttr(fd, unix.MOUNT_ATTR_RDONLY); err != nil {
					return fmt.Errorf("tmpfs on %s: %w", dst, err)
				}
			}
		}
		return v.attach(fd, dst, true)
	case plan.Bind, plan.Overlay:
		defer unix.Close(s.fd)
		var st unix.Stat_t
		if err := unix.Fstat(s.fd, &st); err != nil {
			return fmt.Errorf("%s %s: stat source: %w", m.Kind, m.Src, err)
		}
		return v.attach(s.fd, dst, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	case plan.Dev:
		return v.mountDev(dst, m, s.dev)
	case plan.Dir:
		fd, err := v.mkdirAll(dst)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	case plan.Symlink:
		parent, err := v.mkdirAll(filepath.Dir(dst))
		if err != nil {
			return err
		}
		defer unix.Close(parent)
		if err := unix.Symlinkat(m.Src, parent, filepath.Base(dst)); err != nil {
			return createError(dst, err)
		}
		return nil
	case plan.Hide:
		return v.hide(dst, m.Optional)
	case plan.Cover:
		return v.cover(dst, m)
	case plan.File:
		return v.file(dst, m.Data)
	}
	return fmt.Errorf("mount on %s: unknown kind %d", dst, m.Kind)
}

// file puts a read-only file holding data on dst: the only file of a small
// tmpfs of its own, bound from there (cloned while that tmpfs is attached
// for a moment, see cloneCovers). Where dst is a link, the file goes on
// what it leads to (Ubuntu's /etc/resolv.conf leads into /run, which is
// covered, so it is made there). Where there is nothing to mount on and
// nothing can be made (a read-only --rootfs without the file), the view
// keeps what it has: no file is no reason not to run.
func (v *view) file(dst, data string) error {
	target, ok, err := v.fileTarget(dst)
	if err != nil || !ok {
		return err
	}
	return v.fileOn(target, data)
}

// fileTarget follows dst's links (inside the root) to the path a file
// mount goes on, creating it where the view is writable; ok is false when
// there is none and none can be made.
func (v *view) fileTarget(dst string) (string, bool, error) {
	for hops := 0; hops < 8; hops++ {
		fd, err := v.open(dst, unix.O_PATH|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			if v.create(dst, false) != nil {
				return "", false, nil
			}
			return dst, true, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("file %s: %w", dst, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(fd)
			return dst, err == nil, err
		}
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(fd, "", buf)
		unix.Close(fd)
		if err != nil {
			return "", false, fmt.Errorf("file %s: read link: %w", dst, err)
		}
		link := string(buf[:n])
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(dst), link)
		}
		dst = filepath.Clean(link)
	}
	return "", false, fmt.Errorf("file %s: too many links", dst)
}

// fileOn puts the file on dst, which exists and is no link.
func (v *view) fileOn(dst, data string) error {
	mnt, err := newFS("tmpfs", []string{"mode=0755", "size=" + strconv.Itoa(len(data)+4096)}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("file %s: %w", dst, err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, "f", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("file %s: create: %w", dst, err)
	}
	for b := []byte(data); len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("file %s: write: %w", dst, err)
		}
		b = b[n:]
	}
	unix.Close(fd)
	clone := -1
	err = attachBriefly(mnt, v.root, func() error {
		var err error
		clone, err = unix.OpenTree(mnt, "f", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		return err
	})
	if err != nil {
		return fmt.Errorf("file %s: clone: %w", dst, err)
	}
	defer unix.Close(clone)
	if err := unix.MountSetattr(clone, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("file %s: make read-only: %w", dst, err)
	}
	return v.attach(clone, dst, false)
}

// tmpfsData are the filesystem options of a Tmpfs or Cover.
func tmpfsData(m plan.Mount) []string {
	var data []string
	if m.Mode != "" {
		data = append(data, "mode="+m.Mode)
	}
	if m.Size != "" {
		data = append(data, "size="+m.Size)
	}
	if m.Kind == plan.Tmpfs && m.Data != "" {
		data = append(data, strings.Split(m.Data, ",")...)
	}
	return data
}

// cover mounts a fresh tmpfs on the directory dst, creating it where the
// view is writable; where it is missing and cannot be made, there is
// nothing to cover.
func (v *view) cover(dst string, m plan.Mount) error {
	fd, err := v.open(dst, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		if v.create(dst, true) != nil {
			return nil
		}
		fd, err = v.open(dst, unix.O_PATH|unix.O_DIRECTORY)
	}
	if err != nil {
		return fmt.Errorf("cover %s: %w", dst, err)
	}
	defer unix.Close(fd)
	mnt, err := newFS("tmpfs", tmpfsData(m), unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return fmt.Errorf("cover %s: %w", dst, err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("cover %s: %w", dst, err)
	}
	return nil
}

// shmSize is the size of /dev/shm, as podman's.
const shmSize = "64m"

// mountDev builds the minimal /dev: a tmpfs (64k, mode 0755, unless m
// says other) with the host's safe devices, a devpts (with m.Data's
// options, an OCI config's), /dev/shm and the usual links.
func (v *view) mountDev(dst string, m plan.Mount, nodes []int) error {
	size, mode := "64k", "0755"
	if m.Size != "" {
		size = m.Size
	}
	if m.Mode != "" {
		mode = m.Mode
	}
	// nodev: the device nodes are binds of the host's, mounts of their
	// own; a node made in the tmpfs (by root of the host with
	// CAP_MKNOD, in an OCI container) must not open a device.
	dev, err := newFS("tmpfs", []string{"mode=" + mode, "size=" + size}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return fmt.Errorf("tmpfs on %s: %w", dst, err)
	}
	defer unix.Close(dev)
	if err := v.attach(dev, dst, true); err != nil {
		return err
	}
	// dev now refers to the attached tmpfs: work below it directly.
	for i, n := range devNodes {
		fd, err := unix.Openat(dev, n, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("create %s/%s: %w", dst, n, err)
		}
		unix.Close(fd)
		if err := unix.MoveMount(nodes[i], "", dev, n, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("bind host device on %s/%s: %w", dst, n, err)
		}
		unix.Close(nodes[i])
	}
	for _, d := range []string{"pts", "shm"} {
		if err := unix.Mkdirat(dev, d, 0o755); err != nil {
			return fmt.Errorf("create %s/%s: %w", dst, d, err)
		}
	}
	ptsOpts := []string{"newinstance", "ptmxmode=0666", "mode=0620"}
	if m.Data != "" {
		ptsOpts = append(ptsOpts, strings.Split(m.Data, ",")...)
	}
	pts, err := newFS("devpts", ptsOpts, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("devpts on %s/pts: %w", dst, err)
	}
	defer unix.Close(pts)
	if err := unix.MoveMount(pts, "", dev, "pts", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount devpts on %s/pts: %w", dst, err)
	}
	shm, err := newFS("tmpfs", []string{"mode=1777", "size=" + shmSize}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return fmt.Errorf("tmpfs on %s/shm: %w", dst, err)
	}
	defer unix.Close(shm)
	if err := unix.MoveMount(shm, "", dev, "shm", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount tmpfs on %s/shm: %w", dst, err)
	}
	for _, l := range [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
	} {
		if err := unix.Symlinkat(l[0], dev, l[1]); err != nil {
			return fmt.Errorf("create symlink %s/%s: %w", dst, l[1], err)
		}
	}
	return nil
}

// hide covers path with an empty, unreadable, read-only file or directory
// of the same kind. A missing path is an error unless optional.
func (v *view) hide(path string, optional bool) error {
	return v.hideAll([]string{path}, optional)
}

// hideAll hides each of paths (see hide), with every cover cloned while the
// hidden tmpfs is attached once: each attachment ends in an unmount, which
// costs more than all the rest of a hide.
func (v *view) hideAll(paths []string, optional bool) error {
	var targets, names []string
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, path := range paths {
		fd, err := v.open(path, unix.O_PATH)
		if err != nil {
			if optional && errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("hide %s: %w", path, err)
		}
		fds = append(fds, fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("hide %s: %w", path, err)
		}
		name := "f"
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			name = "d"
		}
		targets, names = append(targets, path), append(names, name)
	}
	if len(targets) == 0 {
		return nil
	}
	if v.hidden < 0 {
		var err error
		if v.hidden, err = newHiddenFS(); err != nil {
			return fmt.Errorf("hide %s: %w", targets[0], err)
		}
	}
	covers, err := v.cloneCovers(names)
	if err != nil {
		return fmt.Errorf("hide %s: clone cover: %w", targets[0], err)
	}
	defer func() {
		for _, c := range covers {
			unix.Close(c)
		}
	}()
	for i, path := range targets {
		if err := unix.MoveMount(covers[i], "", fds[i], "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
			return fmt.Errorf("hide %s: %w", path, err)
		}
	}
	return nil
}

// cloneCovers returns detached bind mounts of the hidden tmpfs's "f" or
// "d", one for each of names. The hidden tmpfs is made detached (fsmount),
// and before Linux 6.15 open_tree(OPEN_TREE_CLONE) refuses to clone from a
// mount that is not attached in the caller's mount namespace; so, on every
// kernel (one path, nothing to probe), the covers, and a detached copy of
// the whole tmpfs for the next ones, are cloned while it is attached for a
// moment on top of the new root. Nothing is created or left in the view.
func (v *view) cloneCovers(names []string) ([]int, error) {
	covers := make([]int, 0, len(names))
	next := -1
	err := attachBriefly(v.hidden, v.root, func() error {
		for _, name := range names {
			c, err := unix.OpenTree(v.hidden, name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
			if err != nil {
				return err
			}
			covers = append(covers, c)
		}
		var err error
		next, err = unix.OpenTree(v.hidden, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
		return err
	})
	// Attached once, the old copy cannot be attached again.
	unix.Close(v.hidden)
	v.hidden = next
	if err != nil {
		for _, c := range covers {
			unix.Close(c)
		}
		return nil, err
	}
	return covers, nil
}

// attachBriefly attaches the detached mount mnt on top of the directory
// onto, runs fn, and unmounts mnt again, for what the kernel allows only
// on a mount attached in the caller's mount namespace (before Linux 6.15:
// cloning from it, overlayfs's private clone of an upper layer). onto is a
// root ("/" or the new root): stacked there, mnt is reached by no name,
// as path lookups start at the root's mount, below it. It is unmounted
// through the working directory (no path is resolved), which is then
// restored. mnt cannot be attached again.
func attachBriefly(mnt, onto int, fn func() error) error {
	cwd, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the working directory: %w", err)
	}
	defer unix.Close(cwd)
	if err := unix.MoveMount(mnt, "", onto, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach a tmpfs for a moment: %w", err)
	}
	ferr := fn()
	err = unix.Fchdir(mnt)
	if err == nil {
		err = unix.Unmount(".", unix.MNT_DETACH)
	}
	if cerr := unix.Fchdir(cwd); err == nil {
		err = cerr
	}
	if err != nil {
		// Left attached on a root, it would be reachable by no name,
		// but a half-built view is not run: stop.
		return fmt.Errorf("detach a tmpfs attached for a moment: %w", err)
	}
	return ferr
}

// newHiddenFS makes a tiny read-only tmpfs with an empty file "f" and an
// empty directory "d", both mode 0, to bind over hidden paths.
func newHiddenFS() (int, error) {
	fd, err := newFS("tmpfs", []string{"mode=0755", "size=4k", "nr_inodes=8"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, err
	}
	f, err := unix.Openat(fd, "f", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("create cover file: %w", err)
	}
	unix.Close(f)
	if err := unix.Mkdirat(fd, "d", 0); err != nil {
		return -1, fmt.Errorf("create cover directory: %w", err)
	}
	// Modes are applied after the umask: set them exactly.
	for _, n := range []string{"f", "d"} {
		if err := unix.Fchmodat(fd, n, 0, 0); err != nil {
			return -1, fmt.Errorf("chmod cover %s: %w", n, err)
		}
	}
	if err := setMountAttr(fd, unix.MOUNT_ATTR_RDONLY); err != nil {
		return -1, err
	}
	return fd, nil
}

// restrict masks and freezes the OCI default paths that exist in the view
// (a kernel may lack some of /proc's); none is looked up through a link.
func (v *view) restrict(masked, readonly []string) error {
	v.strict = true
	defer func() { v.strict = false }()
	if err := v.hideAll(masked, true); err != nil {
		return err
	}
	for _, p := range readonly {
		if err := v.readonly(p); err != nil {
			return err
		}
	}
	return nil
}

// readonly binds path onto itself read-only; a missing path is skipped.
func (v *view) readonly(path string) error {
	fd, err := v.open(path, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", path, err)
	}
	defer unix.Close(fd)
	clone, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("make %s read-only: clone: %w", path, err)
	}
	defer unix.Close(clone)
	if err := setMountAttr(clone, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV); err != nil {
		return fmt.Errorf("make %s read-only: %w", path, err)
	}
	if err := unix.MoveMount(clone, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("make %s read-only: %w", path, err)
	}
	return nil
}

func kind(dir bool) string {
	if dir {
		return "a directory"
	}
	return "not a directory"
}

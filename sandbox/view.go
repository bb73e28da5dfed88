package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The view is built in three steps, so that no destination is ever
// resolved on the host:
//  1. every source is opened on the host while the host is still visible:
//     a detached clone of each mount tree (open_tree), read-only where asked;
//  2. the root clone is attached and pivot_root'ed to; the host's root is
//     detached and gone;
//  3. the mounts are applied in command-line order inside the new root,
//     attaching the cloned sources through their descriptors.

// source is a mount whose source has been opened.
type source struct {
	mount specs.Mount
	fd    int   // detached mount tree, for binds
	dev   []int // detached device nodes, for MountDev, in devNodes order
}

// devNodes are the host devices a sandbox gets in its minimal /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

func buildView(spec *specs.Spec) error {
	// Nothing mounted in here may ever propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a recursive slave: %w", err)
	}
	root, err := openRoot(spec.Root)
	if err != nil {
		return err
	}
	sources := make([]source, 0, len(spec.Mounts))
	for _, m := range spec.Mounts {
		s, err := openSource(m)
		if err != nil {
			return err
		}
		sources = append(sources, s)
	}
	if err := pivotTo(root); err != nil {
		return err
	}
	for _, s := range sources {
		if err := applyMount(s); err != nil {
			return err
		}
	}
	return nil
}

// openRoot clones the tree that becomes /.
func openRoot(r *specs.Root) (int, error) {
	if r == nil || r.Path == "" {
		return -1, errors.New("configuration has no root")
	}
	fd, err := cloneTree(r.Path)
	if err != nil {
		return -1, fmt.Errorf("root %s: %w", r.Path, err)
	}
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if r.Readonly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if err := setMountAttr(fd, attr); err != nil {
		return -1, fmt.Errorf("root %s: %w", r.Path, err)
	}
	return fd, nil
}

// cloneTree returns a detached copy of the mount tree at path, with every
// mount below it.
func cloneTree(path string) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("clone mount tree: %w", err)
	}
	return fd, nil
}

func setMountAttr(fd int, set uint64) error {
	attr := unix.MountAttr{Attr_set: set}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("set mount attributes %#x: %w", set, err)
	}
	return nil
}

// openSource opens what a mount needs from the host.
func openSource(m specs.Mount) (source, error) {
	s := source{mount: m, fd: -1}
	switch m.Type {
	case "bind":
		fd, err := cloneTree(m.Source)
		if err != nil {
			return s, fmt.Errorf("bind %s: %w", m.Source, err)
		}
		attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
		if slices.Contains(m.Options, "ro") {
			attr |= unix.MOUNT_ATTR_RDONLY
		}
		if err := setMountAttr(fd, attr); err != nil {
			return s, fmt.Errorf("bind %s: %w", m.Source, err)
		}
		s.fd = fd
	case MountDev:
		for _, n := range devNodes {
			path := "/dev/" + n
			fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
			if err != nil {
				return s, fmt.Errorf("clone host device %s: %w", path, err)
			}
			s.dev = append(s.dev, fd)
		}
	case "proc", "tmpfs":
	default:
		return s, fmt.Errorf("mount on %s: unknown type %q", m.Destination, m.Type)
	}
	return s, nil
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

// applyMount performs one mount inside the new root.
func applyMount(s source) error {
	m := s.mount
	dst := m.Destination
	switch m.Type {
	case "proc":
		if err := ensureMountpoint(dst, true); err != nil {
			return err
		}
		if err := unix.Mount("proc", dst, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount proc on %s: %w", dst, err)
		}
	case "tmpfs":
		if err := ensureMountpoint(dst, true); err != nil {
			return err
		}
		flags, data := mountOptions(m.Options)
		if err := unix.Mount("tmpfs", dst, "tmpfs", flags, data); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", dst, err)
		}
	case "bind":
		var st unix.Stat_t
		if err := unix.Fstat(s.fd, &st); err != nil {
			return fmt.Errorf("bind %s: stat source: %w", m.Source, err)
		}
		if err := ensureMountpoint(dst, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
			return err
		}
		if err := unix.MoveMount(s.fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("bind %s on %s: %w", m.Source, dst, err)
		}
		unix.Close(s.fd)
	case MountDev:
		return mountDev(dst, s.dev)
	}
	return nil
}

// mountDev builds the minimal /dev.
func mountDev(dst string, nodes []int) error {
	if err := ensureMountpoint(dst, true); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dst, err)
	}
	for i, n := range devNodes {
		path := filepath.Join(dst, n)
		if err := createFile(path); err != nil {
			return err
		}
		if err := unix.MoveMount(nodes[i], "", unix.AT_FDCWD, path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("bind host device on %s: %w", path, err)
		}
		unix.Close(nodes[i])
	}
	for _, d := range []string{"pts", "shm"} {
		if err := unix.Mkdir(filepath.Join(dst, d), 0o755); err != nil {
			return fmt.Errorf("create %s/%s: %w", dst, d, err)
		}
	}
	pts := filepath.Join(dst, "pts")
	if err := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount devpts on %s: %w", pts, err)
	}
	shm := filepath.Join(dst, "shm")
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", shm, err)
	}
	for _, l := range [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
	} {
		if err := unix.Symlink(l[0], filepath.Join(dst, l[1])); err != nil {
			return fmt.Errorf("create symlink %s/%s: %w", dst, l[1], err)
		}
	}
	return nil
}

// ensureMountpoint makes sure dst exists as a directory or a file; missing
// parts are created, which works where the view is writable.
func ensureMountpoint(dst string, dir bool) error {
	var st unix.Stat_t
	if err := unix.Stat(dst, &st); err == nil {
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if isDir != dir {
			return fmt.Errorf("mount point %s: is %s, the source is %s", dst, kind(isDir), kind(dir))
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return mountpointError(dst, err)
	}
	var err error
	if dir {
		err = unix.Mkdir(dst, 0o755)
	} else {
		err = createFile(dst)
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return mountpointError(dst, err)
	}
	return nil
}

func mountpointError(dst string, err error) error {
	if errors.Is(err, unix.EROFS) {
		return fmt.Errorf("cannot create mount point %s: its parent is read-only", dst)
	}
	return fmt.Errorf("create mount point %s: %w", dst, err)
}

func createFile(path string) error {
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return unix.Close(fd)
}

func kind(dir bool) string {
	if dir {
		return "a directory"
	}
	return "not a directory"
}

// mountOptions splits OCI mount options into flags and filesystem data.
func mountOptions(opts []string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range opts {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "rw", "rbind", "bind":
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

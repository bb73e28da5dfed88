package inside

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyUpDepth bounds how deep copyUp goes into a directory tree.
const copyUpDepth = 64

// copyUp fills the detached tmpfs mnt with a copy of what the directory
// dst of the view holds (an OCI tmpfs with tmpcopyup: podman --read-only
// puts one on /run, /tmp and /var/tmp). Directories, regular files, links
// and FIFOs are copied with their modes and owners; sockets and device
// nodes are not. A missing dst holds nothing to copy.
func (v *view) copyUp(dst string, mnt int) error {
	src, err := v.open(dst, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tmpcopyup %s: %w", dst, err)
	}
	defer unix.Close(src)
	if err := copyDir(src, mnt, 0); err != nil {
		return fmt.Errorf("tmpcopyup %s: %w", dst, err)
	}
	return nil
}

// copyDir copies the entries of directory src into directory dst.
func copyDir(src, dst, depth int) error {
	if depth > copyUpDepth {
		return errors.New("directory tree too deep")
	}
	dup, err := unix.Dup(src)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), "copy-up")
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyEntry(src, dst, e.Name(), depth); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	return nil
}

// copyEntry copies src/name to dst/name, without following links.
func copyEntry(src, dst int, name string, depth int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	mode := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil {
			return err
		}
		from, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(from)
		to, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(to)
		if err := copyDir(from, to, depth+1); err != nil {
			return err
		}
		return own(to, &st, mode)
	case unix.S_IFREG:
		from, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		in := os.NewFile(uintptr(from), name)
		defer in.Close()
		to, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		out := os.NewFile(uintptr(to), name)
		defer out.Close()
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		return own(to, &st, mode)
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src, name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dst, name); err != nil {
			return err
		}
		return unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
	case unix.S_IFIFO:
		if err := unix.Mknodat(dst, name, unix.S_IFIFO|0o600, 0); err != nil {
			return err
		}
		if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		return unix.Fchmodat(dst, name, mode, 0)
	}
	return nil // sockets and device nodes stay behind
}

// own gives the open copy fd the owner and mode of the original (mode
// last: a chown clears setuid bits).
func own(fd int, st *unix.Stat_t, mode uint32) error {
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return unix.Fchmod(fd, mode)
}

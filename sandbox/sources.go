package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Every host path a view takes something from (a bind's source, an
// overlay's layers, the root, the working directory) is resolved once, by
// sbx on the host when it reads the command line, the way the user named
// it: a link given there is followed then. What it resolved to is kept as
// a path without links, with the identity (device and inode) of what it
// found. The setup inside the new namespaces opens that path again
// without following any link (RESOLVE_NO_SYMLINKS) and checks the
// identity, so a path swapped in between (by another sandbox that can
// write a parent directory) for a link, to / say, or for another
// directory is refused, never bound. A descriptor cannot carry the source
// across instead: open_tree(2) refuses to clone a mount of another mount
// namespace.

// fileID identifies a file: its device and inode numbers.
type fileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

func idOf(st *unix.Stat_t) fileID { return fileID{Dev: st.Dev, Ino: st.Ino} }

// sourceIDs maps each source path (without links) of a view to the
// identity it had when sbx resolved it.
type sourceIDs map[string]fileID

// resolve opens path as the user named it, following links, and returns
// the path it resolved to (without links) and what it found there, which
// it records. flag and arg name the argument in errors.
func (ids sourceIDs) resolve(flag, arg, path string) (string, *unix.Stat_t, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "", nil, fmt.Errorf("%s %q: source %s does not exist", flag, arg, path)
		}
		return "", nil, fmt.Errorf("%s %q: source %s: %w", flag, arg, path, err)
	}
	defer unix.Close(fd)
	return ids.record(flag, arg, fd)
}

// resolveNoFollow is resolve for a path that must not be a link itself
// (sbx found it, the user did not name it).
func (ids sourceIDs) resolveNoFollow(path string) (string, *unix.Stat_t, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	return ids.record("", path, fd)
}

// record notes the path and identity of the open descriptor fd.
func (ids sourceIDs) record(flag, arg string, fd int) (string, *unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", nil, fmt.Errorf("%s %q: %w", flag, arg, err)
	}
	path, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || len(path) == 0 || path[0] != '/' {
		return "", nil, fmt.Errorf("%s %q: the source has no path (deleted, or outside this mount namespace)", flag, arg)
	}
	ids[path] = idOf(&st)
	return path, &st, nil
}

// openSourcePath opens a source path on the setup side: no link is
// followed, and what it finds must be what sbx resolved on the host.
func openSourcePath(path string, ids sourceIDs) (int, error) {
	want, ok := ids[path]
	if !ok {
		return -1, fmt.Errorf("source %s was not checked by sbx", path)
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &how)
	for err == unix.EAGAIN || err == unix.EINTR {
		fd, err = unix.Openat2(unix.AT_FDCWD, path, &how)
	}
	if errors.Is(err, unix.ENOSYS) {
		return -1, errors.New("this kernel has no openat2(2): sbx needs Linux 5.12 or newer")
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return -1, fmt.Errorf("source %s was moved or replaced (by a link?) since sbx checked it: %w", path, err)
	}
	if err != nil {
		return -1, fmt.Errorf("open source %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("stat source %s: %w", path, err)
	}
	if idOf(&st) != want {
		unix.Close(fd)
		return -1, fmt.Errorf("source %s was replaced since sbx checked it", path)
	}
	return fd, nil
}

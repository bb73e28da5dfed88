package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
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
	Dev, Ino uint64
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

// list returns the identities as the plan carries them.
func (ids sourceIDs) list() []plan.Source {
	out := make([]plan.Source, 0, len(ids))
	for path, id := range ids {
		out = append(out, plan.Source{Path: path, Dev: id.Dev, Ino: id.Ino})
	}
	return out
}

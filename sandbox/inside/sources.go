package inside

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// Every host path the view takes something from was resolved once, by the
// planner on the host, to a path without links and the identity of what it
// found there (plan.Source). The setup here opens that path again without
// following any link and checks the identity, so a path swapped in between
// (by another sandbox that can write a parent directory) for a link, to /
// say, or for another directory is refused, never bound. A descriptor
// cannot carry the source across instead: open_tree(2) refuses to clone a
// mount of another mount namespace.

// sourceIDs maps the plan's source paths to their identities.
type sourceIDs map[string]plan.Source

func newSourceIDs(list []plan.Source) sourceIDs {
	ids := make(sourceIDs, len(list))
	for _, s := range list {
		ids[s.Path] = s
	}
	return ids
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
	if st.Dev != want.Dev || st.Ino != want.Ino {
		unix.Close(fd)
		return -1, fmt.Errorf("source %s was replaced since sbx checked it", path)
	}
	return fd, nil
}

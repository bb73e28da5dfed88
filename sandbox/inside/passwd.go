package inside

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/usermap"
)

// passwdPath is the sandbox's user database, read by the joining process
// of sbx exec inside the sandbox's view (not the host's: with --rootfs
// they differ).
const passwdPath = "/etc/passwd"

// maxPasswd bounds what is read of it: the sandbox may have made it
// anything.
const maxPasswd = 16 << 20

// primaryGID returns uid's group in the sandbox's /etc/passwd, and gid
// when uid has no entry there, or there is no such file. The file belongs
// to the sandbox: it is opened without blocking (a FIFO would hang sbx
// exec) and read only if it is a regular file.
func primaryGID(uid, gid uint32) (uint32, error) {
	fd, err := unix.Open(passwdPath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return gid, nil
	}
	if err != nil {
		return 0, fmt.Errorf("--uid %d without --gid: open the sandbox's %s: %w (pass --gid)", uid, passwdPath, err)
	}
	f := os.NewFile(uintptr(fd), passwdPath)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("--uid %d without --gid: stat the sandbox's %s: %w (pass --gid)", uid, passwdPath, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, fmt.Errorf("--uid %d without --gid: the sandbox's %s is not a regular file (pass --gid)", uid, passwdPath)
	}
	g, ok, err := usermap.PrimaryGID(io.LimitReader(f, maxPasswd), uid)
	if err != nil {
		return 0, fmt.Errorf("--uid %d without --gid: read the sandbox's %s: %w (pass --gid)", uid, passwdPath, err)
	}
	if !ok {
		return gid, nil
	}
	return g, nil
}

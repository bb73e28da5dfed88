package inside

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/nsexec"
)

// With -t, the command gets a new pseudo-terminal from the sandbox's own
// devpts: the Go init opens it, makes the slave the command's controlling
// terminal and stdio, and passes the master to the sbx parent over the init
// socket (SCM_RIGHTS), which relays it (sandbox/console.go).

// setupConsole runs in the Go init just before the exec; rows and cols, if
// not 0, size the terminal.
func setupConsole(sock *os.File, rows, cols uint16) error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx inside the sandbox: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("get pty number: %w", err)
	}
	if rows > 0 || cols > 0 {
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
			return fmt.Errorf("size the pty: %w", err)
		}
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	// A session of its own, with the pty as controlling terminal, so
	// that job control works inside.
	if sid, _ := unix.Getsid(0); sid != unix.Getpid() {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal: %w", slavePath, err)
	}
	hdr := make([]byte, 8)
	nsexec.PutHeader(hdr, nsexec.MsgConsole, 0)
	if err := unix.Sendmsg(int(sock.Fd()), hdr, unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("send the pty to sbx: %w", err)
	}
	// The command must find the terminal with its size: sbx sets it, then
	// says go on.
	if typ, _, err := nsexec.ReadFrame(sock); err != nil || typ != nsexec.MsgContinue {
		return fmt.Errorf("wait for sbx to size the terminal: frame %d: %v", typ, err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup2(slave, fd); err != nil {
			return fmt.Errorf("pty as fd %d: %w", fd, err)
		}
	}
	return nil
}

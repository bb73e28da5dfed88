package sandbox

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/nsexec"
)

// With -t, the command gets a new pseudo-terminal from the sandbox's own
// devpts: the Go init opens it, makes the slave the command's controlling
// terminal and stdio, and passes the master to the sbx parent over the init
// socket (SCM_RIGHTS). The parent puts the caller's terminal in raw mode,
// copies in both directions and keeps the window size in sync.

// errNoTerminalInput refuses -t on a stdin that is not a terminal: the
// command would wait on its pty for input that never comes (a pipe's end
// does not reach it), as docker and podman refuse it.
var errNoTerminalInput = errors.New("-t needs a terminal on stdin, and stdin is not one (the input device is not a TTY): drop -t to pipe input to the command")

// checkTerminalInput returns errNoTerminalInput unless stdin is a terminal.
func checkTerminalInput() error {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		return errNoTerminalInput
	}
	return nil
}

// receiveConsole reads the pty master the Go init sends, or the failure it
// reports instead.
func (p *process) receiveConsole() (*os.File, *InitError) {
	hdr := make([]byte, 8)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(p.sock.Fd()), hdr, oob, 0)
	if err != nil || n == 0 {
		// Gone without a word: the wait status says what happened.
		return nil, p.readInitReports()
	}
	if n < len(hdr) {
		if _, err := io.ReadFull(p.sock, hdr[n:]); err != nil {
			return nil, &InitError{Message: "truncated report from the sandbox init", Code: ExitSbxFailed}
		}
	}
	typ, length := nsexec.ParseHeader(hdr)
	if typ != nsexec.MsgConsole {
		payload := make([]byte, length)
		if _, err := io.ReadFull(p.sock, payload); err != nil {
			return nil, &InitError{Message: "truncated report from the sandbox init", Code: ExitSbxFailed}
		}
		return nil, decodeReport(typ, payload)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, &InitError{Message: "the sandbox init sent no pty", Code: ExitSbxFailed}
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, &InitError{Message: "the sandbox init sent no pty", Code: ExitSbxFailed}
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// terminal is the caller's side of a -t sandbox.
type terminal struct {
	master  *os.File
	raw     bool
	saved   *unix.Termios
	outDone chan struct{}
	once    sync.Once
}

// attach puts the caller's terminal (if stdin is one) in raw mode and
// starts copying.
func attach(master *os.File) *terminal {
	t := &terminal{master: master, outDone: make(chan struct{})}
	if saved, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		raw := *saved
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN] = 1
		raw.Cc[unix.VTIME] = 0
		if unix.IoctlSetTermios(0, unix.TCSETS, &raw) == nil {
			t.saved, t.raw = saved, true
		}
	}
	t.resize()
	go func() {
		io.Copy(master, os.Stdin)
	}()
	go func() {
		io.Copy(os.Stdout, master) // ends with EIO once the slave is gone
		close(t.outDone)
	}()
	return t
}

// resize copies the caller's window size to the pty; the kernel then
// sends SIGWINCH to the command's foreground process group.
func (t *terminal) resize() {
	ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
}

// detach waits briefly for the last output and restores the terminal.
func (t *terminal) detach() {
	t.once.Do(func() {
		select {
		case <-t.outDone:
		case <-time.After(500 * time.Millisecond):
		}
		if t.raw {
			unix.IoctlSetTermios(0, unix.TCSETS, t.saved)
		}
		t.master.Close()
	})
}

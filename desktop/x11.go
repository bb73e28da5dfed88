package desktop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// x11SocketDir is where X servers put their unix sockets, X0 for :0.
const x11SocketDir = "/tmp/.X11-unix"

// XauthorityPath is where the sandbox finds the cookie of the shared
// display: in /tmp, which every sandbox gets as a fresh tmpfs of its own
// (with --rootfs too), next to the display's socket, so a sandbox with
// the socket always has the cookie. $XDG_RUNTIME_DIR would do only where
// the caller has one.
const XauthorityPath = "/tmp/.sbx-xauthority"

// Families of Xauthority entries (Xauth.h): a FamilyLocal entry holds the
// hostname of the machine the display is on; a FamilyWild entry matches
// any address.
const (
	familyLocal = 256
	familyWild  = 65535
)

// resolveX11 passes the X display of $DISPLAY through: its socket only
// (/tmp/.X11-unix/XN, not the others of the directory), DISPLAY=:N, and an
// Xauthority file with only that display's cookies, rewritten so that the
// sandbox's hostname matches them. A display without cookies (an Xvfb
// without -auth) gets no file. A TCP display cannot be shared: the
// sandbox has its own network, and a local one is what sbx can limit to
// one display.
func resolveX11(sh Share, s Session, g *Grant) error {
	if err := noValue(sh); err != nil {
		return err
	}
	display := s.Getenv("DISPLAY")
	if display == "" {
		return &Missing{"DISPLAY is not set", "run sbx from your X session (or set DISPLAY)"}
	}
	num, screen, err := parseDisplay(display)
	if err != nil {
		return err
	}
	socket := filepath.Join(x11SocketDir, "X"+num)
	if err := checkSocket(socket); err != nil {
		return &Missing{fmt.Sprintf("no X server socket for DISPLAY=%s: %v", display, err),
			"start the X server, or set DISPLAY to one that listens on " + x11SocketDir}
	}
	entries, err := displayCookies(s, num)
	if err != nil {
		return err
	}
	g.Ops = append(g.Ops, Op{Kind: "share-socket", Arg: socket})
	g.Env = append(g.Env, "DISPLAY=:"+num+screen)
	if len(entries) > 0 {
		g.Files = append(g.Files, File{Dst: XauthorityPath, Data: string(entries)})
		g.Env = append(g.Env, "XAUTHORITY="+XauthorityPath)
	}
	return nil
}

// parseDisplay reads a local display name: ":N", ":N.S", "unix:N" (and
// "unix:N.S"), returning N and ".S" (or ""). Anything with another host
// is a TCP display, which is refused.
func parseDisplay(display string) (num, screen string, err error) {
	host, rest, ok := strings.Cut(display, ":")
	if !ok || strings.HasPrefix(rest, ":") {
		return "", "", fmt.Errorf("DISPLAY=%s is not a display name sbx knows (want :N, :N.S or unix:N)", display)
	}
	if host != "" && host != "unix" {
		return "", "", &Missing{"DISPLAY=" + display + " is a display over TCP", "only local displays (:N, unix:N) can be shared"}
	}
	num, s, hasScreen := strings.Cut(rest, ".")
	if !isDigits(num) || (hasScreen && !isDigits(s)) {
		return "", "", fmt.Errorf("DISPLAY=%s is not a display name sbx knows (want :N, :N.S or unix:N)", display)
	}
	if hasScreen {
		screen = "." + s
	}
	return num, screen, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// displayCookies reads the caller's Xauthority file ($XAUTHORITY, else
// ~/.Xauthority) and returns, in its format, the entries a client on this
// machine would use for display num (those Xlib and libxcb match for a
// unix socket: FamilyLocal with this machine's hostname, and FamilyWild),
// each rewritten as FamilyWild, which matches the sandbox's hostname too.
// No file, or no entry, is no cookie: nil.
//
// The format is parsed here rather than by `xauth extract`: it is four
// length-prefixed strings after a family, and xauth is not always
// installed where X clients are (Wayland sessions with Xwayland), nor
// does extract rewrite the family.
func displayCookies(s Session, num string) ([]byte, error) {
	path := s.Getenv("XAUTHORITY")
	if path == "" {
		home := s.Getenv("HOME")
		if !filepath.IsAbs(home) {
			return nil, nil
		}
		path = filepath.Join(home, ".Xauthority")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the X cookies: %w (set XAUTHORITY to your Xauthority file)", err)
	}
	entries, err := parseXauthority(data)
	if err != nil {
		return nil, fmt.Errorf("read the X cookies: %s: %w", path, err)
	}
	hostname, _ := os.Hostname()
	var out bytes.Buffer
	for _, e := range entries {
		if e.Number != num || !(e.Family == familyWild || e.Family == familyLocal && e.Address == hostname) {
			continue
		}
		e.Family, e.Address = familyWild, ""
		e.writeTo(&out)
	}
	return out.Bytes(), nil
}

// xauthEntry is one entry of an Xauthority file.
type xauthEntry struct {
	Family                      uint16
	Address, Number, Name, Data string
}

// parseXauthority reads the entries of an Xauthority file: each a
// big-endian u16 family, then address, display number, authorization name
// and data, each a big-endian u16 length and that many bytes.
func parseXauthority(data []byte) ([]xauthEntry, error) {
	r := bytes.NewReader(data)
	var entries []xauthEntry
	for r.Len() > 0 {
		var e xauthEntry
		if err := binary.Read(r, binary.BigEndian, &e.Family); err != nil {
			return nil, fmt.Errorf("entry %d: truncated", len(entries)+1)
		}
		for _, f := range []*string{&e.Address, &e.Number, &e.Name, &e.Data} {
			var n uint16
			if err := binary.Read(r, binary.BigEndian, &n); err != nil {
				return nil, fmt.Errorf("entry %d: truncated", len(entries)+1)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("entry %d: truncated", len(entries)+1)
			}
			*f = string(b)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// writeTo appends e to w in the Xauthority format.
func (e xauthEntry) writeTo(w *bytes.Buffer) {
	binary.Write(w, binary.BigEndian, e.Family)
	for _, f := range []string{e.Address, e.Number, e.Name, e.Data} {
		binary.Write(w, binary.BigEndian, uint16(len(f)))
		w.WriteString(f)
	}
}

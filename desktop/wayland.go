package desktop

import (
	"fmt"
	"path/filepath"
)

// resolveWayland passes the Wayland display's socket through: the socket
// $WAYLAND_DISPLAY names (relative to $XDG_RUNTIME_DIR unless absolute),
// at the same path inside, with WAYLAND_DISPLAY and XDG_RUNTIME_DIR set.
// Nothing else of $XDG_RUNTIME_DIR comes with it (the default view covers
// that directory with an empty one).
func resolveWayland(sh Share, s Session, g *Grant) error {
	if err := noValue(sh); err != nil {
		return err
	}
	display := s.Getenv("WAYLAND_DISPLAY")
	if display == "" {
		return &Missing{"WAYLAND_DISPLAY is not set", "run sbx from your Wayland session (or set WAYLAND_DISPLAY)"}
	}
	socket := display
	if !filepath.IsAbs(display) {
		dir := s.Getenv("XDG_RUNTIME_DIR")
		if !filepath.IsAbs(dir) {
			return &Missing{"XDG_RUNTIME_DIR is not set, and WAYLAND_DISPLAY=" + display + " is relative to it", "set it (or give WAYLAND_DISPLAY as an absolute path)"}
		}
		socket = filepath.Join(dir, display)
		g.Env = append(g.Env, "XDG_RUNTIME_DIR="+dir)
	}
	if err := checkSocket(socket); err != nil {
		return &Missing{fmt.Sprintf("no Wayland socket for WAYLAND_DISPLAY=%s: %v", display, err),
			"start the compositor, or set WAYLAND_DISPLAY to the socket it listens on"}
	}
	g.Ops = append(g.Ops, Op{Kind: "share-socket", Arg: socket})
	g.Env = append(g.Env, "WAYLAND_DISPLAY="+display)
	return nil
}

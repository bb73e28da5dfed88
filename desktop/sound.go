package desktop

import (
	"fmt"
	"path/filepath"
	"strings"
)

// resolvePulseAudio passes the PulseAudio server's native socket through:
// the one $PULSE_SERVER names when it is a local socket ("unix:/path" or
// "/path"), else $XDG_RUNTIME_DIR/pulse/native, at the same path inside,
// with PULSE_SERVER=unix:PATH. No cookie: a server lets a client of its
// own uid in over its unix socket without one (the kernel passes the
// client's credentials, the sandbox's uid as the host sees it), and
// module-native-protocol-unix asks for nothing more unless configured to.
// PipeWire's pipewire-pulse serves the same socket and protocol.
func resolvePulseAudio(sh Share, s Session, g *Grant) error {
	if err := noValue(sh); err != nil {
		return err
	}
	var socket string
	if server := s.Getenv("PULSE_SERVER"); server != "" {
		path := strings.TrimPrefix(server, "unix:")
		if !filepath.IsAbs(path) {
			return &Missing{"PULSE_SERVER=" + server + " is not a local socket",
				"only a server's unix socket can be shared: set PULSE_SERVER=unix:/path/to/native, or unset it to share $XDG_RUNTIME_DIR/pulse/native"}
		}
		socket = filepath.Clean(path)
	} else {
		dir := s.Getenv("XDG_RUNTIME_DIR")
		if !filepath.IsAbs(dir) {
			return &Missing{"neither PULSE_SERVER nor XDG_RUNTIME_DIR is set", "run sbx from your desktop session, or set PULSE_SERVER=unix:/path/to/native"}
		}
		socket = filepath.Join(dir, "pulse", "native")
	}
	if err := checkSocket(socket); err != nil {
		return &Missing{fmt.Sprintf("no PulseAudio socket: %v", err),
			"start PulseAudio (or pipewire-pulse), or set PULSE_SERVER=unix:/path/to/its/socket"}
	}
	g.Ops = append(g.Ops, Op{Kind: "share-socket", Arg: socket})
	g.Env = append(g.Env, "PULSE_SERVER=unix:"+socket)
	return nil
}

// resolvePipeWire passes the PipeWire server's socket through: the one
// $PIPEWIRE_REMOTE names (a path, or a name in $XDG_RUNTIME_DIR), else
// $XDG_RUNTIME_DIR/pipewire-0, at the same path inside, with
// PIPEWIRE_REMOTE set to that path. pipewire-0-manager, the socket of
// session managers, stays out.
func resolvePipeWire(sh Share, s Session, g *Grant) error {
	if err := noValue(sh); err != nil {
		return err
	}
	remote := s.Getenv("PIPEWIRE_REMOTE")
	if remote == "" {
		remote = "pipewire-0"
	}
	socket := remote
	if !filepath.IsAbs(remote) {
		if strings.Contains(remote, "/") {
			return &Missing{"PIPEWIRE_REMOTE=" + remote + " is neither a name in XDG_RUNTIME_DIR nor an absolute path", "set it to the socket's path"}
		}
		dir := s.Getenv("XDG_RUNTIME_DIR")
		if !filepath.IsAbs(dir) {
			return &Missing{"XDG_RUNTIME_DIR is not set, and the PipeWire socket " + remote + " is in it", "set it (or PIPEWIRE_REMOTE to the socket's path)"}
		}
		socket = filepath.Join(dir, remote)
	}
	socket = filepath.Clean(socket)
	if err := checkSocket(socket); err != nil {
		return &Missing{fmt.Sprintf("no PipeWire socket: %v", err),
			"start PipeWire, or set PIPEWIRE_REMOTE to the path of its socket"}
	}
	g.Ops = append(g.Ops, Op{Kind: "share-socket", Arg: socket})
	g.Env = append(g.Env, "PIPEWIRE_REMOTE="+socket)
	return nil
}

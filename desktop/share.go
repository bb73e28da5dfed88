// Package desktop resolves sbx run's --share NAME[=VALUE]: what a desktop
// program needs from the caller's session (the display, sound, the GPU, a
// filtered session bus, a home of its own), found in the caller's
// environment and turned into what the sandbox gets: view operations, files,
// environment variables and the helper processes that serve it. It runs on
// the host, while sbx run plans the sandbox; nothing here runs inside.
//
// Each share resolves on its own (one function per share, in the file of
// its concern); a share whose pieces are missing is an error naming what
// is missing and the fix, before anything starts.
package desktop

import (
	"fmt"
	"sort"
	"strings"
)

// Share is one --share value: NAME or NAME=VALUE.
type Share struct {
	Name  string
	Value string
	// HasValue tells NAME= (an empty value) from NAME.
	HasValue bool
}

func (s Share) String() string {
	if s.HasValue {
		return s.Name + "=" + s.Value
	}
	return s.Name
}

// Op is one view operation in the terms of sbx run's view flags: Kind is a
// flag's name without the dashes ("share-socket", "ro-bind", "dev-bind-try",
// ...), Arg its argument. The planner checks each as it checks the flags.
type Op struct {
	Kind, Arg string
}

// File is a read-only file the sandbox gets at Dst (an absolute path
// inside), holding Data.
type File struct {
	Dst, Data string
}

// Grant is what a sandbox's shares give it. The planner applies Ops and
// Files after the default view and before the view flags (which may cover
// them), and sets Env before --env (which wins).
type Grant struct {
	Ops   []Op
	Files []File
	// Env are KEY=VALUE settings of the command's environment.
	Env []string
	// Notes are what the user should read (one line each, for stderr).
	Notes []string
	// Services are programs that serve the sandbox from the host for its
	// whole life: sbx run starts them before the sandbox's command and
	// binds their sockets in (see Service).
	Services []Service
}

// Service is a program that serves the sandbox from the host on a unix
// socket of its own (the session bus's filtering proxy). sbx run makes a
// private directory for the socket and runs Path there with Args(socket,
// fd), socket a path relative to that directory, in a session of its own,
// stdin and stdout on /dev/null, where fd is the
// write end of a pipe whose read end only the sandbox's pid 1 holds: the
// program writes one byte to it once it listens, and exits when it sees
// the pipe's other end close, which happens when pid 1 exits, however the
// sandbox ends (xdg-dbus-proxy's --fd). The socket is bound read-only at
// Dst inside, as --share-socket binds one.
type Service struct {
	// Name is the share's, for messages.
	Name string
	// Path is the program's absolute path.
	Path string
	// Args are the program's arguments (without its name) for a socket
	// at socket and the readiness pipe at descriptor fd.
	Args func(socket string, fd int) []string
	// Dst is where the socket is inside.
	Dst string
}

// Session is what the shares are resolved from: the caller's environment
// and identity on the host, and the sandbox's.
type Session struct {
	// Getenv reads the caller's environment.
	Getenv func(string) string
	// UID is the caller's uid on the host.
	UID int
	// Sandbox is the sandbox's name ("" for an unnamed one).
	Sandbox string
	// Command is the command the sandbox runs (its first word).
	Command string
	// Probe asks what the shares would give without changing anything
	// or starting anything (sbx check): a resolver that would create a
	// directory or start a helper only checks that it could.
	Probe bool
}

// resolver adds what one share gives to g.
type resolver func(sh Share, s Session, g *Grant) error

// shares are the names --share takes, each with its resolver and a line
// for the help text.
var shares = map[string]struct {
	resolve resolver
	help    string
}{
	"wayland":     {resolveWayland, "the Wayland display of $WAYLAND_DISPLAY"},
	"x11":         {resolveX11, "the X display of $DISPLAY, with its cookie only"},
	"pulseaudio":  {resolvePulseAudio, "the PulseAudio server's socket"},
	"pipewire":    {resolvePipeWire, "the PipeWire server's socket"},
	"gpu":         {resolveGPU, "/dev/dri and the NVIDIA devices"},
	"home":        {resolveHome, "a persistent private home (home=DIR)"},
	"session-bus": {resolveSessionBus, "a filtering proxy of the session bus; =POLICY: talk:NAME,own:NAME,see:NAME (default talk:org.freedesktop.portal.*)"},
}

// Names lists the names --share takes, sorted.
func Names() []string {
	names := make([]string, 0, len(shares))
	for n := range shares {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Parse reads one --share value.
func Parse(value string) (Share, error) {
	name, v, hasValue := strings.Cut(value, "=")
	if _, ok := shares[name]; !ok {
		return Share{}, fmt.Errorf("--share %q: unknown; want one of %s", value, strings.Join(Names(), ", "))
	}
	return Share{Name: name, Value: v, HasValue: hasValue}, nil
}

// Resolve resolves the shares in order.
func Resolve(list []Share, s Session) (*Grant, error) {
	g := &Grant{}
	// A share named twice (by a profile, then by the command line) is
	// resolved once, as the last names it: the command line wins, and
	// no second proxy or home is made for nothing.
	last := map[string]int{}
	for i, sh := range list {
		last[sh.Name] = i
	}
	for i, sh := range list {
		if last[sh.Name] != i {
			continue
		}
		def, ok := shares[sh.Name]
		if !ok {
			return nil, fmt.Errorf("--share %q: unknown; want one of %s", sh, strings.Join(Names(), ", "))
		}
		if err := def.resolve(sh, s, g); err != nil {
			return nil, fmt.Errorf("--share %s: %w", sh, err)
		}
	}
	return g, nil
}

// noValue refuses a value for a share that takes none.
func noValue(sh Share) error {
	if sh.HasValue {
		return fmt.Errorf("takes no value (write --share %s)", sh.Name)
	}
	return nil
}

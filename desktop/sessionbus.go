package desktop

import (
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The session bus is never passed through: whoever can talk to it can ask
// systemd --user to run any command on the host (systemd-run --user), and
// most desktop services trust whatever is on it. --share session-bus gives
// the sandbox a filtering proxy instead, xdg-dbus-proxy (flatpak's), that
// sbx run starts for the sandbox and that ends with it (see Service): it
// connects to the caller's bus on the host and shows the sandbox only the
// names its policy lists.

// busProxy is the proxy's program, and its Debian package.
const busProxy = "xdg-dbus-proxy"

// BusLevels are the policy levels of xdg-dbus-proxy a policy can give a
// name, each implying the ones before it: see it on the bus (ListNames,
// NameOwnerChanged), talk to it (method calls, its signals), own it.
var BusLevels = []string{"see", "talk", "own"}

// DefaultBusPolicy is the policy of --share session-bus without one: the
// desktop portals (xdg-desktop-portal's org.freedesktop.portal.Desktop and
// its fellows), which ask the user before they hand out anything, and
// nothing else. Flatpak gives every app the same reach (as --call and
// --broadcast rules on those names), and its own app id, which a sandbox
// has none of.
const DefaultBusPolicy = "talk:org.freedesktop.portal.*"

// forbiddenBusNames are names no policy may reach, at any level: services
// that run any command on the host for whoever asks, so that a sandbox
// that may talk to them is no sandbox. A policy that names one, or a
// pattern that covers one (org.freedesktop.*), is refused.
var forbiddenBusNames = []struct{ name, why string }{
	{"org.freedesktop.systemd1", "the user's service manager, which runs any command on the host for whoever asks (systemd-run --user)"},
	{"org.freedesktop.Flatpak", "flatpak's session helper, which runs any command on the host for whoever asks (flatpak-spawn --host)"},
}

// busRule is one entry of a policy: a level of BusLevels and a well-known
// name, or a prefix of names with ".*" (xdg-dbus-proxy's form: org.foo.*
// covers org.foo and every org.foo.NAME).
type busRule struct {
	level, name string
}

func (r busRule) String() string { return r.level + ":" + r.name }

// covers reports whether the rule's name is name or a pattern that matches
// it.
func (r busRule) covers(name string) bool {
	if prefix, ok := strings.CutSuffix(r.name, ".*"); ok {
		return name == prefix || strings.HasPrefix(name, prefix+".")
	}
	return r.name == name
}

// ParseBusPolicy reads a policy: comma-separated LEVEL:NAME entries, LEVEL
// one of BusLevels, NAME a well-known bus name that may end in ".*". A
// policy that names or covers a forbidden name is refused.
func ParseBusPolicy(policy string) ([]busRule, error) {
	if policy == "" {
		return nil, fmt.Errorf("empty policy: want LEVEL:NAME[,LEVEL:NAME...] with LEVEL one of %s (or no =POLICY for %s)", strings.Join(BusLevels, ", "), DefaultBusPolicy)
	}
	var rules []busRule
	for _, entry := range strings.Split(policy, ",") {
		level, name, ok := strings.Cut(entry, ":")
		if !ok || !validLevel(level) {
			return nil, fmt.Errorf("policy entry %q: want LEVEL:NAME with LEVEL one of %s", entry, strings.Join(BusLevels, ", "))
		}
		if err := checkBusName(name); err != nil {
			return nil, fmt.Errorf("policy entry %q: %w", entry, err)
		}
		r := busRule{level: level, name: name}
		for _, f := range forbiddenBusNames {
			if r.covers(f.name) {
				return nil, fmt.Errorf("policy entry %q reaches %s, %s: no sandbox may see or talk to it", entry, f.name, f.why)
			}
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func validLevel(level string) bool {
	for _, l := range BusLevels {
		if level == l {
			return true
		}
	}
	return false
}

// checkBusName checks a well-known bus name, or a prefix of names with
// ".*", as xdg-dbus-proxy takes them: elements of letters, digits, '_' and
// '-', not starting with a digit, separated by dots; two elements at least
// in a name, one in a prefix; 255 bytes at most. A unique name (":1.42")
// names a connection, not a service, and is refused.
func checkBusName(name string) error {
	elems, wild := name, false
	if p, ok := strings.CutSuffix(name, ".*"); ok {
		elems, wild = p, true
	}
	parts := strings.Split(elems, ".")
	bad := elems == "" || len(name) > 255 || (!wild && len(parts) < 2)
	for _, part := range parts {
		if part == "" || part[0] >= '0' && part[0] <= '9' {
			bad = true
		}
		for _, c := range []byte(part) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				bad = true
			}
		}
	}
	if bad {
		return errors.New("not a well-known bus name (like org.example.App) or a prefix of names (like org.example.*)")
	}
	return nil
}

// resolveSessionBus gives the sandbox a proxy of the caller's session bus
// (DBUS_SESSION_BUS_ADDRESS) that allows what the share's policy lists,
// bound at $XDG_RUNTIME_DIR/bus inside, with DBUS_SESSION_BUS_ADDRESS set
// to it. The proxy runs on the host, as the caller: it reaches any address
// the caller's programs reach (unix:path=, unix:abstract=, tcp:).
func resolveSessionBus(sh Share, s Session, g *Grant) error {
	policy := DefaultBusPolicy
	if sh.HasValue {
		policy = sh.Value
	}
	rules, err := ParseBusPolicy(policy)
	if err != nil {
		return err
	}
	address := s.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if address == "" {
		return &Missing{"DBUS_SESSION_BUS_ADDRESS is not set", "run sbx from your desktop session (or set it to your session bus's address, e.g. unix:path=$XDG_RUNTIME_DIR/bus)"}
	}
	if err := checkBusAddress(address); err != nil {
		return err
	}
	dir := s.Getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(dir) {
		return &Missing{"XDG_RUNTIME_DIR is not set", "the proxy's socket is $XDG_RUNTIME_DIR/bus inside; set it (your desktop session does)"}
	}
	bin, err := exec.LookPath(busProxy)
	if err == nil && !filepath.IsAbs(bin) {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		return &Missing{busProxy + " is not installed", "run `sudo apt-get install " + busProxy + "`"}
	}
	inside := filepath.Join(dir, "bus")
	g.Services = append(g.Services, Service{
		Name: sh.String(),
		Path: bin,
		Args: func(socket string, fd int) []string {
			args := []string{"--fd=" + strconv.Itoa(fd), address, socket, "--filter"}
			for _, r := range rules {
				args = append(args, "--"+r.level+"="+r.name)
			}
			return args
		},
		Dst: inside,
	})
	g.Env = append(g.Env, "XDG_RUNTIME_DIR="+dir, "DBUS_SESSION_BUS_ADDRESS=unix:path="+inside)
	return nil
}

// checkBusAddress checks a D-Bus address (entries separated by ';', each
// TRANSPORT:KEY=VALUE,...) as far as it can before the proxy runs: when
// every entry is a unix:path= socket, one of them must be there.
func checkBusAddress(address string) error {
	var paths []string
	for _, entry := range strings.Split(address, ";") {
		if entry == "" {
			continue
		}
		transport, keys, ok := strings.Cut(entry, ":")
		if !ok {
			return fmt.Errorf("DBUS_SESSION_BUS_ADDRESS=%s: %q is not a D-Bus address (TRANSPORT:KEY=VALUE,...)", address, entry)
		}
		path := ""
		for _, kv := range strings.Split(keys, ",") {
			if k, v, _ := strings.Cut(kv, "="); transport == "unix" && k == "path" {
				if p, err := url.PathUnescape(v); err == nil {
					path = p
				}
			}
		}
		if path == "" {
			return nil // another transport: the proxy tries it
		}
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			return nil
		}
		paths = append(paths, path)
	}
	if len(paths) == 0 {
		return fmt.Errorf("DBUS_SESSION_BUS_ADDRESS=%s names no bus", address)
	}
	return fmt.Errorf("DBUS_SESSION_BUS_ADDRESS=%s: no socket at %s: is your session bus running?", address, strings.Join(paths, ", "))
}

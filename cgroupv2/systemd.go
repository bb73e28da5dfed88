package cgroupv2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// The systemd manager's D-Bus names.
const (
	systemdName      = "org.freedesktop.systemd1"
	systemdPath      = dbus.ObjectPath("/org/freedesktop/systemd1")
	managerInterface = "org.freedesktop.systemd1.Manager"
	scopeInterface   = "org.freedesktop.systemd1.Scope"
	noSuchUnitError  = "org.freedesktop.systemd1.NoSuchUnit"
)

// Bounds of the conversation with the manager. dialTimeout bounds the
// connection to one socket, with its authentication and the check that the
// manager answers there (which waits for a manager whose bus has just been
// started); callTimeout is sd-bus's default method call timeout;
// jobTimeout bounds the wait for a scope's start job, which a busy manager
// (or a slow machine) may queue behind others.
var (
	dialTimeout = 10 * time.Second
	callTimeout = 25 * time.Second
	jobTimeout  = 30 * time.Second
)

// UserManager is a connection to the calling user's systemd manager. Its
// methods may be called from several goroutines.
type UserManager struct {
	conn *dbus.Conn
	obj  dbus.BusObject
	// via names what the connection goes to, for errors.
	via string
	// bus is true on a connection through a bus daemon, which forwards
	// signals only along match rules; false on the manager's private
	// socket (peer to peer), where the manager sends its signals directly.
	bus bool
	// jobsMatched is true once the match rule for JobRemoved is added.
	jobsMatched bool
	mu          sync.Mutex // guards jobsMatched
}

// userEndpoint is one way to reach the user's manager.
type userEndpoint struct {
	what string // for errors: "session bus unix:path=..."
	addr string // a D-Bus address
	path string // the socket's path, "" for an abstract or TCP address
	bus  bool   // a bus daemon (Hello, match rules), not the manager itself
}

// userEndpoints lists, in the order they are tried, the session bus at
// $DBUS_SESSION_BUS_ADDRESS (each of its alternatives), the bus at
// $XDG_RUNTIME_DIR/bus and the manager's private socket
// $XDG_RUNTIME_DIR/systemd/private.
func userEndpoints() []userEndpoint {
	var eps []userEndpoint
	seen := map[string]bool{}
	if env := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); env != "" {
		for _, addr := range strings.Split(env, ";") {
			if addr == "" {
				continue
			}
			path := unixPath(addr)
			if path != "" {
				seen[path] = true
			}
			eps = append(eps, userEndpoint{what: "session bus " + addr, addr: addr, path: path, bus: true})
		}
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		path := strings.TrimSuffix(dir, "/") + "/bus"
		if !seen[path] {
			eps = append(eps, userEndpoint{what: "session bus " + path, addr: "unix:path=" + escapeAddress(path), path: path, bus: true})
		}
		path = strings.TrimSuffix(dir, "/") + "/systemd/private"
		eps = append(eps, userEndpoint{what: "systemd private socket " + path, addr: "unix:path=" + escapeAddress(path), path: path})
	}
	return eps
}

// UserManagerReachable reports cheaply (stat only, no connection) whether
// one of the sockets DialUserManager tries exists: a unix:path= session
// bus, $XDG_RUNTIME_DIR/bus or $XDG_RUNTIME_DIR/systemd/private. A session
// bus at an abstract or TCP address cannot be checked without connecting,
// and does not count (nor does it prove a systemd manager).
func UserManagerReachable() bool {
	for _, ep := range userEndpoints() {
		if ep.path == "" {
			continue
		}
		if fi, err := os.Stat(ep.path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return true
		}
	}
	return false
}

// DialUserManager connects to the user's manager: the session bus at
// $DBUS_SESSION_BUS_ADDRESS, else unix:path=$XDG_RUNTIME_DIR/bus, else the
// manager's private socket $XDG_RUNTIME_DIR/systemd/private (peer to peer,
// no Hello). A bus counts only if the manager (org.freedesktop.systemd1)
// answers on it. An error says which were tried, and why each failed.
func DialUserManager() (*UserManager, error) {
	eps := userEndpoints()
	if len(eps) == 0 {
		return nil, errors.New("no systemd user manager to connect to: DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset")
	}
	var tried []string
	for _, ep := range eps {
		m, err := dialEndpoint(ep)
		if err == nil {
			return m, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", ep.what, err))
	}
	return nil, fmt.Errorf("no systemd user manager reachable: tried %s", strings.Join(tried, "; "))
}

// dialEndpoint connects and authenticates to ep, within dialTimeout.
func dialEndpoint(ep userEndpoint) (*UserManager, error) {
	var conn *dbus.Conn
	var uc *net.UnixConn
	var err error
	if ep.path != "" || strings.HasPrefix(ep.addr, "unix:abstract=") {
		// Dialled here, to bound the authentication, which godbus does
		// with blocking reads, by a deadline on the socket.
		name := ep.path
		if name == "" {
			name = "@" + unescapeAddress(addressKey(ep.addr, "abstract"))
		}
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.Dial("unix", name)
		if err != nil {
			return nil, err
		}
		uc = c.(*net.UnixConn)
		if err := uc.SetDeadline(time.Now().Add(dialTimeout)); err != nil {
			uc.Close()
			return nil, err
		}
		if conn, err = dbus.DialUnix(uc); err != nil {
			uc.Close()
			return nil, err
		}
	} else if conn, err = dbus.Dial(ep.addr); err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*UserManager, error) {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// EXTERNAL with the caller's uid: the manager's private socket
	// accepts nothing else, and the session bus accepts it.
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(fmt.Sprint(os.Geteuid()))}); err != nil {
		return fail("authentication", err)
	}
	if ep.bus {
		if err := conn.Hello(); err != nil {
			return fail("Hello", err)
		}
		// A session bus started by dbus-launch may have no systemd on it.
		// Not GetNameOwner: on the bus of a user manager just started
		// (the bus is socket-activated by our connection), the manager
		// takes its name only a moment later; a call with auto-start
		// waits for it there (dbus-daemon --systemd-activation), and
		// fails at once on a bus without systemd.
		err := conn.Object(systemdName, systemdPath).Call("org.freedesktop.DBus.Peer.Ping", 0).Err
		if err != nil {
			return fail("no "+systemdName+" on the bus", err)
		}
	}
	if uc != nil {
		if err := uc.SetDeadline(time.Time{}); err != nil {
			return fail("clearing the deadline", err)
		}
	}
	return &UserManager{conn: conn, obj: conn.Object(systemdName, systemdPath), via: ep.what, bus: ep.bus}, nil
}

// unixPath returns the path of a unix:path= D-Bus address, "" for any
// other.
func unixPath(addr string) string {
	if !strings.HasPrefix(addr, "unix:") {
		return ""
	}
	return unescapeAddress(addressKey(addr, "path"))
}

// addressKey returns the value of key in a D-Bus address
// ("transport:key=value,key=value"), still escaped.
func addressKey(addr, key string) string {
	_, kvs, _ := strings.Cut(addr, ":")
	for _, kv := range strings.Split(kvs, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// unescapeAddress undoes the %XX escapes of a D-Bus address value; a bad
// escape is kept as it is.
func unescapeAddress(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// escapeAddress escapes a value for a D-Bus address: every byte but the
// optionally-escaped ones of the specification ([-0-9A-Za-z_/.\*]) as %XX.
func escapeAddress(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-_/.\\*", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// unitPath returns the object path of unit, as the manager names it: the
// name's bytes other than [A-Za-z0-9] (and a leading digit) as _XX.
func unitPath(unit string) dbus.ObjectPath {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.WriteString("/org/freedesktop/systemd1/unit/")
	for i := 0; i < len(unit); i++ {
		c := unit[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	if unit == "" {
		b.WriteByte('_')
	}
	return dbus.ObjectPath(b.String())
}

// call calls a method of the manager, within callTimeout.
func (m *UserManager) call(method string, out any, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	call := m.obj.CallWithContext(ctx, managerInterface+"."+method, 0, args...)
	if out == nil {
		return call.Err
	}
	return call.Store(out)
}

// unitProperty is one (sv) of StartTransientUnit's properties.
type unitProperty struct {
	Name  string
	Value dbus.Variant
}

// auxUnit is one (sa(sv)) of StartTransientUnit's auxiliary units.
type auxUnit struct {
	Name       string
	Properties []unitProperty
}

// matchJobs makes the bus forward the manager's JobRemoved signals to this
// connection, once: through a bus, a signal reaches only those whose match
// rule asks for it (peer to peer, the manager sends it to its client).
func (m *UserManager) matchJobs() error {
	if !m.bus {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.jobsMatched {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := m.conn.AddMatchSignalContext(ctx,
		dbus.WithMatchObjectPath(systemdPath),
		dbus.WithMatchInterface(managerInterface),
		dbus.WithMatchMember("JobRemoved"))
	if err != nil {
		return fmt.Errorf("subscribing to JobRemoved on %s: %w", m.via, err)
	}
	m.jobsMatched = true
	return nil
}

// StartScope asks for a transient scope unit `unit` (e.g.
// "sbx-NAME-RANDOM.scope") holding pids, with Delegate=yes,
// CollectMode=inactive-or-failed and the Description description, and
// waits (at most jobTimeout) for its start job to finish; then it returns
// the scope's cgroup path relative to the cgroup2 root (the unit's
// ControlGroup property, e.g.
// "/user.slice/user-1000.slice/user@1000.service/app.slice/sbx-x.scope").
// A failed job or a unit that does not come up is an error naming the
// unit and the result. After a timeout the scope may still come up: the
// caller stops it.
func (m *UserManager) StartScope(unit, description string, pids ...int) (string, error) {
	var list []uint32
	for _, pid := range pids {
		if pid <= 0 {
			return "", fmt.Errorf("starting %s: bad pid %d", unit, pid)
		}
		list = append(list, uint32(pid))
	}
	if len(list) == 0 {
		return "", fmt.Errorf("starting %s: no process for it", unit)
	}
	if err := m.matchJobs(); err != nil {
		return "", fmt.Errorf("starting %s: %w", unit, err)
	}
	// Registered before the job exists: its JobRemoved may follow the
	// reply at once.
	signals := make(chan *dbus.Signal, 16)
	m.conn.Signal(signals)
	defer m.conn.RemoveSignal(signals)

	props := []unitProperty{
		{"Description", dbus.MakeVariant(description)},
		{"PIDs", dbus.MakeVariant(list)},
		{"Delegate", dbus.MakeVariant(true)},
		{"CollectMode", dbus.MakeVariant("inactive-or-failed")},
	}
	var job dbus.ObjectPath
	if err := m.call("StartTransientUnit", &job, unit, "fail", props, []auxUnit{}); err != nil {
		return "", fmt.Errorf("starting %s through %s: %w", unit, m.via, err)
	}

	timer := time.NewTimer(jobTimeout)
	defer timer.Stop()
wait:
	for {
		select {
		case sig, ok := <-signals:
			if !ok {
				return "", fmt.Errorf("starting %s: the connection to %s closed while waiting for job %s", unit, m.via, job)
			}
			if sig.Name != managerInterface+".JobRemoved" || len(sig.Body) < 4 {
				continue
			}
			if path, _ := sig.Body[1].(dbus.ObjectPath); path != job {
				continue
			}
			if result, _ := sig.Body[3].(string); result != "done" {
				return "", fmt.Errorf("starting %s: its start job ended with result %q (see `journalctl --user -u %s`)", unit, result, unit)
			}
			break wait
		case <-timer.C:
			return "", fmt.Errorf("starting %s: its start job %s did not finish within %s", unit, job, jobTimeout)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var v dbus.Variant
	err := m.conn.Object(systemdName, unitPath(unit)).CallWithContext(ctx,
		"org.freedesktop.DBus.Properties.Get", 0, scopeInterface, "ControlGroup").Store(&v)
	if err != nil {
		return "", fmt.Errorf("starting %s: reading its ControlGroup: %w", unit, err)
	}
	cgroup, _ := v.Value().(string)
	if cgroup == "" {
		return "", fmt.Errorf("starting %s: the unit started without a control group (its processes gone?)", unit)
	}
	return cgroup, nil
}

// Attach moves pid into the sub-cgroup sub (e.g. "/sandbox", absolute
// within the unit's cgroup, existing; "" for the unit's own cgroup) of
// unit, a unit with delegation (AttachProcessesToUnit): for a process that
// cannot move itself there (its current cgroup and the target's common
// ancestor are not the user's), the user's manager asks the system's.
func (m *UserManager) Attach(unit, sub string, pid int) error {
	if pid <= 0 {
		return fmt.Errorf("attaching to %s: bad pid %d", unit, pid)
	}
	if err := m.call("AttachProcessesToUnit", nil, unit, sub, []uint32{uint32(pid)}); err != nil {
		return fmt.Errorf("attaching pid %d to %s%s through %s: %w", pid, unit, sub, m.via, err)
	}
	return nil
}

// StopUnit asks the manager to stop unit (job mode "replace": the scope's
// processes are killed and its cgroup removed) without waiting for the
// job. A unit that is not loaded (already gone) is not an error.
func (m *UserManager) StopUnit(unit string) error {
	var job dbus.ObjectPath
	err := m.call("StopUnit", &job, unit, "replace")
	var derr dbus.Error
	if errors.As(err, &derr) && derr.Name == noSuchUnitError {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stopping %s through %s: %w", unit, m.via, err)
	}
	return nil
}

// Close closes the connection.
func (m *UserManager) Close() error {
	if err := m.conn.Close(); err != nil {
		return fmt.Errorf("closing the connection to %s: %w", m.via, err)
	}
	return nil
}

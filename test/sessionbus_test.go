package test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Tests of --share session-bus: a private session bus (dbus-daemon) of the
// test's own, with services of the test's own on it, reached from inside
// through the sandbox's xdg-dbus-proxy.

// busHome is a stateHome whose XDG_RUNTIME_DIR has a session bus of its
// own, at hostBus, with test services on it.
type busHome struct {
	*stateHome
	hostBus string
	// unique are the unique names of the services, by well-known name.
	unique map[string]string
}

// busServices are the names the test bus's services own, each on a
// connection of its own, each answering org.sbxtest.Echo.Ping on
// /org/sbxtest with "pong from NAME". org.freedesktop.systemd1 stands for
// the user's service manager, org.freedesktop.portal.Desktop for the
// portals.
var busServices = []string{"org.sbxtest.Allowed", "org.sbxtest.Other", "org.freedesktop.systemd1", "org.freedesktop.portal.Desktop"}

// busConfig is the test bus's configuration: everything allowed, no
// service activation.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// echo is the test services' object.
type echo struct{ name string }

func (e echo) Ping() (string, *dbus.Error) { return "pong from " + e.name, nil }

// newBusHome starts the bus and its services; they end with the test.
func newBusHome(t *testing.T) *busHome {
	t.Helper()
	daemon := requireTool(t, "dbus-daemon", "install it with `sudo apt-get install dbus`")
	requireTool(t, "dbus-send", "install it with `sudo apt-get install dbus`")
	requireTool(t, "xdg-dbus-proxy", "install it with `sudo apt-get install xdg-dbus-proxy`")
	h := &busHome{stateHome: newStateHome(t), unique: map[string]string{}}
	conf := filepath.Join(h.dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(busConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	h.hostBus = filepath.Join(h.runtime, "test-bus")
	cmd := exec.Command(daemon, "--config-file="+conf, "--address=unix:path="+h.hostBus, "--nofork", "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	address := strings.TrimSpace(line)
	for _, name := range busServices {
		conn, err := dbus.Connect(address)
		if err != nil {
			t.Fatalf("connect to the test bus %s: %v", address, err)
		}
		t.Cleanup(func() { conn.Close() })
		if err := conn.Export(echo{name}, "/org/sbxtest", "org.sbxtest.Echo"); err != nil {
			t.Fatal(err)
		}
		if reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("own %s on the test bus: reply %v, %v", name, reply, err)
		}
		h.unique[name] = conn.Names()[0]
	}
	h.env = append(h.env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+h.hostBus)
	return h
}

// busProbe is what the sandbox runs: a call of Ping on each name of its
// arguments after the first ("call NAME: pong from NAME" or "call NAME:
// error"), the names the bus lists ("names: ..."), whether the host's bus
// (the first argument) is there, what $XDG_RUNTIME_DIR holds, and the
// descriptors of a process in the sandbox (ls's own directory at 3).
const busProbe = `bus=$1; shift
for n in "$@"; do
	if out=$(dbus-send --session --print-reply=literal --dest="$n" /org/sbxtest org.sbxtest.Echo.Ping 2>/dev/null); then
		echo "call $n:" $out
	else
		echo "call $n: error"
	fi
done
echo names: $(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames)
if [ -e "$bus" ]; then echo "host bus: visible"; else echo "host bus: hidden"; fi
echo runtime: $(ls -A "$XDG_RUNTIME_DIR")
echo fds: $(ls /proc/self/fd)
`

// listedNames are the well-known names of a "names: array [ ... ]" line.
func listedNames(out string) []string {
	var names []string
	for _, l := range lines(out) {
		rest, ok := strings.CutPrefix(l, "names: ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			if f != "array" && f != "[" && f != "]" && !strings.HasPrefix(f, ":") {
				names = append(names, f)
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestSessionBusPolicy checks what a sandbox reaches through the proxy:
// exactly the names its policy lets it talk to, by well-known or unique
// name; the bus lists only those it may see; the host's bus is not there,
// nor anything else of $XDG_RUNTIME_DIR but the proxy's socket; a name
// standing for systemd's manager is out of reach whatever the policy.
func TestSessionBusPolicy(t *testing.T) {
	t.Parallel()
	h := newBusHome(t)
	for _, tt := range []struct {
		name  string
		share string
		// talk are the services the sandbox may call, listed the names
		// the bus lists to it (with org.freedesktop.DBus).
		talk, listed []string
	}{
		{"default: the portals", "session-bus", []string{"org.freedesktop.portal.Desktop"}, []string{"org.freedesktop.portal.Desktop"}},
		{"one name", "session-bus=talk:org.sbxtest.Allowed", []string{"org.sbxtest.Allowed"}, []string{"org.sbxtest.Allowed"}},
		{"a pattern", "session-bus=talk:org.sbxtest.*", []string{"org.sbxtest.Allowed", "org.sbxtest.Other"}, []string{"org.sbxtest.Allowed", "org.sbxtest.Other"}},
		{"see only", "session-bus=see:org.sbxtest.Allowed,talk:org.sbxtest.Other", []string{"org.sbxtest.Other"}, []string{"org.sbxtest.Allowed", "org.sbxtest.Other"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"run", "--share", tt.share, "--", "sh", "-c", busProbe, "sh", h.hostBus}
			args = append(args, busServices...)
			for _, name := range busServices {
				args = append(args, h.unique[name])
			}
			out := h.sbx(t, args...).ok(t)
			for _, name := range busServices {
				// The owner of a name the sandbox may talk to is
				// reachable by its unique name too once the proxy
				// has learnt who owns it; any other never is.
				want := []string{fmt.Sprintf("call %s: error", name), fmt.Sprintf("call %s: error", h.unique[name])}
				if slices.Contains(tt.talk, name) {
					want = []string{fmt.Sprintf("call %s: pong from %s", name, name)}
				}
				for _, w := range want {
					if !slices.Contains(lines(out), w) {
						t.Errorf("want %q (%s is %s):\n%s", w, h.unique[name], name, indent(out))
					}
				}
			}
			want := append([]string{"org.freedesktop.DBus"}, tt.listed...)
			slices.Sort(want)
			if got := listedNames(out); !slices.Equal(got, want) {
				t.Errorf("the bus lists %q inside, want %q:\n%s", got, want, indent(out))
			}
			// Not the proxy's pipe, which only pid 1 holds.
			for _, w := range []string{"host bus: hidden", "runtime: bus", "fds: 0 1 2 3"} {
				if !slices.Contains(lines(out), w) {
					t.Errorf("want %q:\n%s", w, indent(out))
				}
			}
		})
	}
}

// busProxies returns the pids of the xdg-dbus-proxy processes sbx started
// for sandboxes of h: they run in a directory of its XDG_RUNTIME_DIR, where
// their socket is (removed once the sandbox runs).
func (h *busHome) busProxies(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), "xdg-dbus-proxy\x00") {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && strings.HasPrefix(cwd, h.runtime+"/.sbx-services-") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// proxyBound bounds how long a proxy takes to start or end, and its
// socket directory to go: a bound, not a measure (they take milliseconds;
// a VM under TCG with the other tests beside it is slower).
const proxyBound = 10 * time.Second

// waitProxies waits up to proxyBound for the number of h's proxies to
// satisfy cond, and returns their pids.
func (h *busHome) waitProxies(t *testing.T, cond func(int) bool) ([]int, bool) {
	t.Helper()
	deadline := time.Now().Add(proxyBound)
	for {
		pids := h.busProxies(t)
		if cond(len(pids)) {
			return pids, true
		}
		if time.Now().After(deadline) {
			return pids, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectNoLeftovers checks that h has no proxy running and no socket
// directory left.
func (h *busHome) expectNoLeftovers(t *testing.T, when string) {
	t.Helper()
	if pids, ok := h.waitProxies(t, func(n int) bool { return n == 0 }); !ok {
		t.Errorf("%s: xdg-dbus-proxy still runs (pids %v)", when, pids)
	}
	if left, _ := filepath.Glob(filepath.Join(h.runtime, ".sbx-services-*")); len(left) > 0 {
		t.Errorf("%s: the proxy's socket directory is left: %v", when, left)
	}
}

// checkProxy checks the one running proxy of h: in a session of its own,
// with /dev/null for stdin and stdout and no directory of sockets left on
// the host once the command runs.
func (h *busHome) checkProxy(t *testing.T) {
	t.Helper()
	pids, ok := h.waitProxies(t, func(n int) bool { return n == 1 })
	if !ok {
		t.Fatalf("want one xdg-dbus-proxy for the sandbox, found pids %v", pids)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pids[0]))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp session ...
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if fields[3] != strconv.Itoa(pids[0]) {
		t.Errorf("the proxy (pid %d) is in session %s, want one of its own", pids[0], fields[3])
	}
	for _, fd := range []string{"0", "1"} {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pids[0], fd)); target != os.DevNull {
			t.Errorf("the proxy's descriptor %s is %q, want %s", fd, target, os.DevNull)
		}
	}
	// It goes once sbx has seen the command start, which the command
	// may see first.
	for deadline := time.Now().Add(proxyBound); ; time.Sleep(20 * time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(h.runtime, ".sbx-services-*"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy's socket directory is still on the host while the sandbox runs: %v", left)
		}
	}
}

// TestSessionBusLifecycle checks that the proxy ends with its sandbox,
// however it ends, and that a failed start leaves nothing behind.
func TestSessionBusLifecycle(t *testing.T) {
	t.Parallel()
	share := "--share=session-bus=talk:org.sbxtest.Allowed"
	// It prints the service's answer.
	call := "out=$(dbus-send --session --print-reply=literal --dest=org.sbxtest.Allowed /org/sbxtest org.sbxtest.Echo.Ping) && echo $out"
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, h *busHome)
	}{
		{"attached, a short command", func(t *testing.T, h *busHome) {
			out := h.sbx(t, "run", share, "--", "sh", "-c", call).ok(t)
			if strings.TrimSpace(out) != "pong from org.sbxtest.Allowed" {
				t.Errorf("want the service's answer:\n%s", indent(out))
			}
			h.expectNoLeftovers(t, "after sbx exited")
		}},
		{"attached, handed over to the monitor", func(t *testing.T, h *busHome) {
			p := h.start(t, "run", share, "--", "sh", "-c", call+" && sleep 0.5")
			p.waitLine(t, "pong from org.sbxtest.Allowed")
			h.checkProxy(t)
			p.wait(t).expect(t, 0)
			h.expectNoLeftovers(t, "after sbx exited")
		}},
		{"attached, sbx killed", func(t *testing.T, h *busHome) {
			p := h.start(t, "run", share, "--", "sh", "-c", "echo ready; exec sleep 1000")
			p.waitLine(t, "ready")
			h.checkProxy(t)
			p.signal(t, syscall.SIGKILL)
			p.wait(t)
			h.expectNoLeftovers(t, "after SIGKILL to sbx")
		}},
		{"attached, command ended by a signal", func(t *testing.T, h *busHome) {
			p := h.start(t, "run", share, "--", "sh", "-c", "echo ready; exec sleep 1000")
			p.waitLine(t, "ready")
			h.checkProxy(t)
			p.signal(t, syscall.SIGTERM)
			p.wait(t).expect(t, 143)
			h.expectNoLeftovers(t, "after SIGTERM to sbx")
		}},
		{"detached, sbx kill", func(t *testing.T, h *busHome) {
			name := h.detach(t, sandboxName("bus"), share, "--", "sleep", "1000")
			h.checkProxy(t)
			h.sbx(t, "kill", name, "KILL").ok(t)
			h.expectNoLeftovers(t, "after sbx kill")
		}},
		{"detached, sbx rm -f", func(t *testing.T, h *busHome) {
			name := h.detach(t, sandboxName("bus"), share, "--", "sleep", "1000")
			h.checkProxy(t)
			h.sbx(t, "rm", "-f", name).ok(t)
			h.expectNoLeftovers(t, "after sbx rm -f")
		}},
		{"detached, the command exits", func(t *testing.T, h *busHome) {
			h.detach(t, sandboxName("bus"), share, "--", "sh", "-c", call+" && sleep 0.5")
			h.checkProxy(t)
			time.Sleep(500 * time.Millisecond)
			h.expectNoLeftovers(t, "after the command exited")
		}},
		{"a command that is not there", func(t *testing.T, h *busHome) {
			r := h.sbx(t, "run", share, "--", "/nonexistent/command")
			r.expect(t, 127)
			h.expectNoLeftovers(t, "after a failed start")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newBusHome(t))
		})
	}
}

// TestSessionBusRefused checks the refusals: a policy that reaches a
// service that runs commands on the host, a bad policy, no bus, no proxy.
// Each is one line, exit 125, and nothing left running or on disk.
func TestSessionBusRefused(t *testing.T) {
	t.Parallel()
	h := newBusHome(t)
	noAddress := slices.DeleteFunc(slices.Clone(h.env), func(kv string) bool { return strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") })
	for _, tt := range []struct {
		name    string
		share   string
		env     []string // nil: h's
		mention []string
	}{
		{"systemd's manager", "session-bus=talk:org.freedesktop.systemd1", nil, []string{"org.freedesktop.systemd1", "runs any command on the host"}},
		{"systemd's manager, seen", "session-bus=talk:org.sbxtest.Allowed,see:org.freedesktop.systemd1", nil, []string{"reaches org.freedesktop.systemd1", "runs any command on the host"}},
		{"a pattern covering it", "session-bus=talk:org.freedesktop.*", nil, []string{"reaches org.freedesktop.systemd1", "runs any command on the host"}},
		{"a wider pattern", "session-bus=own:org.*", nil, []string{"reaches org.freedesktop.systemd1", "runs any command on the host"}},
		{"flatpak's session helper", "session-bus=talk:org.freedesktop.Flatpak", nil, []string{"org.freedesktop.Flatpak", "flatpak-spawn --host"}},
		{"an unknown level", "session-bus=call:org.sbxtest.Allowed", nil, []string{"LEVEL:NAME", "see, talk, own"}},
		{"no level", "session-bus=org.sbxtest.Allowed", nil, []string{"LEVEL:NAME"}},
		{"a unique name", "session-bus=talk::1.3", nil, []string{"not a well-known bus name"}},
		{"one element", "session-bus=talk:org", nil, []string{"not a well-known bus name"}},
		{"an empty entry", "session-bus=talk:org.sbxtest.Allowed,", nil, []string{"LEVEL:NAME"}},
		{"an empty policy", "session-bus=", nil, []string{"empty policy"}},
		{"no bus address", "session-bus", noAddress, []string{"DBUS_SESSION_BUS_ADDRESS is not set"}},
		{"no bus there", "session-bus", append(slices.Clone(h.env), "DBUS_SESSION_BUS_ADDRESS=unix:path="+h.runtime+"/none"), []string{"no socket at " + h.runtime + "/none"}},
		{"no proxy installed", "session-bus", append(slices.Clone(h.env), "PATH=/nonexistent"), []string{"xdg-dbus-proxy is not installed", "apt-get install xdg-dbus-proxy"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := h.inv("run", "--map", "single", "--share", tt.share, "--", "/bin/true")
			if tt.env != nil {
				inv.env = tt.env
			}
			expectBadInput(t, inv.run(t), append([]string{"--share"}, tt.mention...)...)
			h.expectNoLeftovers(t, "after the refusal")
		})
	}
}

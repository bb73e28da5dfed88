package desktop

import (
	"slices"
	"strings"
	"testing"
)

// TestSessionBusArgs checks the proxy's command line a policy gives, and
// what the sandbox gets: the socket at $XDG_RUNTIME_DIR/bus, the address.
func TestSessionBusArgs(t *testing.T) {
	env := map[string]string{
		"DBUS_SESSION_BUS_ADDRESS": "unix:abstract=/tmp/dbus-x,guid=0123",
		"XDG_RUNTIME_DIR":          "/run/user/1000",
		"PATH":                     "/usr/bin:/bin",
	}
	s := Session{Getenv: func(k string) string { return env[k] }}
	for _, tt := range []struct {
		value string
		want  []string
	}{
		{"session-bus", []string{"--talk=org.freedesktop.portal.*"}},
		{"session-bus=see:org.a.B,talk:org.c.*,own:org.d.E", []string{"--see=org.a.B", "--talk=org.c.*", "--own=org.d.E"}},
	} {
		sh, err := Parse(tt.value)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Resolve([]Share{sh}, s)
		if err != nil {
			t.Fatalf("%s: %v", tt.value, err)
		}
		if len(g.Services) != 1 {
			t.Fatalf("%s: want one service, got %d", tt.value, len(g.Services))
		}
		sv := g.Services[0]
		args := sv.Args("0.sock", 3)
		want := append([]string{"--fd=3", env["DBUS_SESSION_BUS_ADDRESS"], "0.sock", "--filter"}, tt.want...)
		if !slices.Equal(args, want) {
			t.Errorf("%s: proxy args %q, want %q", tt.value, args, want)
		}
		if sv.Dst != "/run/user/1000/bus" || !strings.HasSuffix(sv.Path, "/xdg-dbus-proxy") {
			t.Errorf("%s: service %+v", tt.value, sv)
		}
		if !slices.Contains(g.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus") {
			t.Errorf("%s: env %q", tt.value, g.Env)
		}
	}
}

// TestBusPolicyCovers checks which names a rule reaches, xdg-dbus-proxy's
// way: a ".*" prefix covers itself and its subnames only.
func TestBusPolicyCovers(t *testing.T) {
	for _, tt := range []struct {
		rule, name string
		want       bool
	}{
		{"org.freedesktop.systemd1", "org.freedesktop.systemd1", true},
		{"org.freedesktop.*", "org.freedesktop.systemd1", true},
		{"org.freedesktop.systemd1.*", "org.freedesktop.systemd1", true},
		{"org.*", "org.freedesktop.systemd1", true},
		{"org.freedesktop.systemd", "org.freedesktop.systemd1", false},
		{"org.freedesktop.systemd*", "org.freedesktop.systemd1", false},
		{"org.freedesktop.portal.*", "org.freedesktop.systemd1", false},
		{"org.freedesktop.portal.*", "org.freedesktop.portal.Desktop", true},
		{"org.freedesktop.portal.*", "org.freedesktop.portalX", false},
	} {
		if got := (busRule{"talk", tt.rule}).covers(tt.name); got != tt.want {
			t.Errorf("%s covers %s: %v, want %v", tt.rule, tt.name, got, tt.want)
		}
	}
}

package test

import (
	"os"
	"strings"
	"testing"
)

func readHostFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestSysctl checks --sysctl: a namespaced sysctl is set in the sandbox's
// own namespace (and the host's stays as it was), the default of a network
// namespace of its own (ip_unprivileged_port_start 0) is there, and a
// sysctl that is not namespaced, or whose namespace is shared, is refused
// before anything runs.
func TestSysctl(t *testing.T) {
	t.Parallel()
	host := strings.TrimSpace(readHostFile(t, "/proc/sys/net/ipv4/ping_group_range"))
	r := sbx(t, "run", "--sysctl", "net.ipv4.ping_group_range=0 0", "--", "cat",
		"/proc/sys/net/ipv4/ping_group_range", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if got := strings.Fields(r.ok(t)); strings.Join(got, " ") != "0 0 0" {
		t.Errorf("want ping_group_range 0 0 and ip_unprivileged_port_start 0 inside, got %q", got)
	}
	if now := strings.TrimSpace(readHostFile(t, "/proc/sys/net/ipv4/ping_group_range")); now != host {
		t.Errorf("the host's ping_group_range changed: %q, was %q", now, host)
	}
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--sysctl", "vm.swappiness=10"}, "not a namespaced sysctl"},
		{[]string{"--sysctl", "kernel.shmmax=1234567"}, "IPC and UTS sysctls"},
		{[]string{"--net", "host", "--sysctl", "net.ipv4.ip_forward=1"}, "shares that namespace"},
		{[]string{"--sysctl", "net.ipv4"}, "want KEY=VALUE"},
		{[]string{"--sysctl", "net..x=1"}, "want KEY=VALUE"},
	} {
		args := append(append([]string{"run"}, c.args...), "--", "sh", "-c", "echo ran")
		expectBadInput(t, sbx(t, args...), c.mention)
	}
}

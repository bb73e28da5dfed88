package network

import (
	"bufio"
	"bytes"
	"os"
	"strings"

	"github.com/sbx-sandbox/sbx/plan"
)

// Files returns the private files a sandbox with network n sees instead of
// the host's (plan.File mounts, applied last): /etc/resolv.conf naming the
// helper's DNS forwarder or the --dns servers, and /etc/hosts with the
// sandbox's own name and the --add-host entries. The host's files are read
// from hostResolv and hostHosts (their search and options lines, and its
// hosts, are kept); "" leaves them out (a --rootfs of its own). A network
// that needs neither gets none: the sandbox sees the view's own.
func Files(n plan.Network, hostname, hostResolv, hostHosts string) []plan.Mount {
	var files []plan.Mount
	if servers := nameServers(n); len(servers) > 0 {
		var b strings.Builder
		b.WriteString("# sbx: the sandbox's name servers (the host's /etc/resolv.conf is left alone)\n")
		for _, line := range readLines(hostResolv) {
			if f := strings.Fields(line); len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
				b.WriteString(line + "\n")
			}
		}
		for _, s := range servers {
			b.WriteString("nameserver " + s + "\n")
		}
		files = append(files, plan.Mount{Kind: plan.File, Dst: "/etc/resolv.conf", Data: b.String()})
	}
	if n.UserMode() || len(n.Hosts) > 0 {
		var b strings.Builder
		lines := readLines(hostHosts)
		if len(lines) == 0 {
			lines = []string{"127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"}
		}
		for _, line := range lines {
			b.WriteString(line + "\n")
		}
		b.WriteString("# sbx\n")
		if n.UserMode() {
			b.WriteString(Address + "\t" + hostname + "\n")
		}
		for _, h := range n.Hosts {
			name, ip, _ := strings.Cut(h, ":")
			b.WriteString(ip + "\t" + name + "\n")
		}
		files = append(files, plan.Mount{Kind: plan.File, Dst: "/etc/hosts", Data: b.String()})
	}
	return files
}

// nameServers are the servers of the sandbox's resolv.conf: --dns, else
// the helper's forwarder; none for a network that keeps the view's file.
func nameServers(n plan.Network) []string {
	switch {
	case len(n.DNS) > 0:
		return n.DNS
	case n.UserMode():
		return []string{DNSForwarder}
	}
	return nil
}

// readLines returns the lines of the file at path ("" or unreadable:
// none), up to 64 KiB.
func readLines(path string) []string {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 64<<10 {
		return nil
	}
	var lines []string
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	return lines
}

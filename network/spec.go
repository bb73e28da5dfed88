// Package network gives a sandbox its network: it reads the user's choice
// (--net, -p, --dns, --add-host) into a plan.Network, and on the host side
// starts the sandbox's user-mode network helper (pasta or slirp4netns) in
// the launcher's slot between "the sandbox's pid 1 exists" and "pid 1 may
// go on", with the sandbox's published ports; see helper.go.
//
// A sandbox's network is one of:
//
//   - none: a network namespace of its own with only lo (the default);
//   - host: the host's network namespace;
//   - pasta, slirp4netns: a network namespace of its own whose tap0 a
//     helper of that name connects to the host's network through a
//     user-mode TCP/IP stack (NAT); the sandbox is 10.0.2.100/24, the
//     gateway 10.0.2.2 (the host's loopback, when allowed) and the helper's
//     DNS forwarder 10.0.2.3, whichever helper it is;
//   - sandbox:NAME: the network namespace of the running sandbox NAME.
package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// The addresses of a user-mode network, the same for both helpers (they
// are slirp4netns's defaults).
const (
	// Interface is the sandbox's interface.
	Interface = "tap0"
	// Address and PrefixLen are the sandbox's own address.
	Address   = "10.0.2.100"
	PrefixLen = 24
	// Gateway is the default route; with allow_host_loopback it also
	// leads to the host's 127.0.0.1.
	Gateway = "10.0.2.2"
	// DNSForwarder forwards queries to the host's name server.
	DNSForwarder = "10.0.2.3"
	// DefaultMTU is the MTU of tap0 unless mtu= says other: the largest
	// both helpers take, as podman and rootlesskit use.
	DefaultMTU = 65520
)

// User is the mode that picks whichever helper is installed.
const User = "user"

// MaxPorts bounds the ports one sandbox publishes (the keeper's command
// line and its UDP relay hold that many).
const MaxPorts = 64

// Helper binaries, looked up in PATH.
var helperBinaries = map[string]string{
	plan.NetPasta:       "pasta",
	plan.NetSlirp4netns: "slirp4netns",
}

// helperPackage names the Debian package of each helper, for the fix.
var helperPackage = map[string]string{
	plan.NetPasta:       "passt",
	plan.NetSlirp4netns: "slirp4netns",
}

// Options are the user's network choices, as the CLI collects them.
type Options struct {
	// Mode is --net: none, host, pasta[:OPTS], slirp4netns[:OPTS],
	// user[:OPTS] or sandbox:NAME; "" is none, or user with Publish.
	Mode string
	// Publish are -p [HOSTIP:]HOSTPORT:PORT[/tcp|udp].
	Publish []string
	// DNS are --dns IP; Hosts are --add-host NAME:IP.
	DNS, Hosts []string
}

// Parse checks o and returns the network it asks for. The helper of user
// is resolved here (pasta first): the plan names the one that runs.
func Parse(o Options) (plan.Network, error) {
	mode := o.Mode
	if mode == "" {
		mode = plan.NetNone
		if len(o.Publish) > 0 {
			mode = User
		}
	}
	name, opts, hasOpts := strings.Cut(mode, ":")
	var n plan.Network
	switch name {
	case plan.NetNone, plan.NetHost:
		if hasOpts {
			return n, fmt.Errorf("--net %s: %s takes no options (only pasta, slirp4netns and user do)", mode, name)
		}
		n.Mode = name
	case plan.NetSandbox:
		if opts == "" {
			return n, fmt.Errorf("--net %s: name the sandbox whose network to join: --net sandbox:NAME", mode)
		}
		n.Mode, n.Sandbox = name, opts
	case plan.NetPasta, plan.NetSlirp4netns, User:
		n.Mode, n.MTU = name, DefaultMTU
		if hasOpts {
			if err := parseHelperOptions(&n, opts); err != nil {
				return n, fmt.Errorf("--net %s: %w", mode, err)
			}
		}
		if name == User {
			var err error
			if n.Mode, err = pickHelper(); err != nil {
				return n, err
			}
		}
	default:
		return n, fmt.Errorf("--net %s: unknown network mode: want none, host, pasta[:OPTIONS], slirp4netns[:OPTIONS], user[:OPTIONS] or sandbox:NAME", mode)
	}
	if len(o.Publish) > 0 && !n.UserMode() {
		return n, fmt.Errorf("-p %s: publishing a port needs a user-mode network (--net user, pasta or slirp4netns), not --net %s", o.Publish[0], mode)
	}
	if len(o.Publish) > MaxPorts {
		return n, fmt.Errorf("-p: %d ports published, at most %d are (publish a service's ports, not ranges of them)", len(o.Publish), MaxPorts)
	}
	for _, s := range o.Publish {
		p, err := ParsePort(s)
		if err != nil {
			return n, err
		}
		if p.HostIP != "" && strings.Contains(p.HostIP, ":") {
			switch {
			case n.Mode == plan.NetSlirp4netns && p.Proto == "tcp":
				return n, fmt.Errorf("-p %s: slirp4netns publishes TCP on IPv4 host addresses only: use --net pasta:enable_ipv6=true", s)
			case !n.IPv6 && p.Proto == "tcp":
				return n, fmt.Errorf("-p %s: an IPv6 host address needs --net %s:enable_ipv6=true", s, n.Mode)
			}
		}
		for _, q := range n.Ports {
			if q.HostPort == p.HostPort && q.Proto == p.Proto && (q.HostIP == p.HostIP || q.HostIP == "" || p.HostIP == "") {
				return n, fmt.Errorf("-p %s: host port %d/%s is published twice", s, p.HostPort, p.Proto)
			}
		}
		n.Ports = append(n.Ports, p)
	}
	for _, d := range o.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return n, fmt.Errorf("--dns %q: want the IP address of a name server, e.g. --dns 192.0.2.53", d)
		}
		n.DNS = append(n.DNS, a.String())
	}
	for _, h := range o.Hosts {
		host, err := parseHost(h)
		if err != nil {
			return n, err
		}
		n.Hosts = append(n.Hosts, host)
	}
	if n.Mode == plan.NetSandbox && (len(n.DNS) > 0 || len(n.Hosts) > 0) {
		return n, fmt.Errorf("--net %s: --dns and --add-host belong to the sandbox whose network is joined", mode)
	}
	return n, nil
}

// parseHelperOptions reads a helper's comma-separated KEY=VALUE options.
func parseHelperOptions(n *plan.Network, opts string) error {
	for _, kv := range strings.Split(opts, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("option %q: want KEY=VALUE (allow_host_loopback=true|false, mtu=N, enable_ipv6=true|false)", kv)
		}
		switch k {
		case "allow_host_loopback", "enable_ipv6":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("option %s=%s: want true or false", k, v)
			}
			if k == "allow_host_loopback" {
				n.AllowHostLoopback = b
			} else {
				n.IPv6 = b
			}
		case "mtu":
			m, err := strconv.ParseUint(v, 10, 32)
			if err != nil || m < 1280 || m > DefaultMTU {
				return fmt.Errorf("option mtu=%s: want a number from 1280 to %d", v, DefaultMTU)
			}
			n.MTU = uint32(m)
		default:
			return fmt.Errorf("unknown option %q: want allow_host_loopback=true|false, mtu=N or enable_ipv6=true|false", k)
		}
	}
	return nil
}

// pickHelper is the helper of --net user: pasta if installed, else
// slirp4netns.
func pickHelper() (string, error) {
	for _, m := range []string{plan.NetPasta, plan.NetSlirp4netns} {
		if _, err := exec.LookPath(helperBinaries[m]); err == nil {
			return m, nil
		}
	}
	return "", errors.New("--net user: neither pasta nor slirp4netns is installed: install one (`sudo apt-get install passt` or `sudo apt-get install slirp4netns`; `sbx check` reports them)")
}

// ParsePort reads -p [HOSTIP:]HOSTPORT:PORT[/tcp|udp], podman's form; an
// IPv6 HOSTIP is written in brackets.
func ParsePort(s string) (plan.Port, error) {
	bad := func(why string) (plan.Port, error) {
		return plan.Port{}, fmt.Errorf("-p %s: %s: want [HOSTIP:]HOSTPORT:PORT[/tcp|udp], e.g. -p 127.0.0.1:8080:80", s, why)
	}
	p := plan.Port{Proto: "tcp"}
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		p.Proto = rest[i+1:]
		rest = rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return bad("the protocol must be tcp or udp")
		}
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return bad("an IPv6 host address in brackets must be followed by :HOSTPORT")
		}
		p.HostIP, rest = rest[1:end], rest[end+2:]
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && p.HostIP == "":
		p.HostIP, parts = parts[0], parts[1:]
	case len(parts) != 2:
		return bad("HOSTPORT and PORT are both needed")
	}
	if p.HostIP != "" {
		a, err := netip.ParseAddr(p.HostIP)
		if err != nil || a.Zone() != "" {
			return bad(fmt.Sprintf("%q is not an IP address", p.HostIP))
		}
		p.HostIP = a.String()
	}
	for i, dst := range []*uint16{&p.HostPort, &p.Port} {
		n, err := strconv.ParseUint(parts[i], 10, 32)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a port number", parts[i]))
		}
		if n < 1 || n > 65535 {
			return bad(fmt.Sprintf("port %d is out of range (1 to 65535)", n))
		}
		*dst = uint16(n)
	}
	return p, nil
}

// parseHost reads --add-host NAME:IP (an IPv6 address may follow the first
// colon as it is, or in brackets).
func parseHost(s string) (string, error) {
	name, ip, ok := strings.Cut(s, ":")
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	a, err := netip.ParseAddr(ip)
	if !ok || err != nil || !validHostName(name) {
		return "", fmt.Errorf("--add-host %q: want NAME:IP, e.g. --add-host db:192.0.2.10", s)
	}
	return name + ":" + a.String(), nil
}

// validHostName reports whether s is a host name /etc/hosts can hold.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

// Binary returns the path of mode's helper, or an error naming the fix.
func Binary(mode string) (string, error) {
	name := helperBinaries[mode]
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("--net %s: %s is not installed: run `sudo apt-get install %s` (`sbx check` reports the network helpers)", mode, name, helperPackage[mode])
	}
	return path, nil
}

// CheckHost fails, naming the fix, when mode's helper cannot run here: it
// is not installed, or the tun device it opens in the sandbox's network
// namespace is closed to the caller.
func CheckHost(mode string) error {
	if _, err := Binary(mode); err != nil {
		return err
	}
	if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
		return fmt.Errorf("--net %s: /dev/net/tun is not open to you (%v): run `sudo chmod 0666 /dev/net/tun`, udev's default (`sbx check` reports it)", mode, err)
	}
	return nil
}

package network

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/nsexec"
	"github.com/sbx-sandbox/sbx/plan"
)

// ReadyTimeout bounds how long a helper may take to set up the sandbox's
// network (a few tens of milliseconds, usually).
const ReadyTimeout = 10 * time.Second

// exitWait bounds how long Wait waits for a helper once its sandbox has
// ended (its keeper ends it at once).
const exitWait = 3 * time.Second

// Helper is a sandbox's running network helper, seen from the sbx that
// started it: the keeper (nsexec/keeper.c) that runs pasta or slirp4netns,
// a child of this sbx until sbx exits or hands the sandbox over to the
// monitor, which reaps it.
type Helper struct {
	// Mode is plan.NetPasta or plan.NetSlirp4netns.
	Mode string
	// Pid is the keeper's.
	Pid int
}

// Start starts the helper of network n for the sandbox whose pid 1 is
// pid, publishes n's ports (the UDP ones bound in udp) and returns once the
// sandbox's tap0 is up. The helper runs under a keeper that ends it when
// pid 1 exits, however the sandbox ends, sbx or no sbx. On error nothing is
// left running.
func Start(n plan.Network, pid int, udp *Reserved) (*Helper, error) {
	bin, err := Binary(n.Mode)
	if err != nil {
		return nil, err
	}
	h, err := start(bin, n, pid, udp)
	if err != nil {
		return nil, fmt.Errorf("--net %s: %w", n.Mode, err)
	}
	return h, nil
}

// start runs the keeper with the helper bin and waits until it is ready.
// The keeper's descriptors: 0 /dev/null, 1 and 2 a file in memory (read
// if it fails: a pipe would break, SIGPIPE, once sbx has gone), 3 a pidfd
// of pid 1, 4 the readiness pipe; with UDP ports, 5 and 6 the sandbox's
// user and network namespaces and 7 on their host sockets.
func start(bin string, n plan.Network, pid int, udp *Reserved) (*Helper, error) {
	errFD, err := unix.MemfdCreate("sbx-net-stderr", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create the helper's error file: %w", err)
	}
	stderr := os.NewFile(uintptr(errFD), "sbx-net-stderr")
	defer stderr.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	// pid 1 is sbx's child and not reaped: the pidfd is surely of it.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("open a pidfd of the sandbox's pid 1: %w", err)
	}
	pid1 := os.NewFile(uintptr(pidfd), "sbx-pid1")
	defer pid1.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	defer readyW.Close()
	files := []*os.File{null, stderr, stderr, pid1, readyW}
	argv := []string{"sbx-netkeep"}
	if udp != nil && len(udp.files) > 0 {
		for _, ns := range []string{"user", "net"} {
			f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			if err != nil {
				return nil, fmt.Errorf("open the sandbox's %s namespace: %w", ns, err)
			}
			defer f.Close()
			files = append(files, f)
		}
		for i, f := range udp.files {
			argv = append(argv, "--udp="+strconv.Itoa(int(udp.ports[i].Port)))
			files = append(files, f)
		}
	}
	var tcp []plan.Port
	for _, p := range n.Ports {
		if p.Proto == "tcp" {
			tcp = append(tcp, p)
		}
	}
	var api string
	argv = append(argv, "--", bin)
	switch n.Mode {
	case plan.NetPasta:
		argv = append(argv, pastaArgs(n, pid, "/proc/self/fd/4")...)
	case plan.NetSlirp4netns:
		if len(tcp) > 0 {
			dir, err := os.MkdirTemp("", "sbx-slirp4netns-")
			if err != nil {
				return nil, fmt.Errorf("create the directory of its API socket: %w", err)
			}
			defer os.RemoveAll(dir)
			api = filepath.Join(dir, "api.sock")
		}
		argv = append(argv, slirp4netnsArgs(n, pid, api)...)
	default:
		return nil, errors.New("no helper for this mode")
	}
	// slirp4netns makes its API socket once it has joined the sandbox's
	// user namespace (--enable-sandbox), as the uid the sandbox's root
	// maps to, which need not be the caller's (--map auto): without
	// umask 0 the caller could not connect to it. The socket's private
	// directory keeps it the caller's alone. umask is the process's: sbx
	// creates no file meanwhile (its other goroutines relay signals).
	old := unix.Umask(0)
	keeper, err := spawn("/proc/self/exe", argv, []string{nsexec.KeeperEnv + "=1"}, files)
	unix.Umask(old)
	readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("start the keeper of %s: %w", n.Mode, err)
	}
	fail := func(err error) (*Helper, error) {
		kill(keeper)
		return nil, fmt.Errorf("%w%s", err, helperSaid(stderr))
	}
	// Ready: pasta writes its pid once the namespace's network is
	// configured (its pid file), slirp4netns "1" (--ready-fd). Both only
	// once the keeper is set up (it lets the helper exec then).
	readyR.SetReadDeadline(time.Now().Add(ReadyTimeout))
	got, err := bufio.NewReader(readyR).ReadString('\n')
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fail(fmt.Errorf("%s did not set up the network within %v", n.Mode, ReadyTimeout))
	case strings.TrimSpace(got) == "":
		if ws, ok := exited(keeper); ok {
			return nil, fmt.Errorf("%s failed (%s)%s", n.Mode, describe(ws), helperSaid(stderr))
		}
		return fail(fmt.Errorf("%s failed", n.Mode))
	}
	if api != "" {
		for _, p := range tcp {
			if err := addHostForward(api, p); err != nil {
				return fail(fmt.Errorf("-p %s: %w", p, err))
			}
		}
	}
	return &Helper{Mode: n.Mode, Pid: keeper}, nil
}

// Wait reaps the helper's keeper once its sandbox has ended, waiting a few
// seconds at most: a published port is free again when sbx exits. The
// keeper ends the helper as soon as pid 1 has exited, which it has.
func (h *Helper) Wait() {
	if h == nil {
		return
	}
	if fd, err := unix.PidfdOpen(h.Pid, 0); err == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, int(exitWait/time.Millisecond)); err != unix.EINTR {
				break
			}
		}
		unix.Close(fd)
	}
	exited(h.Pid)
}

// Reserved are the host's sockets of a sandbox's published UDP ports,
// bound before anything starts and handed to the keeper, which relays
// them.
type Reserved struct {
	ports []plan.Port
	files []*os.File
}

// Reserve checks that the TCP ports of ports are free on the host, and
// binds the UDP ones (the keeper relays them: udprelay.c). It fails with
// one line naming the port.
func Reserve(ports []plan.Port, ipv6 bool) (*Reserved, error) {
	r := &Reserved{}
	for _, p := range ports {
		addr := net.JoinHostPort(p.HostIP, strconv.Itoa(int(p.HostPort)))
		if p.Proto != "udp" {
			proto := "tcp"
			if p.HostIP == "" && !ipv6 {
				proto = "tcp4"
			}
			l, err := net.Listen(proto, addr)
			if err != nil {
				r.Close()
				return nil, portError(p, err)
			}
			l.Close()
			continue
		}
		// As the helpers bind TCP: IPv4 only unless IPv6 is on.
		proto := "udp"
		if p.HostIP == "" && !ipv6 {
			proto = "udp4"
		}
		c, err := net.ListenPacket(proto, addr)
		if err != nil {
			r.Close()
			return nil, portError(p, err)
		}
		f, err := c.(*net.UDPConn).File()
		c.Close()
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("-p %s: %w", p, err)
		}
		r.ports, r.files = append(r.ports, p), append(r.files, f)
	}
	return r, nil
}

// Close closes sbx's copies of the sockets (the keeper has its own).
func (r *Reserved) Close() {
	if r == nil {
		return
	}
	for _, f := range r.files {
		f.Close()
	}
	r.files = nil
}

// portError explains why a host port cannot be published.
func portError(p plan.Port, err error) error {
	why := err.Error()
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		why = "the host port is already in use"
	case errors.Is(err, unix.EACCES):
		why = fmt.Sprintf("ports below %d need privileges on this host (sysctl net.ipv4.ip_unprivileged_port_start)", unprivilegedPortStart())
	case errors.Is(err, unix.EADDRNOTAVAIL):
		why = "the host has no such address"
	}
	return fmt.Errorf("-p %s: %s: pick another host port or address", p, why)
}

// helperSaid returns the last line the helper wrote to stderr, as ": LINE".
func helperSaid(f *os.File) string {
	data, _ := io.ReadAll(io.NewSectionReader(f, 0, 64<<10))
	var last string
	s := bufio.NewScanner(strings.NewReader(string(data)))
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" && !strings.Contains(line, "syslog") {
			last = line
		}
	}
	if last == "" {
		return ""
	}
	return ": " + strings.TrimPrefix(last, "sbx: ")
}

// spawn starts argv with files as descriptors 0, 1, 2, 3, ... in a
// session of its own (no signal from the caller's terminal reaches it).
func spawn(argv0 string, argv, env []string, files []*os.File) (int, error) {
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	return syscall.ForkExec(argv0, argv, &syscall.ProcAttr{
		Env:   env,
		Files: fds,
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
}

// kill ends and reaps a helper that failed to start.
func kill(pid int) {
	unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return
		}
	}
}

// exited returns how the helper pid ended, if it has, without waiting.
func exited(pid int) (unix.WaitStatus, bool) {
	var ws unix.WaitStatus
	r, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	return ws, err == nil && r == pid
}

// describe says how a helper ended.
func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

// pastaArgs is pasta's command line for network n of pid 1 pid, with its
// pid file at pidFile.
func pastaArgs(n plan.Network, pid int, pidFile string) []string {
	args := []string{
		"--foreground", "--quiet", "--config-net",
		"--ns-ifname", Interface,
		"--address", Address, "--netmask", strconv.Itoa(PrefixLen),
		"--gateway", Gateway, "--dns-forward", DNSForwarder,
		"--mtu", strconv.Itoa(int(n.MTU)),
		// Nothing from the sandbox's own loopback reaches the host's.
		"-T", "none", "-U", "none",
		"--pid", pidFile,
	}
	if !n.AllowHostLoopback {
		args = append(args, "--no-map-gw")
	}
	if !n.IPv6 {
		args = append(args, "--ipv4-only")
	}
	// The UDP ports are the keeper's (udprelay.c).
	tcp := 0
	for _, p := range n.Ports {
		if p.Proto != "tcp" {
			continue
		}
		spec := strconv.Itoa(int(p.HostPort)) + ":" + strconv.Itoa(int(p.Port))
		if p.HostIP != "" {
			spec = p.HostIP + "/" + spec
		}
		args = append(args, "-t", spec)
		tcp++
	}
	if tcp == 0 {
		args = append(args, "-t", "none")
	}
	args = append(args, "-u", "none")
	return append(args, strconv.Itoa(pid))
}

// slirp4netnsArgs is slirp4netns's command line for network n of pid 1
// pid, with its API socket at api ("": none), the keeper's exit pipe at 3
// and the ready pipe at 4.
func slirp4netnsArgs(n plan.Network, pid int, api string) []string {
	args := []string{
		"--configure", "--mtu", strconv.Itoa(int(n.MTU)),
		"--exit-fd", "3", "--ready-fd", "4",
		// Its own mount namespace and seccomp filter: it sees no more of
		// the host than it needs.
		"--enable-sandbox", "--enable-seccomp",
	}
	if !n.AllowHostLoopback {
		args = append(args, "--disable-host-loopback")
	}
	if n.IPv6 {
		args = append(args, "--enable-ipv6")
	}
	if api != "" {
		args = append(args, "--api-socket", api)
	}
	return append(args, strconv.Itoa(pid), Interface)
}

// addHostForward asks slirp4netns, on its API socket, to forward the host
// port of p to the sandbox.
func addHostForward(api string, p plan.Port) error {
	hostIP := p.HostIP
	if hostIP == "" {
		hostIP = "0.0.0.0"
	}
	req := map[string]any{
		"execute": "add_hostfwd",
		"arguments": map[string]any{
			"proto": p.Proto, "host_addr": hostIP, "host_port": p.HostPort,
			"guest_addr": Address, "guest_port": p.Port,
		},
	}
	conn, err := net.DialTimeout("unix", api, ReadyTimeout)
	if err != nil {
		return fmt.Errorf("reach the API socket of slirp4netns: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ReadyTimeout))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fmt.Errorf("ask slirp4netns: %w", err)
	}
	conn.(*net.UnixConn).CloseWrite()
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return fmt.Errorf("read the answer of slirp4netns: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("slirp4netns: %s", resp.Error.Desc)
	}
	return nil
}

// unprivilegedPortStart reads the lowest port an ordinary user may bind.
func unprivilegedPortStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if n, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil {
		return n
	}
	return 1024
}

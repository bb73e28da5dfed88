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
// ended (it ends at once: the lifeline says so).
const exitWait = 3 * time.Second

// Helper is a sandbox's running network helper, seen from the sbx that
// started it: its process (pasta's keeper, or slirp4netns itself), a
// child of this sbx until sbx exits or hands the sandbox over to the
// monitor, which reaps it.
type Helper struct {
	// Mode is plan.NetPasta or plan.NetSlirp4netns.
	Mode string
	// Pid is the process sbx started.
	Pid int
	// Relay is the keeper that relays slirp4netns's UDP ports, or 0.
	Relay int
}

// Start starts the helper of network n for the sandbox whose pid 1 is
// pid, publishes n's ports and returns once the sandbox's tap0 is up.
// lifeline is the read end of the pipe whose write end the sandbox's pid 1
// holds: the helper ends when the sandbox does, however it ends, sbx or no
// sbx. On error nothing is left running.
func Start(n plan.Network, pid int, lifeline *os.File, udp *Reserved) (*Helper, error) {
	bin, err := Binary(n.Mode)
	if err != nil {
		return nil, err
	}
	// What the helper says on failure goes to a file in memory, read if
	// it fails: a pipe would break (SIGPIPE) once sbx has gone.
	errFD, err := unix.MemfdCreate("sbx-net-stderr", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("--net %s: create the helper's error file: %w", n.Mode, err)
	}
	stderr := os.NewFile(uintptr(errFD), "sbx-net-stderr")
	defer stderr.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()

	// The keeper relays the UDP ports (udprelay.c) in the sandbox's
	// namespaces, which it joins through these.
	var relay []string
	var relayFiles []*os.File
	if udp != nil && len(udp.files) > 0 {
		for _, ns := range []string{"user", "net"} {
			f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			if err != nil {
				return nil, fmt.Errorf("--net %s: open the sandbox's %s namespace: %w", n.Mode, ns, err)
			}
			defer f.Close()
			relayFiles = append(relayFiles, f)
		}
		relay = append(relay, "--ns=5,6")
		for i, f := range udp.files {
			relay = append(relay, fmt.Sprintf("--udp=%d:%d", 7+i, udp.ports[i].Port))
			relayFiles = append(relayFiles, f)
		}
	}
	var h *Helper
	switch n.Mode {
	case plan.NetPasta:
		h, err = startPasta(bin, n, pid, lifeline, null, stderr, relay, relayFiles)
	case plan.NetSlirp4netns:
		h, err = startSlirp4netns(bin, n, pid, lifeline, null, stderr, relay, relayFiles)
	default:
		return nil, fmt.Errorf("--net %s: no helper for this mode", n.Mode)
	}
	if err != nil {
		return nil, fmt.Errorf("--net %s: %w%s", n.Mode, err, helperSaid(stderr))
	}
	return h, nil
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
func Reserve(ports []plan.Port) (*Reserved, error) {
	r := &Reserved{}
	for _, p := range ports {
		addr := net.JoinHostPort(p.HostIP, strconv.Itoa(int(p.HostPort)))
		if p.Proto != "udp" {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				r.Close()
				return nil, portError(p, err)
			}
			l.Close()
			continue
		}
		c, err := net.ListenPacket("udp", addr)
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

// startPasta runs pasta in the foreground under the keeper (see
// nsexec/keeper.c), which ends it when the lifeline closes: pasta has no
// way of its own to learn that a namespace it joined by pid is gone.
// pasta writes its pid to a pipe (-P) once the namespace's network is
// configured: that is the readiness.
func startPasta(bin string, n plan.Network, pid int, lifeline, null, stderr *os.File, relay []string, relayFiles []*os.File) (*Helper, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	argv := append(append([]string{"sbx-netkeep"}, relay...), "--", bin)
	argv = append(argv, pastaArgs(n, pid, "/proc/self/fd/4")...)
	keeper, err := spawnKeeper(argv, append([]*os.File{null, stderr, stderr, lifeline, pw}, relayFiles...))
	pw.Close()
	if err != nil {
		return nil, fmt.Errorf("start the keeper of pasta: %w", err)
	}
	pr.SetReadDeadline(time.Now().Add(ReadyTimeout))
	line, err := bufio.NewReader(pr).ReadString('\n')
	if _, perr := strconv.Atoi(strings.TrimSpace(line)); perr != nil {
		kill(keeper)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("pasta did not set up the network within %v", ReadyTimeout)
		}
		return nil, errors.New("pasta failed")
	}
	return &Helper{Mode: plan.NetPasta, Pid: keeper}, nil
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

// startSlirp4netns runs slirp4netns, which ends by itself once the
// lifeline closes (--exit-fd) and says when tap0 is up (--ready-fd); the
// ports are published through its API socket, which is removed then.
// spawnKeeper starts the keeper (nsexec/keeper.c) with argv and files as
// its descriptors from 0 (the lifeline at 3).
func spawnKeeper(argv []string, files []*os.File) (int, error) {
	return spawn("/proc/self/exe", argv, []string{nsexec.KeeperEnv + "=3"}, files)
}

func startSlirp4netns(bin string, n plan.Network, pid int, lifeline, null, stderr *os.File, relay []string, relayFiles []*os.File) (*Helper, error) {
	rr, rw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	var tcp []plan.Port
	for _, p := range n.Ports {
		if p.Proto == "tcp" {
			tcp = append(tcp, p)
		}
	}
	var apiDir, api string
	if len(tcp) > 0 {
		if apiDir, err = os.MkdirTemp("", "sbx-slirp4netns-"); err != nil {
			rw.Close()
			return nil, fmt.Errorf("create the directory of its API socket: %w", err)
		}
		defer os.RemoveAll(apiDir)
		api = filepath.Join(apiDir, "api.sock")
	}
	argv := append([]string{"slirp4netns"}, slirp4netnsArgs(n, pid, api)...)
	// slirp4netns makes its API socket once it has joined the sandbox's
	// user namespace (--enable-sandbox), as the uid the sandbox's root
	// maps to, which need not be the caller's (--map auto): without
	// umask 0 the caller could not connect to it. The socket's private
	// directory keeps it the caller's alone. umask is the process's: sbx
	// creates no file meanwhile (its other goroutines relay signals).
	old := unix.Umask(0)
	child, err := spawn(bin, argv, os.Environ(), []*os.File{null, stderr, stderr, lifeline, rw})
	unix.Umask(old)
	rw.Close()
	if err != nil {
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	fail := func(err error) (*Helper, error) {
		kill(child)
		return nil, err
	}
	rr.SetReadDeadline(time.Now().Add(ReadyTimeout))
	var b [1]byte
	if _, err := rr.Read(b[:]); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fail(fmt.Errorf("slirp4netns did not set up the network within %v", ReadyTimeout))
		}
		if ws, ok := exited(child); ok {
			return nil, fmt.Errorf("slirp4netns failed (%s)", describe(ws))
		}
		return fail(errors.New("slirp4netns failed"))
	}
	for _, p := range tcp {
		if err := addHostForward(api, p); err != nil {
			return fail(fmt.Errorf("-p %s: %w", p, err))
		}
	}
	h := &Helper{Mode: plan.NetSlirp4netns, Pid: child}
	if len(relay) > 0 {
		// The UDP ports: a keeper of its own, without a helper to run.
		// slirp4netns drops the answers to a client on the host's
		// loopback (podman#4586).
		argv := append([]string{"sbx-netkeep"}, relay...)
		keeper, err := spawnKeeper(argv, append([]*os.File{null, stderr, stderr, lifeline, null}, relayFiles...))
		if err != nil {
			return fail(fmt.Errorf("start the UDP relay: %w", err))
		}
		h.Relay = keeper
	}
	return h, nil
}

// slirp4netnsArgs is slirp4netns's command line for network n of pid 1
// pid, with its API socket at api ("": none), the lifeline at 3 and the
// ready pipe at 4.
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

// Wait reaps the helper once its sandbox has ended, waiting a few seconds
// at most: a published port is free again when sbx exits. The helper ends
// as soon as the lifeline closes, which it has (pid 1 is gone).
func (h *Helper) Wait() {
	if h == nil {
		return
	}
	deadline := time.Now().Add(exitWait)
	for _, pid := range []int{h.Pid, h.Relay} {
		if pid == 0 {
			continue
		}
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				left := time.Until(deadline)
				if left < 0 {
					left = 0
				}
				if _, err := unix.Poll(fds, int(left/time.Millisecond)); err != unix.EINTR {
					break
				}
			}
			unix.Close(fd)
		}
		exited(pid)
	}
}

// unprivilegedPortStart reads the lowest port an ordinary user may bind.
func unprivilegedPortStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if n, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil {
		return n
	}
	return 1024
}

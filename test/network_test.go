package test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Tests of sbx run's networking: --net none|host|pasta|slirp4netns|user|
// sandbox:NAME and the options of the user-mode networks, -p/--publish,
// --dns, --add-host, and the life of the network helper.
//
// They run the real helpers, Debian's pasta (package passt) and slirp4netns,
// which `sudo make test` installs (with /dev/net/tun usable by the test
// user), and send traffic only to the host's loopback addresses and inside
// the sandboxes' own network namespaces. Never to the user-mode gateway
// 10.0.2.2 through pasta without allow_host_loopback: pasta would hand that
// to the host's routing; slirp4netns drops it itself, so the refusal is
// tested there. The DNS forwarder's test needs the DNS stub that
// scripts/test.sh runs on a loopback address, named by the tests'
// /etc/resolv.conf (SBX_TEST_DNS).
//
// The tests that look for the helper's processes find those of one
// sandbox by its pid (see sandboxNet); TestNetBadInput, whose sandboxes
// never start, does not run in parallel and looks at every new process of
// the test user that is sbx's or a helper.

// The addresses of a user-mode network, inside the sandbox.
const (
	sandboxAddr   = "10.0.2.100"
	gatewayAddr   = "10.0.2.2"
	forwarderAddr = "10.0.2.3"
)

// dnsEnv names the DNS stub's address (see scripts/lib.sh, start_dns_stub).
const dnsEnv = "SBX_TEST_DNS"

// netHelper is a user-mode network helper.
type netHelper struct {
	mode   string // the --net mode that runs it
	binary string // its program
	pkg    string // the Debian package that has it
}

var netHelpers = []netHelper{
	{"pasta", "pasta", "passt"},
	{"slirp4netns", "slirp4netns", "slirp4netns"},
}

// require fails the test, naming the fix, unless the helper is installed.
func (h netHelper) require(t *testing.T) {
	t.Helper()
	requireTool(t, h.binary, "sudo apt-get install "+h.pkg)
}

func init() {
	tools["udp-echo"] = udpEchoTool
	tools["tcp-line"] = tcpLineTool
}

// tcpLineTool (tcp-line HOST:PORT) connects to HOST:PORT, prints the first
// line the server sends and exits 0, all within 5 s; on a failure it prints
// "error: ..." and exits 1. It does not wait for the server to close: the
// pasta of Debian 12 (passt 0.0~git20230309) now and then loses the FIN of
// a connection that the host's side closes as the guest's side does (a
// busybox nc </dev/null then hangs).
func tcpLineTool(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: tcp-line HOST:PORT")
		return 2
	}
	c, err := net.DialTimeout("tcp4", args[0], 5*time.Second)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Printf("error: %v (read %q)\n", err, line)
		return 1
	}
	fmt.Print(line)
	return 0
}

// udpEchoTool (udp-echo PORT) answers every datagram on PORT with "echo "
// and the datagram, and prints "got DATA" for it (and on stderr whom it
// came from); it prints "ready" once bound, and ends after a minute.
func udpEchoTool(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: udp-echo PORT")
		return 2
	}
	c, err := net.ListenPacket("udp4", ":"+args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	c.SetDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("got %s\n", buf[:n])
		fmt.Fprintf(os.Stderr, "from %s\n", from)
		if _, err := c.WriteTo(append([]byte("echo "), buf[:n]...), from); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// stop sends SIGTERM to sbx, if it still runs.
func (p *process) stop() { p.cmd.Process.Signal(syscall.SIGTERM) }

// end stops sbx with SIGTERM and waits for it; if it does not end in time
// it fails the test, showing the test user's processes.
func (p *process) end(t *testing.T) result {
	t.Helper()
	p.stop()
	select {
	case <-p.done:
	case <-time.After(scaled(defaultTimeout)):
		var procs []string
		for _, u := range newProcesses(nil, userProcesses(t)) {
			procs = append(procs, u.String())
		}
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("sbx did not end within %v of a SIGTERM; the test user's processes then:\n\t%s\n%s",
			scaled(defaultTimeout), strings.Join(procs, "\n\t"), p.result(t))
	}
	return p.wait(t)
}

// scaled stretches d on a slow machine (see timeScale).
func scaled(d time.Duration) time.Duration { return d * time.Duration(timeScale()) }

// waitUntil polls cond until it holds or timeout (scaled) passes, and
// reports whether it held.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(scaled(timeout))
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// netDevNames returns the interface names of a /proc/net/dev, sorted.
func netDevNames(s string) []string {
	var names []string
	for _, l := range lines(s) {
		name, _, ok := strings.Cut(l, ":")
		if !ok || strings.Contains(name, "|") {
			continue
		}
		names = append(names, strings.TrimSpace(name))
	}
	slices.Sort(names)
	return names
}

// freePort returns a port of 127.0.0.1 that nothing uses now, for network
// "tcp4" or "udp4".
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "tcp4":
		l, err := net.Listen(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	default:
		c, err := net.ListenPacket(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
}

// hostPortBound reports whether a socket of the host's network namespace
// (the test's) listens on TCP port, or is bound to UDP port, on any
// address, as /proc/net/{tcp,tcp6,udp,udp6} show.
func hostPortBound(t *testing.T, proto string, port int) bool {
	t.Helper()
	want := fmt.Sprintf(":%04X", port)
	for _, f := range []string{proto, proto + "6"} {
		b, err := os.ReadFile(filepath.Join("/proc/net", f))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && f == proto+"6" {
				continue // no IPv6
			}
			t.Fatal(err)
		}
		for _, l := range lines(string(b))[1:] {
			fields := strings.Fields(l)
			if len(fields) < 4 || !strings.HasSuffix(fields[1], want) {
				continue
			}
			if proto == "udp" || fields[3] == "0A" { // TCP_LISTEN
				return true
			}
		}
	}
	return false
}

// bannerServer is a TCP server on the host's 127.0.0.1 that writes its
// banner line to every connection and closes it, counting them.
type bannerServer struct {
	port   int
	banner string
	conns  atomic.Int32
}

func newBannerServer(t *testing.T) *bannerServer {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &bannerServer{port: l.Addr().(*net.TCPAddr).Port, banner: "banner-" + token()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			c.Write([]byte(s.banner + "\n"))
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return s
}

// httpGet GETs url from the host until it answers 200 OK, for up to
// pollTimeout (a forwarded port may take connections before the server
// inside listens) or until done is closed (the sandbox ended), and returns
// the body, or the last error.
func httpGet(url string, done <-chan struct{}) (string, error) {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	var last error
	deadline := time.Now().Add(scaled(pollTimeout))
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body), nil
			}
			err = fmt.Errorf("%s, body %q (%v)", resp.Status, body, rerr)
		}
		last = err
		select {
		case <-done:
			return "", fmt.Errorf("the sandbox ended: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("no answer within %v: %w", scaled(pollTimeout), last)
}

// udpExchange sends msg from the host to 127.0.0.1:port over UDP, from a
// socket of its own, until the server inside reports it on p's stdout
// ("got MSG", see udpEchoTool), then until an answer comes back, each for
// up to pollTimeout. It fails the test if the datagram does not get in,
// and returns the answer and whom it came from, or an error.
func udpExchange(t *testing.T, p *process, port int, msg string) (string, net.Addr, error) {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	var sendErr error
	in := false
	for deadline := time.Now().Add(scaled(pollTimeout)); !in && time.Now().Before(deadline); {
		if _, sendErr = c.WriteTo([]byte(msg), to); sendErr != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		timeout := time.After(300 * time.Millisecond)
	wait:
		for {
			select {
			case l := <-p.stdout.lines:
				if l == "got "+msg {
					in = true
					break wait
				}
			case <-p.done:
				t.Fatalf("sbx ended before the datagram got in:\n%s", p.result(t))
			case <-timeout:
				break wait
			}
		}
	}
	if !in {
		p.stop()
		t.Fatalf("a datagram sent to the host's 127.0.0.1:%d/udp did not reach the server inside within %v (last send: %v):\n%s",
			port, scaled(pollTimeout), sendErr, p.wait(t))
	}
	var last error
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(scaled(pollTimeout)); time.Now().Before(deadline); {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, from, err := c.ReadFrom(buf)
		if err == nil {
			return string(buf[:n]), from, nil
		}
		last = err
		c.WriteTo([]byte(msg), to) // the answer may have been lost: again
	}
	return "", nil, fmt.Errorf("no answer within %v: %w", scaled(pollTimeout), last)
}

// to127 is 127.0.0.1:port.
func to127(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// userProc is a process of the test user.
type userProc struct {
	pid     int
	ppid    string
	state   string
	comm    string
	cmdline string
	argv    []string
}

func (p userProc) String() string {
	wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", p.pid))
	return fmt.Sprintf("pid %d (ppid %s, %s, in %s) %s (%q)", p.pid, p.ppid, p.state, wchan, p.comm, p.cmdline)
}

// helperKind tells which helper p is: "pasta" (pasta or passt, or their
// .avx2 builds), "slirp4netns", or "".
func (p userProc) helperKind() string {
	switch {
	case strings.HasPrefix(p.comm, "pasta"), strings.HasPrefix(p.comm, "passt"):
		return "pasta"
	case p.comm == "slirp4netns":
		return "slirp4netns"
	}
	return ""
}

// userProcesses returns the live processes (zombies left out) whose real
// uid is the test's, but the test itself, by pid and start time.
func userProcesses(t *testing.T) map[string]userProc {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	uid := strconv.Itoa(os.Getuid())
	self := os.Getpid()
	procs := map[string]userProc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		status, err1 := os.ReadFile(filepath.Join(dir, "status"))
		stat, err2 := os.ReadFile(filepath.Join(dir, "stat"))
		cmdline, err3 := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err1 != nil || err2 != nil || err3 != nil {
			continue // gone meanwhile
		}
		var realUID string
		for _, l := range lines(string(status)) {
			if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					realUID = f[0]
				}
			}
		}
		// pid (comm) state ppid ... starttime (field 22).
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if realUID != uid || open < 0 || closing < open {
			continue
		}
		after := strings.Fields(s[closing+1:])
		if len(after) < 20 || after[0] == "Z" || after[0] == "X" {
			continue
		}
		p := userProc{pid: pid, ppid: after[1], state: after[0], comm: s[open+1 : closing],
			cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")),
			argv:    strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")}
		procs[e.Name()+"@"+after[19]] = p
	}
	return procs
}

// newProcesses returns the processes of now that are not in before.
func newProcesses(before, now map[string]userProc) []userProc {
	var procs []userProc
	for k, p := range now {
		if _, ok := before[k]; !ok {
			procs = append(procs, p)
		}
	}
	slices.SortFunc(procs, func(a, b userProc) int { return a.pid - b.pid })
	return procs
}

// netRelated tells whether p is sbx's (sbx run, its init, the helper's
// keeper) or a helper's.
func (p userProc) netRelated() bool {
	return p.helperKind() != "" || strings.HasPrefix(p.comm, "sbx")
}

// expectNothingLeft waits (up to pollTimeout) until no process of sbx or of
// a helper (see netRelated) that was not in before runs, and fails the test
// otherwise, killing them. For the tests that do not run in parallel.
func expectNothingLeft(t *testing.T, before map[string]userProc, what string) {
	t.Helper()
	var left []userProc
	if !waitUntil(pollTimeout, func() bool {
		left = slices.DeleteFunc(newProcesses(before, userProcesses(t)), func(p userProc) bool { return !p.netRelated() })
		return len(left) == 0
	}) {
		t.Errorf("%s: processes of sbx or of a network helper are left: %v", what, left)
		for _, p := range left {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
}

// sandboxNet is what runs for the network of one sandbox, outside it.
type sandboxNet struct {
	name  string
	pids  []string            // the sandbox's init and its descendants
	procs map[string]userProc // the processes that name one of them
}

// netProcesses finds, while the sandbox name runs, the processes of the
// test user whose command line names the host pid of its init (from sbx
// state) or of one of its descendants as an argument: pasta and
// slirp4netns take that pid, and sbx's keeper of a helper has the
// helper's command line.
func (h *stateHome) netProcesses(t *testing.T, name string) *sandboxNet {
	t.Helper()
	st := h.waitStatus(t, name, "running")
	n := &sandboxNet{name: name, pids: descendants(t, st.Pid)}
	n.procs = n.find(t)
	return n
}

// descendants returns pid and the pids of its descendants, as strings.
func descendants(t *testing.T, pid int) []string {
	t.Helper()
	children := map[string][]string{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 {
				children[f[1]] = append(children[f[1]], e.Name())
			}
		}
	}
	pids := []string{strconv.Itoa(pid)}
	for i := 0; i < len(pids); i++ {
		pids = append(pids, children[pids[i]]...)
	}
	return pids
}

// find returns the live processes that name one of n.pids.
func (n *sandboxNet) find(t *testing.T) map[string]userProc {
	t.Helper()
	found := map[string]userProc{}
	for k, p := range userProcesses(t) {
		for _, a := range p.argv[min(1, len(p.argv)):] {
			if slices.Contains(n.pids, a) || slices.ContainsFunc(n.pids, func(pid string) bool {
				return strings.HasPrefix(a, "/proc/"+pid+"/")
			}) {
				found[k] = p
				break
			}
		}
	}
	return found
}

// helpers returns the kinds of the helpers among n.procs.
func (n *sandboxNet) helpers() []string {
	var kinds []string
	for _, p := range n.procs {
		if k := p.helperKind(); k != "" {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// expectGone waits (up to pollTimeout) until none of n.procs runs, nor any
// other process naming n.pids, and fails the test otherwise, killing them.
func (n *sandboxNet) expectGone(t *testing.T, what string) {
	t.Helper()
	var left []userProc
	if !waitUntil(pollTimeout, func() bool {
		now := userProcesses(t)
		left = left[:0]
		for k, p := range n.find(t) {
			if _, ok := n.procs[k]; !ok {
				left = append(left, p)
			}
		}
		for k, p := range n.procs {
			if _, ok := now[k]; ok {
				left = append(left, p)
			}
		}
		return len(left) == 0
	}) {
		t.Errorf("%s: the network of %s outlived it: %v", what, n.name, left)
		for _, p := range left {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
}

// expectPortFreed waits (up to pollTimeout) until nothing of the host
// listens on proto port, and fails the test otherwise.
func expectPortFreed(t *testing.T, proto string, port int, what string) {
	t.Helper()
	if !waitUntil(pollTimeout, func() bool { return !hostPortBound(t, proto, port) }) {
		t.Errorf("%s: the host's %s port %d is still bound", what, proto, port)
	}
}

// TestNetNone checks that a sandbox without --net, or with --net none, has
// only lo, and lo works.
func TestNetNone(t *testing.T) {
	t.Parallel()
	for _, flags := range [][]string{nil, {"--net", "none"}} {
		args := append(append([]string{"run"}, flags...), "--", "sh", "-c", `cat /proc/net/dev; echo ---
busybox nc -l -p 7777 -e echo pong &
for i in $(seq 100); do out=$(busybox nc 127.0.0.1 7777 </dev/null 2>/dev/null) && [ -n "$out" ] && break; sleep 0.05; done
echo "$out"`)
		r := sbx(t, args...)
		r.expect(t, 0)
		parts := sections(t, r, 2)
		if names := netDevNames(parts[0]); !slices.Equal(names, []string{"lo"}) {
			t.Errorf("sbx run %v: want only lo, got %v:\n%s", flags, names, r)
		}
		if parts[1] != "pong\n" {
			t.Errorf("sbx run %v: a connection over lo inside did not work:\n%s", flags, r)
		}
	}
}

// TestNetHost checks --net host: the sandbox is in the host's network
// namespace, sees its interfaces, reaches its loopback services, and has
// its /etc/resolv.conf and /etc/hosts.
func TestNetHost(t *testing.T) {
	t.Parallel()
	srv := newBannerServer(t)
	r := sbx(t, "run", "--net", "host", "--", "sh", "-c", `readlink /proc/self/ns/net; echo ---
cat /proc/net/dev; echo ---
busybox nc 127.0.0.1 "$1" </dev/null; echo ---
cat /etc/resolv.conf; echo ---
cat /etc/hosts`, "sh", strconv.Itoa(srv.port))
	r.expect(t, 0)
	parts := sections(t, r, 5)

	if self, err := os.Readlink("/proc/self/ns/net"); err != nil {
		t.Fatal(err)
	} else if strings.TrimSpace(parts[0]) != self {
		t.Errorf("want the host's network namespace %s inside, got %q", self, parts[0])
	}
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var host []string
	for _, e := range entries {
		host = append(host, e.Name())
	}
	slices.Sort(host)
	if inside := netDevNames(parts[1]); !slices.Equal(inside, host) {
		t.Errorf("want the host's interfaces %v inside, got %v", host, inside)
	}
	if parts[2] != srv.banner+"\n" {
		t.Errorf("the host's 127.0.0.1:%d was not reached from inside: want %q, got %q", srv.port, srv.banner, parts[2])
	}
	for i, f := range map[int]string{3: "/etc/resolv.conf", 4: "/etc/hosts"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if parts[i] != string(b) {
			t.Errorf("want the host's %s inside:\n%s\ngot:\n%s", f, indent(string(b)), indent(parts[i]))
		}
	}
}

// TestNetUserSetup checks the interface of each user-mode network:
// tap0 with 10.0.2.100/24, the default route through 10.0.2.2, the mtu
// option, no global IPv6 address by default.
func TestNetUserSetup(t *testing.T) {
	t.Parallel()
	script := `cat /proc/net/dev; echo ---
busybox ip -o -4 addr show dev tap0; echo ---
busybox ip route show default; echo ---
cat /sys/class/net/tap0/mtu 2>/dev/null || busybox ip -o link show dev tap0; echo ---
cat /proc/net/if_inet6 2>/dev/null`
	for _, tc := range []struct {
		name, net string
		helper    netHelper
		mtu       string // "" if not set
	}{
		{"pasta", "pasta", netHelpers[0], ""},
		{"slirp4netns", "slirp4netns", netHelpers[1], ""},
		{"user", "user", netHelpers[0], ""},
		{"pasta-mtu", "pasta:mtu=1400", netHelpers[0], "1400"},
		{"slirp4netns-mtu", "slirp4netns:mtu=1400,enable_ipv6=false", netHelpers[1], "1400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.helper.require(t)
			r := sbx(t, "run", "--net", tc.net, "--", "sh", "-c", script)
			r.expect(t, 0)
			parts := sections(t, r, 5)
			if names := netDevNames(parts[0]); !slices.Equal(names, []string{"lo", "tap0"}) {
				t.Errorf("want the interfaces lo and tap0, got %v:\n%s", names, r)
			}
			if !strings.Contains(parts[1], " "+sandboxAddr+"/24 ") {
				t.Errorf("want tap0 to have %s/24:\n%s", sandboxAddr, r)
			}
			if !strings.HasPrefix(parts[2], "default via "+gatewayAddr+" ") || !strings.Contains(parts[2], "tap0") {
				t.Errorf("want the default route via %s on tap0:\n%s", gatewayAddr, r)
			}
			if tc.mtu != "" && strings.TrimSpace(parts[3]) != tc.mtu && !strings.Contains(parts[3], " mtu "+tc.mtu+" ") {
				t.Errorf("want the mtu of tap0 to be %s:\n%s", tc.mtu, r)
			}
			// address ifindex prefixlen scope flags name; scope 00 is global.
			for _, l := range lines(parts[4]) {
				if f := strings.Fields(l); len(f) == 6 && f[5] == "tap0" && f[3] == "00" {
					t.Errorf("tap0 has a global IPv6 address without enable_ipv6=true: %s\n%s", l, r)
				}
			}
		})
	}
	// enable_ipv6=true is accepted.
	for _, h := range netHelpers {
		t.Run(h.mode+"-ipv6", func(t *testing.T) {
			t.Parallel()
			h.require(t)
			sbx(t, "run", "--net", h.mode+":enable_ipv6=true", "--", "true").ok(t)
		})
	}
}

// TestNetHostLoopback checks allow_host_loopback: with it, 10.0.2.2:PORT
// inside reaches the host's 127.0.0.1:PORT; without it (the default),
// nothing inside reaches the host's loopback services: not the sandbox's
// own 127.0.0.1:PORT (pasta must not forward the host's bound ports into
// the namespace), nor, with slirp4netns, 10.0.2.2:PORT.
func TestNetHostLoopback(t *testing.T) {
	t.Parallel()
	for _, h := range netHelpers {
		t.Run(h.mode+"/allowed", func(t *testing.T) {
			t.Parallel()
			h.require(t)
			srv := newBannerServer(t)
			addr := net.JoinHostPort(gatewayAddr, strconv.Itoa(srv.port))
			r := sbx(t, append([]string{"run", "--net", h.mode + ":allow_host_loopback=true"}, toolArgs(t, "tcp-line", addr)...)...)
			if r.code != 0 || r.stdout != srv.banner+"\n" {
				t.Errorf("want %s:%d inside to reach the host's 127.0.0.1:%d (banner %q):\n%s",
					gatewayAddr, srv.port, srv.port, srv.banner, r)
			}
			if n := srv.conns.Load(); n != 1 {
				t.Errorf("want 1 connection on the host's 127.0.0.1:%d, got %d", srv.port, n)
			}
		})
		for _, opts := range []string{"", ":allow_host_loopback=false"} {
			name := h.mode + "/default"
			if opts != "" {
				name = h.mode + "/false"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h.require(t)
				srv := newBannerServer(t)
				port := strconv.Itoa(srv.port)
				self, err := os.Executable()
				if err != nil {
					t.Fatal(err)
				}
				targets := []string{"127.0.0.1"}
				if h.mode == "slirp4netns" {
					targets = append(targets, gatewayAddr) // pasta would send this one to the host's routing
				}
				script := `for a in ` + strings.Join(targets, " ") + `; do "$1" "$a:$2" && echo "$a reached"; done; true`
				r := sbx(t, "run", "--net", h.mode+opts, "--env", toolEnv+"=tcp-line", "--", "sh", "-c", script, "sh", self, port)
				r.expect(t, 0)
				if strings.Contains(r.stdout, "reached") || strings.Contains(r.stdout, srv.banner) {
					t.Errorf("the host's 127.0.0.1:%s was reached from inside without allow_host_loopback:\n%s", port, r)
				}
				if n := strings.Count(r.stdout, "error: "); n != len(targets) {
					t.Errorf("want %d refused connections (%v), got:\n%s", len(targets), targets, r)
				}
				if n := srv.conns.Load(); n != 0 {
					t.Errorf("the host's 127.0.0.1:%s had %d connections from a sandbox without allow_host_loopback:\n%s", port, n, r)
				}
			})
		}
	}
}

// TestNetPublish checks -p: a TCP server (busybox httpd) and a UDP one
// (the toolbox's udp-echo) on the sandbox's port 80, reached from the host
// through the published port, with each helper and with -p alone (--net
// user), in each form of -p.
func TestNetPublish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		net    []string
		helper netHelper
		form   func(port int) string // the -p argument for host port port
	}{
		{"pasta", []string{"--net", "pasta"}, netHelpers[0], func(p int) string { return fmt.Sprintf("127.0.0.1:%d:80", p) }},
		{"slirp4netns", []string{"--net", "slirp4netns"}, netHelpers[1], func(p int) string { return fmt.Sprintf("127.0.0.1:%d:80", p) }},
		{"implied-user", nil, netHelpers[0], func(p int) string { return fmt.Sprintf("127.0.0.1:%d:80", p) }},
		{"pasta-any-address", []string{"--net", "pasta"}, netHelpers[0], func(p int) string { return fmt.Sprintf("%d:80", p) }},
		{"slirp4netns-any-address", []string{"--net", "slirp4netns"}, netHelpers[1], func(p int) string { return fmt.Sprintf("%d:80", p) }},
	} {
		t.Run(tc.name+"/tcp", func(t *testing.T) {
			t.Parallel()
			tc.helper.require(t)
			port := freePort(t, "tcp4")
			dir := testDir(t)
			tok := token()
			writeFile(t, filepath.Join(dir, "index.html"), tok+"\n", 0o644)
			for _, suffix := range []string{"", "/tcp"} {
				args := append(append([]string{"run"}, tc.net...), "-p", tc.form(port)+suffix, "--",
					"sh", "-c", `cat /proc/net/dev; exec busybox httpd -f -p 80 -h "$1"`, "sh", dir)
				p := start(t, args...)
				body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port), p.done)
				r := p.end(t)
				if err != nil || body != tok+"\n" {
					t.Fatalf("-p %s%s: GET from the host: want %q, got %q (%v):\n%s", tc.form(port), suffix, tok, body, err, r)
				}
				if names := netDevNames(r.stdout); !slices.Equal(names, []string{"lo", "tap0"}) {
					t.Errorf("want lo and tap0 inside, got %v:\n%s", names, r)
				}
				expectPortFreed(t, "tcp", port, "after the sandbox ended")
			}
		})
		t.Run(tc.name+"/udp", func(t *testing.T) {
			t.Parallel()
			tc.helper.require(t)
			port := freePort(t, "udp4")
			args := append(append([]string{"run"}, tc.net...), "-p", tc.form(port)+"/udp")
			p := start(t, append(args, toolArgs(t, "udp-echo", "80")...)...)
			p.waitLine(t, "ready")
			msg := "ping-" + token()
			got, from, err := udpExchange(t, p, port, msg)
			r := p.end(t)
			switch {
			case err != nil || got != "echo "+msg:
				t.Errorf("-p %s/udp: the datagram got in, but the server's answer did not come back: want %q, got %q (%v):\n%s",
					tc.form(port), "echo "+msg, got, err, r)
			case from.String() != to127(port):
				t.Errorf("-p %s/udp: the answer came from %s, want %s (where the host's client sent to)", tc.form(port), from, to127(port))
			}
			expectPortFreed(t, "udp", port, "after the sandbox ended")
		})
	}
}

// TestNetPublishDetached is the feature's acceptance line: a detached web
// server published on the host's loopback serves the host, and sbx rm -f
// leaves nothing listening and no helper running.
func TestNetPublishDetached(t *testing.T) {
	t.Parallel()
	netHelpers[0].require(t)
	h := newStateHome(t)
	port := freePort(t, "tcp4")
	tok := token()
	writeFile(t, filepath.Join(h.dir, "index.html"), tok+"\n", 0o644)
	// sbx run --net user -p 127.0.0.1:PORT:80 -d --name web -- busybox httpd -f -p 80
	h.detach(t, "web", "--net", "user", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "--", "busybox", "httpd", "-f", "-p", "80")
	n := h.netProcesses(t, "web")
	body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	if err != nil || body != tok+"\n" {
		t.Errorf("GET http://127.0.0.1:%d/: want %q, got %q (%v)", port, tok, body, err)
	}
	if kinds := n.helpers(); !slices.Equal(kinds, []string{"pasta"}) {
		t.Errorf("want --net user to run one pasta (installed), found %v: %v", kinds, n.procs)
	}
	h.sbx(t, "rm", "-f", "web").ok(t)
	expectPortFreed(t, "tcp", port, "after sbx rm -f web")
	n.expectGone(t, "after sbx rm -f web")
}

// TestNetHelperEnds checks that the helper (and whatever keeps it) lives
// exactly as long as its sandbox, however that ends: its command exits,
// sbx kill NAME KILL of a detached one, sbx rm -f, or SIGKILL of an
// attached sbx run (the sandbox dies of its parent-death signal).
func TestNetHelperEnds(t *testing.T) {
	t.Parallel()
	for _, m := range []struct {
		mode   string
		helper netHelper // what it must run
	}{
		{"pasta", netHelpers[0]},
		{"slirp4netns", netHelpers[1]},
		{"user", netHelpers[0]}, // pasta is installed
	} {
		// running checks, while the sandbox runs, that the host port is
		// bound and exactly one helper of the right kind runs for it.
		running := func(t *testing.T, h *stateHome, name string, port int) *sandboxNet {
			t.Helper()
			n := h.netProcesses(t, name)
			if !waitUntil(pollTimeout, func() bool { return hostPortBound(t, "tcp", port) }) {
				t.Errorf("the published port %d is not listening on the host", port)
			}
			if kinds := n.helpers(); !slices.Equal(kinds, []string{m.helper.binary}) {
				t.Errorf("--net %s: want one %s running for the sandbox, found %v: %v", m.mode, m.helper.binary, kinds, n.procs)
			}
			return n
		}
		publish := func(port int) []string {
			return []string{"--net", m.mode, "-p", fmt.Sprintf("127.0.0.1:%d:80", port)}
		}

		t.Run(m.mode+"/exits", func(t *testing.T) {
			t.Parallel()
			m.helper.require(t)
			h := newStateHome(t)
			port := freePort(t, "tcp4")
			name := sandboxName("netexits")
			stop := filepath.Join(h.dir, "stop")
			p := h.start(t, append(append([]string{"run", "--name", name}, publish(port)...), "--", "sh", "-c",
				`echo ready; while [ ! -e "$1" ]; do sleep 0.02; done; cat /proc/net/dev; exit 7`, "sh", stop)...)
			p.waitLine(t, "ready")
			n := running(t, h, name, port)
			writeFile(t, stop, "", 0o644)
			r := p.wait(t)
			r.expect(t, 7)
			if names := netDevNames(r.stdout); !slices.Contains(names, "tap0") {
				t.Errorf("want tap0 inside:\n%s", r)
			}
			expectPortFreed(t, "tcp", port, "after the command exited")
			n.expectGone(t, "after the command exited")
		})
		t.Run(m.mode+"/kill", func(t *testing.T) {
			t.Parallel()
			m.helper.require(t)
			h := newStateHome(t)
			port := freePort(t, "tcp4")
			name := h.detach(t, sandboxName("netkill"), append(publish(port), "--", "sleep", token())...)
			n := running(t, h, name, port)
			h.sbx(t, "kill", name, "KILL").ok(t)
			h.waitStatus(t, name, "exited")
			expectPortFreed(t, "tcp", port, "after sbx kill "+name+" KILL")
			n.expectGone(t, "after sbx kill "+name+" KILL")
		})
		t.Run(m.mode+"/rm-f", func(t *testing.T) {
			t.Parallel()
			m.helper.require(t)
			h := newStateHome(t)
			port := freePort(t, "tcp4")
			name := h.detach(t, sandboxName("netrm"), append(publish(port), "--", "sleep", token())...)
			n := running(t, h, name, port)
			h.sbx(t, "rm", "-f", name).ok(t)
			expectPortFreed(t, "tcp", port, "after sbx rm -f "+name)
			n.expectGone(t, "after sbx rm -f "+name)
		})
		t.Run(m.mode+"/sigkill", func(t *testing.T) {
			t.Parallel()
			m.helper.require(t)
			h := newStateHome(t)
			port := freePort(t, "tcp4")
			name := sandboxName("netsigkill")
			p := h.start(t, append(append([]string{"run", "--name", name}, publish(port)...), "--", "sh", "-c", `echo ready; exec sleep "$1"`, "sh", token())...)
			p.waitLine(t, "ready")
			n := running(t, h, name, port)
			p.signal(t, syscall.SIGKILL)
			if r := p.wait(t); r.code != exitSignaled || r.signal != syscall.SIGKILL {
				t.Errorf("sbx was not killed by SIGKILL:\n%s", r)
			}
			expectPortFreed(t, "tcp", port, "after SIGKILL of sbx run")
			n.expectGone(t, "after SIGKILL of sbx run")
		})
	}
}

// TestNetJoinSandbox checks --net sandbox:NAME: a second sandbox in the
// network namespace of a running one reaches its server on 127.0.0.1,
// with a sandbox in --net none and in a user-mode network.
func TestNetJoinSandbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		net    string
		helper *netHelper
		ifaces []string
	}{
		{"none", "none", nil, []string{"lo"}},
		{"slirp4netns", "slirp4netns", &netHelpers[1], []string{"lo", "tap0"}},
		{"pasta", "pasta", &netHelpers[0], []string{"lo", "tap0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.helper != nil {
				tc.helper.require(t)
			}
			h := newStateHome(t)
			tok := token()
			writeFile(t, filepath.Join(h.dir, "file.txt"), tok+"\n", 0o644)
			a := h.detach(t, sandboxName("neta"), "--net", tc.net, "--", "busybox", "httpd", "-f", "-p", "127.0.0.1:8080", "-h", h.dir)
			aNet := strings.TrimSpace(h.waitExecOK(t, a, "readlink", "/proc/self/ns/net"))

			var r result
			if !waitUntil(pollTimeout, func() bool {
				r = h.sbx(t, "run", "--net", "sandbox:"+a, "--", "busybox", "wget", "-q", "-Y", "off", "-O", "-", "http://127.0.0.1:8080/file.txt")
				return r.code == 0
			}) || r.stdout != tok+"\n" {
				t.Fatalf("want the sandbox joining %s to get %q from its 127.0.0.1:8080:\n%s", a, tok, r)
			}
			r = h.sbx(t, "run", "--net", "sandbox:"+a, "--", "sh", "-c", "readlink /proc/self/ns/net; echo ---; cat /proc/net/dev")
			r.expect(t, 0)
			parts := sections(t, r, 2)
			if strings.TrimSpace(parts[0]) != aNet {
				t.Errorf("want the network namespace of %s (%s), got %q", a, aNet, parts[0])
			}
			if names := netDevNames(parts[1]); !slices.Equal(names, tc.ifaces) {
				t.Errorf("want the interfaces %v of %s, got %v", tc.ifaces, a, names)
			}
		})
	}
}

// TestNetExec checks that sbx exec runs in the sandbox's network namespace.
func TestNetExec(t *testing.T) {
	t.Parallel()
	for _, helper := range netHelpers {
		t.Run(helper.mode, func(t *testing.T) {
			t.Parallel()
			helper.require(t)
			h := newStateHome(t)
			file := filepath.Join(h.dir, "netns")
			name := h.detach(t, sandboxName("netexec"), "--net", helper.mode, "--",
				"sh", "-c", `readlink /proc/self/ns/net >"$1"; exec sleep "$2"`, "sh", file, token())
			out := h.waitExecOK(t, name, "sh", "-c", `test -s "$1" && cat "$1" && readlink /proc/self/ns/net && echo --- && cat /proc/net/dev`, "sh", file)
			parts := strings.Split(out, "---\n")
			if len(parts) != 2 {
				t.Fatalf("unexpected output of sbx exec:\n%s", indent(out))
			}
			if l := lines(parts[0]); len(l) != 2 || l[0] != l[1] {
				t.Errorf("want sbx exec in the network namespace of the sandbox's command, got %q", l)
			}
			if names := netDevNames(parts[1]); !slices.Equal(names, []string{"lo", "tap0"}) {
				t.Errorf("want sbx exec to see lo and tap0, got %v", names)
			}
		})
	}
}

// TestNetDNS checks the DNS forwarder 10.0.2.3 of each user-mode network
// and the sandbox's /etc/resolv.conf: queries inside, sent to 10.0.2.3
// directly and through the resolver of /etc/resolv.conf (busybox's and the
// C library's), are answered by the DNS stub on the host's loopback,
// NXDOMAIN included.
func TestNetDNS(t *testing.T) {
	t.Parallel()
	stub := os.Getenv(dnsEnv)
	if stub == "" {
		t.Fatalf("%s is not set: this test needs the DNS stub that `sudo make test` (scripts/test.sh) runs "+
			"on 127.0.0.153:53, and a private /etc/resolv.conf naming it", dnsEnv)
	}
	// The stub is there, and the helpers' upstream (the first nameserver
	// of /etc/resolv.conf) is it.
	if ns := resolvNameservers(t, readFile(t, "/etc/resolv.conf")); len(ns) == 0 || ns[0] != stub {
		t.Fatalf("the first nameserver of /etc/resolv.conf is %v, want the DNS stub %s (%s): run the tests with `sudo make test`", ns, stub, dnsEnv)
	}
	if out, err := exec.Command("busybox", "nslookup", "ip-127-0-0-1.sbx.test", stub).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "Address: 127.0.0.1") {
		t.Fatalf("the DNS stub on %s does not answer (%v):\n%s", stub, err, indent(string(out)))
	}

	for _, helper := range netHelpers {
		t.Run(helper.mode, func(t *testing.T) {
			t.Parallel()
			helper.require(t)
			a, b, c := rand8(), rand8(), rand8()
			direct := fmt.Sprintf("ip-127-%d-%d-%d.sbx.test", a, b, c)
			viaConf := fmt.Sprintf("ip-127-%d-%d-%d.sbx.test", c, b, a)
			viaLibc := fmt.Sprintf("ip-127-%d-%d-%d.sbx.test", b, a, c)
			missing := "nx-" + token() + ".sbx.test"
			r := sbx(t, "run", "--net", helper.mode, "--", "sh", "-c", `cat /etc/resolv.conf; echo ---
busybox nslookup "$1" `+forwarderAddr+`; echo ---
busybox nslookup "$2"; echo ---
getent hosts "$3"; echo ---
busybox nslookup "$4" `+forwarderAddr+`; echo "exit $?"`, "sh", direct, viaConf, viaLibc, missing)
			r.expect(t, 0)
			parts := sections(t, r, 5)
			if ns := resolvNameservers(t, parts[0]); !slices.Equal(ns, []string{forwarderAddr}) {
				t.Errorf("want /etc/resolv.conf to name only %s, got %v:\n%s", forwarderAddr, ns, indent(parts[0]))
			}
			for i, q := range map[int]string{1: direct, 2: viaConf} {
				want := "127." + strings.Join(strings.Split(strings.TrimSuffix(strings.TrimPrefix(q, "ip-127-"), ".sbx.test"), "-"), ".")
				if !slices.Contains(lines(parts[i]), "Address: "+want) {
					t.Errorf("busybox nslookup %s: want the stub's answer %s:\n%s", q, want, r)
				}
			}
			wantLibc := fmt.Sprintf("127.%d.%d.%d", b, a, c)
			if f := strings.Fields(parts[3]); len(f) < 2 || f[0] != wantLibc || f[1] != viaLibc {
				t.Errorf("getent hosts %s: want %s, got %q:\n%s", viaLibc, wantLibc, parts[3], r)
			}
			if !strings.Contains(parts[4], "NXDOMAIN") || !strings.HasSuffix(parts[4], "exit 1\n") {
				t.Errorf("busybox nslookup %s: want NXDOMAIN from the stub:\n%s", missing, r)
			}
		})
	}
}

// TestNetResolvHosts checks the sandbox's /etc/resolv.conf and /etc/hosts
// in a user-mode network: --dns servers replace the forwarder; /etc/hosts
// is the host's lines, then the sandbox's address with its hostname, then
// the --add-host entries; the host's files stay as they were. Nothing is
// resolved here: the C library asks DNS for what /etc/hosts lacks (getent
// hosts NAME asks for an IPv6 address first), and --dns 1.2.3.4 is no
// server to send anything to.
func TestNetResolvHosts(t *testing.T) {
	t.Parallel()
	netHelpers[0].require(t)
	hostResolv, hostHosts := readFile(t, "/etc/resolv.conf"), readFile(t, "/etc/hosts")
	for _, tc := range []struct {
		name     string
		flags    []string
		dns      []string
		hostname string
		added    [][2]string // IP, NAME
	}{
		{"default", nil, []string{forwarderAddr}, "sbx", nil},
		{"flags", []string{"--dns", "1.2.3.4", "--dns", "5.6.7.8", "--hostname", "web1",
			"--add-host", "db:10.1.2.3", "--add-host", "cache:10.1.2.4"},
			[]string{"1.2.3.4", "5.6.7.8"}, "web1", [][2]string{{"10.1.2.3", "db"}, {"10.1.2.4", "cache"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"run", "--net", "user"}, tc.flags...), "--", "sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts")
			r := sbx(t, args...)
			r.expect(t, 0)
			parts := sections(t, r, 2)
			if ns := resolvNameservers(t, parts[0]); !slices.Equal(ns, tc.dns) {
				t.Errorf("want the nameservers %v in /etc/resolv.conf, got %v:\n%s", tc.dns, ns, r)
			}
			hosts := lines(parts[1])
			// The host's lines first, in order.
			for i, l := range lines(hostHosts) {
				if i >= len(hosts) || hosts[i] != l {
					t.Errorf("want /etc/hosts to start with the host's lines:\n%s\ngot:\n%s", indent(hostHosts), indent(parts[1]))
					break
				}
			}
			var added [][]string // the lines after the host's, as fields
			for _, l := range hosts[min(len(hosts), len(lines(hostHosts))):] {
				if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
					added = append(added, f)
				}
			}
			want := [][]string{{sandboxAddr, tc.hostname}}
			for _, e := range tc.added {
				want = append(want, []string{e[0], e[1]})
			}
			if !slices.EqualFunc(added, want, slices.Equal) {
				t.Errorf("want the entries %q after the host's lines in /etc/hosts, got %q:\n%s", want, added, r)
			}
		})
	}
	t.Cleanup(func() {
		if s := readFile(t, "/etc/resolv.conf"); s != hostResolv {
			t.Errorf("the host's /etc/resolv.conf changed:\n%s", indent(s))
		}
		if s := readFile(t, "/etc/hosts"); s != hostHosts {
			t.Errorf("the host's /etc/hosts changed:\n%s", indent(s))
		}
	})
}

// TestNetBadInput checks that bad network flags are refused before
// anything runs: exit 125, one line on stderr, no command run, no helper
// left. Not in parallel (see expectNothingLeft).
func TestNetBadInput(t *testing.T) {
	for _, h := range netHelpers {
		h.require(t)
	}
	h := newStateHome(t)
	// A sandbox that runs, for -p with sandbox:NAME.
	running := h.detach(t, sandboxName("netbad"), "--", "sleep", token())
	// A port of the host's loopback that the test holds.
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	// The same flags, well formed, work (sbx knows them).
	h.sbx(t, "run", "--net", "none", "--", "true").ok(t)
	h.sbx(t, "run", "--net", "pasta:allow_host_loopback=false,mtu=1500,enable_ipv6=false", "-p", "127.0.0.1:"+strconv.Itoa(freePort(t, "tcp4"))+":80", "--", "true").ok(t)

	before := userProcesses(t)
	for _, tc := range []struct {
		flags   []string
		mention []string
	}{
		{[]string{"--net", "bogus"}, []string{"bogus"}},
		{[]string{"--net", "pasta:foo=1"}, []string{"foo"}},
		{[]string{"--net", "slirp4netns:foo=1"}, []string{"foo"}},
		{[]string{"--net", "user:foo=1"}, []string{"foo"}},
		{[]string{"-p", "80"}, []string{"80"}},
		{[]string{"-p", "a:b"}, []string{"a:b"}},
		{[]string{"-p", "70000:80"}, []string{"70000"}},
		{[]string{"-p", "8080:70000"}, []string{"70000"}},
		{[]string{"-p", "127.0.0.1:" + busyPort + ":80"}, []string{busyPort}},
		{[]string{"--net", "pasta", "-p", "127.0.0.1:" + busyPort + ":80"}, []string{busyPort}},
		{[]string{"--net", "slirp4netns", "-p", "127.0.0.1:" + busyPort + ":80"}, []string{busyPort}},
		{[]string{"--net", "host", "-p", "8080:80"}, nil},
		{[]string{"--net", "none", "-p", "8080:80"}, nil},
		{[]string{"--net", "sandbox:" + running, "-p", "8080:80"}, nil},
		{[]string{"--net", "sandbox:nosuch-" + token()}, []string{"nosuch-"}},
	} {
		args := append(append([]string{"run"}, tc.flags...), "--", "sh", "-c", "echo ran")
		expectBadInput(t, h.sbx(t, args...), tc.mention...)
	}
	expectNothingLeft(t, before, "after the refused runs")
	// The port held by the test is still the test's.
	done := make(chan error, 1)
	go func() {
		c, err := busy.Accept()
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	if c, err := net.DialTimeout("tcp4", "127.0.0.1:"+busyPort, 2*time.Second); err != nil {
		t.Errorf("the test's own listener on 127.0.0.1:%s no longer takes connections: %v", busyPort, err)
	} else {
		c.Close()
		if err := <-done; err != nil {
			t.Errorf("accept on 127.0.0.1:%s: %v", busyPort, err)
		}
	}
}

// resolvNameservers returns the nameserver lines' addresses of a
// resolv.conf.
func resolvNameservers(t *testing.T, s string) []string {
	t.Helper()
	var ns []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "nameserver" {
			ns = append(ns, f[1])
		}
	}
	return ns
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rand8 returns a number 1..254, from a token.
func rand8() int {
	n, _ := strconv.Atoi(token())
	return 1 + n%254
}

// TestNetPsState checks that sbx ps (table and JSON) and sbx state show a
// sandbox's network mode and its published ports, as podman prints them,
// for each mode.
func TestNetPsState(t *testing.T) {
	t.Parallel()
	netHelpers[0].require(t)
	netHelpers[1].require(t)
	h := newStateHome(t)
	tcp, udp := freePort(t, "tcp4"), freePort(t, "udp4")
	ports := []string{fmt.Sprintf("127.0.0.1:%d->80/tcp", tcp), fmt.Sprintf("127.0.0.1:%d->53/udp", udp)}
	h.detach(t, "pub", "--net", "slirp4netns:mtu=1500", "-p", fmt.Sprintf("127.0.0.1:%d:80", tcp), "-p", fmt.Sprintf("127.0.0.1:%d:53/udp", udp), "--", "sleep", "1000")
	h.detach(t, "plain", "--", "sleep", "1000")
	h.detach(t, "shared", "--net", "sandbox:pub", "--", "sleep", "1000")
	h.detach(t, "onhost", "--net", "host", "--", "sleep", "1000")
	want := map[string]struct {
		mode  string
		ports []string
	}{
		"pub": {"slirp4netns", ports}, "plain": {"none", nil}, "shared": {"sandbox:pub", nil}, "onhost": {"host", nil},
	}

	var list []struct {
		Name    string   `json:"name"`
		Network string   `json:"network"`
		Ports   []string `json:"ports"`
	}
	r := h.sbx(t, "ps", "--json")
	if err := json.Unmarshal([]byte(r.ok(t)), &list); err != nil {
		t.Fatalf("sbx ps --json: %v\n%s", err, r)
	}
	seen := 0
	for _, e := range list {
		w, ok := want[e.Name]
		if !ok {
			continue
		}
		seen++
		if e.Network != w.mode || !slices.Equal(e.Ports, w.ports) {
			t.Errorf("sbx ps --json: %s has network %q, ports %q; want %q, %q", e.Name, e.Network, e.Ports, w.mode, w.ports)
		}
	}
	if seen != len(want) {
		t.Errorf("sbx ps --json lists %d of the %d sandboxes:\n%s", seen, len(want), r)
	}

	r = h.sbx(t, "ps")
	l := lines(r.ok(t))
	head := strings.Fields(l[0])
	netCol, portsCol := slices.Index(head, "NET"), slices.Index(head, "PORTS")
	if netCol < 0 || portsCol != netCol+1 {
		t.Fatalf("sbx ps: want the columns NET PORTS, got %q", l[0])
	}
	for _, row := range l[1:] {
		// CREATED is a date and a time: one field more in a row.
		f := strings.Fields(row)
		w, ok := want[f[0]]
		if !ok {
			continue
		}
		f = append(f[:3], f[4:]...)
		wantPorts := "-"
		if len(w.ports) > 0 {
			wantPorts = strings.Join(w.ports, ",")
		}
		if len(f) <= portsCol || f[netCol] != w.mode || f[portsCol] != wantPorts {
			t.Errorf("sbx ps: row %q: want NET %s and PORTS %s", row, w.mode, wantPorts)
		}
	}

	var st struct {
		Network *struct {
			Mode    string   `json:"mode"`
			Address string   `json:"address"`
			Gateway string   `json:"gateway"`
			MTU     uint32   `json:"mtu"`
			Ports   []string `json:"ports"`
			DNS     []string `json:"dns"`
		} `json:"network"`
	}
	r = h.sbx(t, "state", "pub")
	if err := json.Unmarshal([]byte(r.ok(t)), &st); err != nil || st.Network == nil {
		t.Fatalf("sbx state pub: no network object (%v):\n%s", err, r)
	}
	n := st.Network
	if n.Mode != "slirp4netns" || n.Address != "10.0.2.100/24" || n.Gateway != gatewayAddr || n.MTU != 1500 ||
		!slices.Equal(n.Ports, ports) || !slices.Equal(n.DNS, []string{"10.0.2.3"}) {
		t.Errorf("sbx state pub: network %+v; want slirp4netns, 10.0.2.100/24 via %s, mtu 1500, ports %q, dns 10.0.2.3", *n, gatewayAddr, ports)
	}
	for _, name := range []string{"shared", "onhost", "plain", "pub"} {
		h.sbx(t, "rm", "-f", name).ok(t)
	}
}

// TestNetMissingHelper: with no helper on PATH, --net pasta, slirp4netns
// and user are refused before anything runs, with one line naming the
// Debian package to install. (sbx finds the helpers in PATH; newuidmap and
// newgidmap too, so the run uses --map single, which needs neither.)
func TestNetMissingHelper(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	empty := testDir(t)
	env := append(slices.Clone(h.env), "PATH="+empty)
	for _, tc := range []struct {
		mode, mention string
	}{
		{"pasta", "apt-get install passt"},
		{"slirp4netns", "apt-get install slirp4netns"},
		{"user", "neither pasta nor slirp4netns is installed"},
	} {
		inv := invocation{args: []string{"run", "--map", "single", "--net", tc.mode, "--", "/bin/sh", "-c", "echo ran"}, dir: h.dir, env: env}
		r := inv.run(t)
		expectBadInput(t, r, tc.mention)
	}
	// The same run without a network: sbx itself needs nothing from PATH.
	inv := invocation{args: []string{"run", "--map", "single", "--net", "none", "--", "/bin/sh", "-c", "echo ran"}, dir: h.dir, env: env}
	if r := inv.run(t); r.code != 0 || strings.TrimSpace(r.stdout) != "ran" {
		t.Errorf("with an empty PATH, --net none should still run:\n%s", r)
	}
}

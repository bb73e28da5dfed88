package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The network sections: what --net costs a start (next to rootlesskit and
// podman, which start the same helpers), the helper's own share of it,
// the throughput of a published port, and the memory of the helper.

// netPeers are the tools the network sections compare sbx with, found
// once.
type netPeers struct {
	rk, noRk         string // rootlesskit
	podman, noPodman string
	unshare, noUnsh  string
	pasta, noPasta   string
	slirp, noSlirp   string
}

func (b *bench) peers() netPeers {
	var p netPeers
	p.rk, p.noRk = b.rootlesskit, ""
	if p.rk == "" {
		p.rk, p.noRk = lookup("rootlesskit", "rootlesskit")
		if p.noRk != "" {
			p.noRk = "rootlesskit not found (-rootlesskit PATH; scripts/bench.sh installs it with go install)"
		}
	}
	p.podman, p.noPodman = lookup("podman", "podman")
	p.unshare, p.noUnsh = lookup("unshare", "util-linux")
	p.pasta, p.noPasta = lookup("pasta", "passt")
	p.slirp, p.noSlirp = lookup("slirp4netns", "slirp4netns")
	return p
}

// netRatio is a ratio printed on a row of a network table: the median of
// row num over that of row den.
type netRatio struct{ num, den int }

// netTable prints medians with the ratios asked for (by row).
func netTable(title string, cmds []command, meds []time.Duration, short []string, ratios map[int]netRatio) {
	fmt.Printf("### %s\n\n| command | median | ratio |\n|---|---:|---|\n", title)
	for i, c := range cmds {
		if c.absent != "" {
			fmt.Printf("| `%s` | %s | |\n", c.label, c.absent)
			continue
		}
		ratio := ""
		if r, ok := ratios[i]; ok && meds[r.num] > 0 && meds[r.den] > 0 {
			a, d := "`"+short[r.num]+"`", "`"+short[r.den]+"`"
			if r.num == i {
				a = "it"
			}
			if r.den == i {
				d = "it"
			}
			ratio = fmt.Sprintf("%s ÷ %s: %.2fx", a, d, float64(meds[r.num])/float64(meds[r.den]))
		}
		fmt.Printf("| `%s` | %s | %s |\n", c.label, ms(meds[i]), ratio)
	}
	fmt.Println()
}

// netStart times a start with each --net mode, next to rootlesskit (the
// same helpers started by Docker's and Podman's rootless mode) and podman.
func (b *bench) netStart() {
	p := b.peers()
	rk := func(net string) command {
		c := command{label: "rootlesskit true", absent: p.noRk}
		c.argv = []string{p.rk}
		if net != "" {
			c.label = "rootlesskit --net=" + net + " --disable-host-loopback true"
			c.argv = append(c.argv, "--net="+net, "--disable-host-loopback")
		}
		c.argv = append(c.argv, "true")
		return c
	}
	rkPasta := rk("pasta")
	rkPasta.after = b.killStrayPasta
	podman := command{label: "podman run --rm --network pasta --rootfs BUSYBOX true", absent: p.noPodman}
	if p.podman != "" {
		root, err := busyboxRoot(filepath.Join(b.work, "podman-rootfs"))
		if err != nil {
			podman.absent = err.Error()
		} else {
			podman.argv = []string{p.podman, "run", "--rm", "--network", "pasta", "--rootfs", root, "/bin/true"}
		}
	}
	sbx := func(mode string) command {
		return command{label: "sbx run --net " + mode + " -- true", argv: []string{b.sbx, "run", "--net", mode, "--", "true"}}
	}
	cmds := []command{
		sbx("none"), sbx("host"), sbx("pasta"), sbx("slirp4netns"),
		rk(""), rk("slirp4netns"), rkPasta, podman,
	}
	for _, i := range []int{2, 6, 7} {
		if p.noPasta != "" && cmds[i].absent == "" {
			cmds[i].absent = p.noPasta
		}
	}
	for _, i := range []int{3, 5} {
		if p.noSlirp != "" && cmds[i].absent == "" {
			cmds[i].absent = p.noSlirp
		}
	}
	short := []string{"--net none", "--net host", "--net pasta", "--net slirp4netns", "rootlesskit", "rootlesskit --net=slirp4netns", "rootlesskit --net=pasta", "podman"}
	b.strays = nil
	meds := b.interleaveN(cmds, b.netRounds)
	netTable("Network: start and exit", cmds, meds, short, map[int]netRatio{
		1: {1, 0}, 2: {2, 0}, 3: {3, 0},
		4: {0, 4}, 5: {3, 5}, 6: {2, 6}, 7: {2, 7},
	})
	if len(b.strays) > 0 {
		fmt.Printf("`rootlesskit --net=pasta` left its pasta running once it had exited, %d times in %d runs (bench killed them): its pasta driver starts pasta as a daemon and never ends it.\n\n", len(b.strays), b.netRounds+2)
	}
	fmt.Printf("rootlesskit makes user, mount and network namespaces; sbx also makes pid, ipc, uts and cgroup namespaces and its filesystem view.\n\n")
	b.netNone, b.netHost, b.netPasta, b.netSlirp = meds[0], meds[1], meds[2], meds[3]
	b.rkHost, b.rkSlirp, b.rkPasta = meds[4], meds[5], meds[6]
}

// interleaveN is interleave with n measured rounds.
func (b *bench) interleaveN(cmds []command, n int) []time.Duration {
	saved := b.rounds
	b.rounds = n
	defer func() { b.rounds = saved }()
	return b.interleave(cmds)
}

// busyboxRoot makes a root directory with a static busybox in it.
func busyboxRoot(root string) (string, error) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return "", errors.New("busybox not installed (apt-get install busybox-static)")
	}
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		return "", err
	}
	for _, l := range []string{"true", "sh", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", l)); err != nil && !os.IsExist(err) {
			return "", err
		}
	}
	return root, nil
}

// killStrayPasta kills the pastas of this user that run as daemons (not
// in the foreground, as sbx's under its keeper) for a process that is
// gone: what rootlesskit's pasta driver leaves behind.
func (b *bench) killStrayPasta() {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if c := string(comm); !strings.HasPrefix(c, "passt") && !strings.HasPrefix(c, "pasta") {
			continue
		}
		if st, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
			continue
		}
		raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) < 2 || strings.Contains(string(raw), "--foreground") {
			continue
		}
		target, err := strconv.Atoi(args[len(args)-1])
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", target)); err == nil {
			continue // its namespace's process still runs
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			if b.strays == nil {
				b.strays = map[int]bool{}
			}
			b.strays[pid] = true
		}
	}
}

// netHelper splits what a user-mode network adds to a start: the bare
// helper (bench starts it for a process in new user and network
// namespaces and waits until it says the network is up, as sbx does), the
// helper's slot in sbx's own start (its time stamps), and the rest.
func (b *bench) netHelper() {
	p := b.peers()
	fmt.Printf("### Network: the helper's share of a start\n\n")
	modes := []string{"pasta", "slirp4netns"}
	absent := map[string]string{"pasta": p.noPasta, "slirp4netns": p.noSlirp}
	// the bare helpers, interleaved
	bare, bareEnd := map[string][]time.Duration{}, map[string][]time.Duration{}
	bareErr := map[string]error{}
	for r := -2; r < b.netRounds; r++ {
		for _, m := range modes {
			if absent[m] != "" || p.noUnsh != "" || bareErr[m] != nil {
				continue
			}
			up, end, err := bareHelper(p, m)
			if err != nil {
				bareErr[m] = err
				continue
			}
			if r >= 0 {
				bare[m] = append(bare[m], up)
				bareEnd[m] = append(bareEnd[m], end)
			}
		}
	}
	// sbx's stamps
	steps := map[string]stepped{}
	for _, m := range append([]string{"none"}, modes...) {
		if absent[m] != "" {
			continue
		}
		saved := b.rounds
		b.rounds = b.netRounds
		steps[m] = b.stepRounds([]string{b.sbx, "run", "--net", m, "--", "true"})
		b.rounds = saved
	}
	between := func(m, from, to string) time.Duration {
		s := steps[m]
		var d []int64
		for _, r := range s.rounds {
			a, aok := r[from]
			z, zok := r[to]
			if aok && zok {
				d = append(d, z-a)
			}
		}
		if len(d) == 0 {
			return 0
		}
		return medianNs(d)
	}
	cell := func(d time.Duration) string {
		if d == 0 {
			return "not measured"
		}
		return msNs(d)
	}
	signed := func(d time.Duration) string {
		return fmt.Sprintf("%+.3f ms", float64(d.Nanoseconds())/1e6)
	}
	startOf := map[string]time.Duration{"pasta": b.netPasta, "slirp4netns": b.netSlirp}
	rkOf := map[string]time.Duration{"pasta": b.rkPasta, "slirp4netns": b.rkSlirp}
	fmt.Printf("| | `--net pasta` | `--net slirp4netns` |\n|---|---:|---:|\n")
	row := func(name string, f func(m string) string) {
		fmt.Printf("| %s |", name)
		for _, m := range modes {
			if absent[m] != "" {
				fmt.Printf(" %s |", absent[m])
			} else {
				fmt.Printf(" %s |", f(m))
			}
		}
		fmt.Println()
	}
	row("the bare helper: spawned until it says the network is up (the floor)", func(m string) string {
		if p.noUnsh != "" {
			return p.noUnsh
		}
		if bareErr[m] != nil {
			return "fails here: " + bareErr[m].Error()
		}
		if len(bare[m]) == 0 {
			return "not measured"
		}
		return msNs(median(bare[m]))
	})
	row("in sbx: `parent.slot` → `parent.slotted` (keeper and helper started, network up)", func(m string) string {
		if steps[m].err != nil {
			return "fails here: " + steps[m].err.Error()
		}
		return cell(between(m, "parent.slot", "parent.slotted"))
	})
	row("the bare helper: told to end until it has (slirp4netns: its lifeline closed; pasta: killed)", func(m string) string {
		if p.noUnsh != "" {
			return p.noUnsh
		}
		if bareErr[m] != nil || len(bareEnd[m]) == 0 {
			return "not measured"
		}
		return msNs(median(bareEnd[m]))
	})
	row("in sbx: `parent.reaped` → `parent.exit`, less that of `--net none` (the helper ends)", func(m string) string {
		h, n := between(m, "parent.reaped", "parent.exit"), between("none", "parent.reaped", "parent.exit")
		if h == 0 || n == 0 {
			return "not measured"
		}
		return signed(h - n)
	})
	row("`sbx run --net MODE -- true` less `--net none` (the start table)", func(m string) string {
		if startOf[m] == 0 || b.netNone == 0 {
			return "not measured"
		}
		return signed(startOf[m] - b.netNone)
	})
	row("of it, neither the helper's start nor its end: sbx's own work for the network", func(m string) string {
		up, end := between(m, "parent.slot", "parent.slotted"), between(m, "parent.reaped", "parent.exit")-between("none", "parent.reaped", "parent.exit")
		if startOf[m] == 0 || b.netNone == 0 || up == 0 {
			return "not measured"
		}
		return signed(startOf[m] - b.netNone - up - end)
	})
	row("the helper's start in sbx beyond the bare helper's (the keeper, the spawn)", func(m string) string {
		up := between(m, "parent.slot", "parent.slotted")
		if up == 0 || len(bare[m]) == 0 {
			return "not measured"
		}
		return signed(up - median(bare[m]))
	})
	row("`rootlesskit --net=MODE true` less `rootlesskit true`", func(m string) string {
		if rkOf[m] == 0 || b.rkHost == 0 {
			return "not measured"
		}
		return signed(rkOf[m] - b.rkHost)
	})
	fmt.Printf("\nMedians over %d rounds; the bare helpers ran interleaved, for `unshare --user --map-root-user --net sleep`, with sbx's own arguments.\n\n", b.netRounds)
}

// bareHelper starts the helper mode for a fresh process in new user and
// network namespaces and returns how long it took to say the network is
// up, and how long it took to end once told to.
func bareHelper(p netPeers, mode string) (up, end time.Duration, err error) {
	ns := exec.Command(p.unshare, "--user", "--map-root-user", "--net", "sleep", "100000")
	if err := ns.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { ns.Process.Kill(); ns.Wait() }()
	pid := ns.Process.Pid
	for deadline := time.Now().Add(5 * time.Second); ; {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "sleep" {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, errors.New("unshare did not start sleep")
		}
		time.Sleep(time.Millisecond)
	}
	ready, readyW, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer ready.Close()
	var stderr bytes.Buffer
	var cmd *exec.Cmd
	var lifeline *os.File
	switch mode {
	case "pasta":
		cmd = exec.Command(p.pasta, "--foreground", "--quiet", "--config-net",
			"--ns-ifname", "tap0", "--address", "10.0.2.100", "--netmask", "24",
			"--gateway", "10.0.2.2", "--dns-forward", "10.0.2.3", "--mtu", "65520",
			"-T", "none", "-U", "none", "--pid", "/proc/self/fd/3",
			"--no-map-gw", "--ipv4-only", "-t", "none", "-u", "none", strconv.Itoa(pid))
		cmd.ExtraFiles = []*os.File{readyW}
	default:
		lr, lw, err := os.Pipe()
		if err != nil {
			readyW.Close()
			return 0, 0, err
		}
		defer lr.Close()
		lifeline = lw
		cmd = exec.Command(p.slirp, "--configure", "--mtu", "65520",
			"--exit-fd", "3", "--ready-fd", "4", "--enable-sandbox", "--enable-seccomp",
			"--disable-host-loopback", strconv.Itoa(pid), "tap0")
		cmd.ExtraFiles = []*os.File{lr, readyW}
	}
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		if lifeline != nil {
			lifeline.Close()
		}
		return 0, 0, err
	}
	ready.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf [1]byte
	_, rerr := ready.Read(buf[:])
	up = time.Since(start)
	// It ends as in sbx: slirp4netns once its lifeline closes, pasta
	// killed by its keeper.
	start = time.Now()
	if lifeline != nil {
		lifeline.Close()
	} else {
		cmd.Process.Kill()
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	end = time.Since(start)
	if rerr != nil {
		return 0, 0, fmt.Errorf("%s: %v: %s", mode, rerr, lastLine(stderr.String()))
	}
	return up, end, nil
}

// lastLine is the last line of s that is not empty.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// sink is the receiving end of a transfer (bench -sink PORT), run in a
// sandbox: it says "ready" once it listens, reads one connection to its
// end and prints how many bytes it read.
func sink(port string) {
	ln, err := net.Listen("tcp4", "0.0.0.0:"+port)
	if err != nil {
		fatal(err)
	}
	fmt.Println("ready")
	c, err := ln.Accept()
	if err != nil {
		fatal(err)
	}
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := c.Read(buf)
		n += int64(k)
		if err != nil {
			break
		}
	}
	fmt.Println(n)
}

// netTransfer sends b.xferBytes from the host into a sandbox through a
// published port, for each helper and port driver, next to rootlesskit's
// port drivers and to loopback with no sandbox (the ceiling).
func (b *bench) netTransfer() {
	p := b.peers()
	exe, err := os.Executable()
	if err != nil {
		fmt.Printf("### Network: a published port\n\n%v\n\n", err)
		return
	}
	type path struct {
		label  string
		argv   func(port string) []string
		absent string
	}
	sinkArgv := func(port string) []string { return []string{exe, "-sink", port} }
	sbx := func(mode, absent string) path {
		return path{label: "sbx run --net " + mode + " -p 127.0.0.1:P:P", absent: absent, argv: func(port string) []string {
			return append([]string{b.sbx, "run", "--net", mode, "-p", "127.0.0.1:" + port + ":" + port, "--"}, sinkArgv(port)...)
		}}
	}
	rk := func(net, driver, absent string) path {
		if absent == "" {
			absent = p.noRk
		}
		pa := path{label: "rootlesskit --net=" + net + " --port-driver=" + driver + " -p 127.0.0.1:P:P/tcp", absent: absent, argv: func(port string) []string {
			return append([]string{p.rk, "--net=" + net, "--disable-host-loopback", "--port-driver=" + driver, "-p", "127.0.0.1:" + port + ":" + port + "/tcp"}, sinkArgv(port)...)
		}}
		if driver == "implicit" {
			// pasta publishes the ports the sandbox listens on itself
			// (--tcp-ports=auto): rootlesskit's pasta driver takes no
			// other but pesto, which Debian 12's passt has not.
			pa.label = "rootlesskit --net=pasta --port-driver=implicit (pasta -t auto)"
			pa.argv = func(port string) []string {
				return append([]string{p.rk, "--net=" + net, "--disable-host-loopback", "--port-driver=" + driver}, sinkArgv(port)...)
			}
		}
		return pa
	}
	paths := []path{
		{label: "loopback, no sandbox (the ceiling)", argv: sinkArgv},
		sbx("pasta", p.noPasta),
		sbx("slirp4netns", p.noSlirp),
		rk("slirp4netns", "builtin", p.noSlirp),
		rk("slirp4netns", "slirp4netns", p.noSlirp),
		rk("pasta", "implicit", p.noPasta),
	}
	rates := make([][]float64, len(paths))
	errs := make([]error, len(paths))
	for r := 0; r < b.xferRounds; r++ {
		for i, pa := range paths {
			if pa.absent != "" || errs[i] != nil {
				continue
			}
			rate, err := b.transfer(pa.argv)
			if err != nil {
				errs[i] = err
				continue
			}
			rates[i] = append(rates[i], rate)
		}
	}
	fmt.Printf("### Network: %s from the host into the sandbox through a published port\n\n"+
		"The host dials 127.0.0.1:P, writes it all and waits for the sandbox's reader to say it has read it all; %d interleaved rounds, medians.\n\n"+
		"| path | MB/s | ratio |\n|---|---:|---|\n", sizeName(b.xferBytes), b.xferRounds)
	med := func(i int) float64 {
		if len(rates[i]) == 0 {
			return 0
		}
		s := slices.Clone(rates[i])
		slices.Sort(s)
		return s[len(s)/2]
	}
	for i, pa := range paths {
		switch {
		case pa.absent != "":
			fmt.Printf("| `%s` | %s | |\n", pa.label, pa.absent)
		case errs[i] != nil && len(rates[i]) == 0:
			fmt.Printf("| `%s` | fails here: %v | |\n", pa.label, errs[i])
		default:
			ratio := ""
			var ref int
			switch {
			case i == 0:
				ratio = ""
			case strings.Contains(pa.label, "sbx"):
				ref = -1
			case strings.Contains(pa.label, "--net=pasta"):
				ref = 1
			default:
				ref = 2
			}
			if ref > 0 && med(ref) > 0 {
				ratio = fmt.Sprintf("`%s` ÷ it: %.2fx", strings.TrimSuffix(paths[ref].label, " -p 127.0.0.1:P:P"), med(ref)/med(i))
			}
			if ref < 0 && med(0) > 0 {
				ratio = fmt.Sprintf("it ÷ the ceiling: %.2fx", med(i)/med(0))
			}
			note := ""
			if errs[i] != nil {
				note = fmt.Sprintf(" (then failed: %v)", errs[i])
			}
			fmt.Printf("| `%s` | %.0f%s | %s |\n", pa.label, med(i), note, ratio)
		}
	}
	fmt.Println()
}

func sizeName(n int64) string {
	if n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// freePort returns a TCP port on 127.0.0.1 that is free now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// transfer starts the sink that argv runs, on a free port, sends it
// b.xferBytes and returns the rate in MB/s.
func (b *bench) transfer(argvOf func(port string) []string) (float64, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	argv := argvOf(port)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		stop(cmd)
		b.killStrayPasta()
	}()
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	said := func() string { return lastLine(stderr.String()) }
	wait := func(d time.Duration) (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", fmt.Errorf("the sink ended: %s", said())
			}
			return l, nil
		case <-time.After(d):
			return "", fmt.Errorf("no word from the sink within %v: %s", d, said())
		}
	}
	if l, err := wait(20 * time.Second); err != nil {
		return 0, err
	} else if l != "ready" {
		return 0, fmt.Errorf("the sink said %q", l)
	}
	// A port driver may publish the port a little after the command
	// runs.
	var conn net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
		conn, err = net.Dial("tcp4", "127.0.0.1:"+port)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return 0, errors.New("nothing listens on the host port 5 s after the sink is ready")
	}
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	limit := 10 * time.Second
	if mb := b.xferBytes >> 20; mb > 100 {
		limit = time.Duration(mb/10) * time.Second // 10 MB/s at least
	}
	conn.SetDeadline(time.Now().Add(limit))
	buf := make([]byte, 1<<20)
	start := time.Now()
	for left := b.xferBytes; left > 0; {
		k, err := conn.Write(buf[:min(int64(len(buf)), left)])
		if err != nil {
			return 0, fmt.Errorf("write: %v", err)
		}
		left -= int64(k)
	}
	conn.(*net.TCPConn).CloseWrite()
	l, err := wait(limit)
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if n, _ := strconv.ParseInt(l, 10, 64); n != b.xferBytes {
		return 0, fmt.Errorf("the sink read %s bytes of %d", l, b.xferBytes)
	}
	return float64(b.xferBytes) / d.Seconds() / 1e6, nil
}

// procMem is the memory of one process, in KiB; pss is -1 where
// smaps_rollup cannot be read (a process that is not dumpable: pasta and
// slirp4netns make themselves so).
type procMem struct {
	rss, anon, file, pss int64
}

// readMem reads a process's memory (pss from smaps_rollup, where it may).
func readMem(pid int) (procMem, error) {
	m := procMem{pss: -1}
	f, err := statusKiB(pid)
	if err != nil {
		return m, err
	}
	m.rss, m.anon, m.file = f["VmRSS"], f["RssAnon"], f["RssFile"]
	if pss, err := pssOf(pid); err == nil {
		m.pss = pss
	}
	return m, nil
}

// netMemory measures the processes of attached sandboxes with each helper,
// n at once: sbx's monitor and pid 1, and the helper's (its keeper and
// pasta; slirp4netns); and rootlesskit's own next to them.
func (b *bench) netMemory() {
	p := b.peers()
	const n = 5
	fmt.Printf("### Network: memory of the helper while `sleep` runs in the sandbox\n\n"+
		"%d sandboxes at once, attached (sbx's monitor has taken over). RSS and RssAnon (from /proc/PID/status) of the first; PSS per sandbox, the mean over the %d. "+
		"The helpers make themselves not dumpable, so their smaps_rollup is not readable by the user who runs them: their PSS is given as at most RssAnon + RssFile/%d.\n\n"+
		"| sandbox | process | RSS | of it anon | PSS per sandbox |\n|---|---|---:|---:|---:|\n", n, n, n)
	type role struct {
		name string
		mems []procMem
	}
	print := func(what string, roles []*role) {
		var total int64
		exact := true
		for _, r := range roles {
			if len(r.mems) == 0 {
				fmt.Printf("| %s | %s | not found | | |\n", what, r.name)
				continue
			}
			var sum int64
			est := false
			for _, m := range r.mems {
				if m.pss >= 0 {
					sum += m.pss
				} else {
					sum += m.anon + m.file/int64(len(r.mems))
					est = true
				}
			}
			pss := sum / int64(len(r.mems))
			total += pss
			cell := mib(pss)
			if est {
				cell = "≤ " + cell
				exact = false
			}
			fmt.Printf("| %s | %s | %s | %s | %s |\n", what, r.name, mib(r.mems[0].rss), mib(r.mems[0].anon), cell)
		}
		le := ""
		if !exact {
			le = "≤ "
		}
		fmt.Printf("| %s | **all of them** | | | **%s%s** |\n", what, le, mib(total))
	}
	for _, mode := range []string{"pasta", "slirp4netns"} {
		what := "sbx --net " + mode
		if (mode == "pasta" && p.noPasta != "") || (mode == "slirp4netns" && p.noSlirp != "") {
			fmt.Printf("| %s | %s | | | |\n", what, p.noPasta+p.noSlirp)
			continue
		}
		roles := map[string]*role{}
		order := []string{"sbx monitor", "pid 1 (init)"}
		order = append(order, "sbx-netkeep (the helper's keeper)", mode)
		for _, o := range order {
			roles[o] = &role{name: o}
		}
		var cmds []*exec.Cmd
		for range n {
			c := exec.Command(b.sbx, "run", "--net", mode, "--", "sleep", "100000")
			c.Dir = "/"
			if err := c.Start(); err != nil {
				fmt.Printf("| %s | %v | | | |\n", what, err)
				break
			}
			cmds = append(cmds, c)
		}
		for _, c := range cmds {
			init := waitChild(c.Process.Pid)
			waitMonitor(c.Process.Pid)
			add := func(name string, pid int) {
				// (none while it execs: the monitor taking over)
				if m, err := readMem(pid); err == nil && m.rss > 0 {
					roles[name].mems = append(roles[name].mems, m)
				}
			}
			add("sbx monitor", c.Process.Pid)
			if init != 0 {
				add("pid 1 (init)", init)
			}
			for _, ch := range children(c.Process.Pid) {
				pid, _ := strconv.Atoi(ch)
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				switch strings.TrimSpace(string(comm)) {
				case "sbx-netkeep":
					add("sbx-netkeep (the helper's keeper)", pid)
					for _, g := range children(pid) {
						gp, _ := strconv.Atoi(g)
						add(mode, gp)
					}
				}
			}
		}
		for _, c := range cmds {
			stop(c)
		}
		var rs []*role
		for _, o := range order {
			rs = append(rs, roles[o])
		}
		print(what, rs)
	}
	// rootlesskit's processes, for comparison
	for _, net := range []string{"slirp4netns", "pasta"} {
		what := "rootlesskit --net=" + net
		if p.noRk != "" {
			fmt.Printf("| %s | %s | | | |\n", what, p.noRk)
			continue
		}
		roles := map[string]*role{}
		var order []string
		var cmds []*exec.Cmd
		for range n {
			c := exec.Command(p.rk, "--net="+net, "--disable-host-loopback", "sleep", "100000")
			c.Dir = "/"
			if err := c.Start(); err != nil {
				fmt.Printf("| %s | %v | | | |\n", what, err)
				break
			}
			cmds = append(cmds, c)
		}
		for _, c := range cmds {
			// wait until sleep runs, then take the whole tree but sleep,
			// and the pasta daemon that serves it
			var tree []int
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				tree = descendants(c.Process.Pid)
				if slicesHasComm(tree, "sleep") {
					break
				}
			}
			add := func(name string, pid int) {
				if _, ok := roles[name]; !ok {
					roles[name] = &role{name: name}
					order = append(order, name)
				}
				if m, err := readMem(pid); err == nil && m.rss > 0 {
					roles[name].mems = append(roles[name].mems, m)
				}
			}
			add("rootlesskit (parent)", c.Process.Pid)
			for _, pid := range tree {
				switch comm := commOf(pid); {
				case comm == "sleep":
				case comm == "rootlesskit" || comm == "exe":
					add("rootlesskit (child)", pid)
				default:
					add(comm, pid)
				}
			}
			if net == "pasta" {
				for _, pid := range pastaFor(append(tree, c.Process.Pid)) {
					add("pasta (a daemon)", pid)
				}
			}
		}
		for _, c := range cmds {
			stop(c)
		}
		b.killStrayPasta()
		var rs []*role
		for _, o := range order {
			rs = append(rs, roles[o])
		}
		print(what, rs)
	}
	fmt.Println()
}

func commOf(pid int) string {
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(comm))
}

func slicesHasComm(pids []int, comm string) bool {
	for _, p := range pids {
		if commOf(p) == comm {
			return true
		}
	}
	return false
}

// descendants lists the processes under pid.
func descendants(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		cp, err := strconv.Atoi(c)
		if err != nil {
			continue
		}
		out = append(out, cp)
		out = append(out, descendants(cp)...)
	}
	return out
}

// pastaFor finds the pasta daemons whose target (their last argument) is
// one of pids.
func pastaFor(pids []int) []int {
	want := map[string]bool{}
	for _, p := range pids {
		want[strconv.Itoa(p)] = true
	}
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !strings.HasPrefix(commOf(pid), "passt") && !strings.HasPrefix(commOf(pid), "pasta") {
			continue
		}
		raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if want[args[len(args)-1]] {
			out = append(out, pid)
		}
	}
	return out
}

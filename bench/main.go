// Command bench measures sbx next to the tools people use for the same job
// (bubblewrap, util-linux unshare and nsenter, runc; for --net, rootlesskit
// and podman; under podman, runc and crun) and prints markdown tables:
// start and exit, the start of the binary itself, joining a running
// sandbox, the steps of a start (from the time stamps sbx writes to
// $SBX_STAMPS), throughput, memory, how the view scales with the number of
// binds, the network (net.go: start with each --net mode, the helper's
// share of it, a transfer through a published port, the helper's memory),
// sbx as podman's OCI runtime (oci.go), and the targets of the project.
// Commands run interleaved, one of each per round, so that a machine that
// speeds up or slows down during the run affects every command alike; the
// tables give medians.
//
// It is a benchmark, not a test: it never fails on a figure. `make bench`
// runs it as an unprivileged user (see scripts/bench.sh).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	sbx := flag.String("sbx", "bin/sbx", "the sbx binary to measure")
	rounds := flag.Int("rounds", 40, "measured rounds of each command")
	empty := flag.String("empty", "", "an empty static Go program (CGO_ENABLED=0), for the start of sbx version")
	only := flag.String("only", "", "run only these sections, comma-separated: "+strings.Join(sectionNames, ", ")+", net (all four net-...); the targets are always printed")
	rootlesskit := flag.String("rootlesskit", "", "rootlesskit, a peer of the network sections (default: found on $PATH)")
	xferRounds := flag.Int("xfer-rounds", 3, "rounds of the transfer through a published port")
	xferMiB := flag.Int64("xfer-mib", 1024, "MiB sent through a published port per round")
	sinkPort := flag.String("sink", "", "be the receiving end of a transfer on this port (bench runs itself so in a sandbox)")
	flag.Parse()
	if *sinkPort != "" {
		sink(*sinkPort)
		return
	}
	self, err := filepath.Abs(*sbx)
	if err != nil {
		fatal(err)
	}
	if os.Getuid() == 0 {
		fatal(errors.New("run the benchmark as an unprivileged user (make bench does, as root)"))
	}
	work, err := os.MkdirTemp("", "sbx-bench-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(work)
	b := &bench{sbx: self, work: work, rounds: *rounds, empty: *empty, rootlesskit: *rootlesskit,
		netRounds: max(5, *rounds/2), xferRounds: max(1, *xferRounds), xferBytes: *xferMiB << 20}
	sections := map[string]func(){
		"start": b.startExit, "binary": b.binaryStart, "join": b.join, "steps": b.steps,
		"throughput": b.throughput, "memory": b.memory, "scale": b.scale,
		"net-start": b.netStart, "net-helper": b.netHelper, "net-xfer": b.netTransfer, "net-mem": b.netMemory,
		"oci": b.oci,
	}
	run := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if s == "net" {
			for _, n := range sectionNames {
				run[n] = run[n] || strings.HasPrefix(n, "net-")
			}
			continue
		}
		if sections[s] == nil {
			fatal(fmt.Errorf("-only %s: no such section (%s)", s, strings.Join(sectionNames, ", ")))
		}
		run[s] = true
	}
	b.partial = len(run) > 0
	b.machine()
	for _, s := range sectionNames {
		if !b.partial || run[s] {
			sections[s]()
		}
	}
	b.verdict()
}

// sectionNames are the sections of the benchmark, in the order they run.
// ("net" stands for the four net-... ones).
var sectionNames = []string{"start", "binary", "join", "steps", "throughput", "memory", "scale", "net-start", "net-helper", "net-xfer", "net-mem", "oci"}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type bench struct {
	sbx    string
	work   string
	rounds int
	empty  string
	// medians of the headline commands, for the verdict
	sbxRun, bwrap, unshare, sbxExec, nsenter time.Duration
	sbxVersion, emptyGo                      time.Duration
	// 100 in a row
	seqSbx, seqBwrap                      time.Duration
	attachedRSS, detachedRSS, attachedPSS int64
	// stamps of each round of sbx exec, taken while the join section's
	// sandbox runs
	execSteps stepped
	// partial: only some sections run (-only); the targets not measured
	// are left out
	partial bool

	// the network sections
	rootlesskit                          string
	netRounds, xferRounds                int
	xferBytes                            int64
	netNone, netHost, netPasta, netSlirp time.Duration
	rkHost, rkSlirp, rkPasta             time.Duration
	// pastas that rootlesskit left running, killed by bench
	strays map[int]bool

	// the OCI section (oci.go): podman run --rm with --network none, sbx
	// and runc as its runtime
	podmanSbx, podmanRunc time.Duration
}

// The peers of sbx run and sbx exec as the targets of the project name
// them.
var (
	bwrapArgs   = []string{"--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "true"}
	unshareArgs = []string{"-Urpimunf", "--mount-proc", "true"}
)

func nsenterArgs(pid string) []string {
	return []string{"-U", "-m", "-p", "-n", "-i", "-u", "-C", "--preserve-credentials", "-t", pid, "true"}
}

// command is one thing to time; absent says why a peer is left out;
// after, if set, runs after each run (to clean up after a peer).
type command struct {
	label  string
	argv   []string
	absent string
	after  func()
}

func (b *bench) machine() {
	var u []byte
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		u = out
	}
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Printf("Machine: %s, %s, %d CPUs; %d interleaved rounds, medians.\n\n", strings.TrimSpace(string(u)), cpu, numCPU(), b.rounds)
}

func numCPU() int {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "processor\t:")
}

// lookup finds a peer tool, or says it is absent and how to get it.
func lookup(name, pkg string) (string, string) {
	if p, err := exec.LookPath(name); err == nil {
		return p, ""
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(dir + "/" + name); err == nil {
			return dir + "/" + name, ""
		}
	}
	return "", fmt.Sprintf("%s not installed (apt-get install %s)", name, pkg)
}

// once runs argv to completion and returns how long it took.
func once(argv []string) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		cmdline := strings.Join(argv[:min(len(argv), 6)], " ")
		if len(argv) > 6 {
			cmdline += " ..."
		}
		return d, fmt.Errorf("%s: %v: %s", cmdline, err, firstLine(string(out)))
	}
	return d, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// interleave times each present command once per round, after two warm-up
// rounds, and returns the median of each (0 for absent or failing ones).
func (b *bench) interleave(cmds []command) []time.Duration {
	times := make([][]time.Duration, len(cmds))
	for r := -2; r < b.rounds; r++ {
		for i := range cmds {
			c := &cmds[i]
			if c.absent != "" {
				continue
			}
			d, err := once(c.argv)
			if c.after != nil {
				c.after()
			}
			if err != nil {
				c.absent = "fails here: " + err.Error()
				continue
			}
			if r >= 0 {
				times[i] = append(times[i], d)
			}
		}
	}
	meds := make([]time.Duration, len(cmds))
	for i, t := range times {
		if cmds[i].absent == "" && len(t) > 0 {
			meds[i] = median(t)
		}
	}
	return meds
}

func median(t []time.Duration) time.Duration {
	s := slices.Clone(t)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// table prints medians with the ratio of the first row to each other row.
func table(title string, cmds []command, meds []time.Duration) {
	fmt.Printf("### %s\n\n| command | median | sbx ÷ it |\n|---|---:|---:|\n", title)
	for i, c := range cmds {
		if c.absent != "" {
			fmt.Printf("| `%s` | %s | |\n", c.label, c.absent)
			continue
		}
		ratio := ""
		if i > 0 && meds[0] > 0 && meds[i] > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(meds[0])/float64(meds[i]))
		}
		fmt.Printf("| `%s` | %s | %s |\n", c.label, ms(meds[i]), ratio)
	}
	fmt.Println()
}

func (b *bench) startExit() {
	bwrap, noBwrap := lookup("bwrap", "bubblewrap")
	unshare, noUnshare := lookup("unshare", "util-linux")
	runc, noRunc := lookup("runc", "runc")
	runcCmd := command{label: "runc run (rootless, busybox bundle)", absent: noRunc}
	if runc != "" {
		bundle, err := b.runcBundle(runc, "true", []string{"/bin/true"})
		if err != nil {
			runcCmd.absent = "bundle: " + err.Error()
		} else {
			runcCmd.argv = []string{runc, "--root", filepath.Join(b.work, "runc-state"), "run", "-b", bundle, "bench-run"}
		}
	}
	cmds := []command{
		{label: "sbx run -- true", argv: []string{b.sbx, "run", "--", "true"}},
		{label: "sbx run --map single -- true", argv: []string{b.sbx, "run", "--map", "single", "--", "true"}},
		{label: "unshare " + strings.Join(unshareArgs, " "), argv: append([]string{unshare}, unshareArgs...), absent: noUnshare},
		{label: "bwrap " + strings.Join(bwrapArgs, " "), argv: append([]string{bwrap}, bwrapArgs...), absent: noBwrap},
		runcCmd,
	}
	meds := b.interleave(cmds)
	table("Start and exit", cmds, meds)
	b.sbxRun, b.unshare, b.bwrap = meds[0], meds[2], meds[3]
}

// binaryStart times sbx version, the start of the binary and of its
// command line with nothing else, next to an empty static Go program.
func (b *bench) binaryStart() {
	emptyCmd := command{label: "an empty static Go program", argv: []string{b.empty}}
	if b.empty == "" {
		emptyCmd.absent = "not given (-empty PATH; scripts/bench.sh builds bench/empty)"
	}
	cmds := []command{
		{label: "sbx version", argv: []string{b.sbx, "version"}},
		emptyCmd,
	}
	meds := b.interleave(cmds)
	table("Start of the binary", cmds, meds)
	b.sbxVersion, b.emptyGo = meds[0], meds[1]
}

// runcBundle prepares a rootless runc bundle with a static busybox root,
// running args, in new user, mount, pid, ipc, uts and network namespaces.
func (b *bench) runcBundle(runc, name string, args []string) (string, error) {
	dir := filepath.Join(b.work, "bundle-"+name)
	if _, err := busyboxRoot(filepath.Join(dir, "rootfs")); err != nil {
		return "", err
	}
	spec := exec.Command(runc, "spec", "--rootless")
	spec.Dir = dir
	if out, err := spec.CombinedOutput(); err != nil {
		return "", fmt.Errorf("runc spec: %v: %s", err, firstLine(string(out)))
	}
	var s specs.Spec
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	s.Process.Args = args
	s.Process.Terminal = false
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	out, err := json.Marshal(&s)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644)
}

// detached starts `sbx run -d --name NAME -- sleep` and returns its pid 1.
func (b *bench) detached(name string, env []string, extra ...string) (int, error) {
	args := append([]string{"run", "-d", "--name", name}, extra...)
	args = append(args, "--", "sleep", "100000")
	cmd := exec.Command(b.sbx, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sbx run -d: %v: %s", err, firstLine(string(out)))
	}
	out, err := exec.Command(b.sbx, "state", name).Output()
	if err != nil {
		return 0, fmt.Errorf("sbx state: %v", err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return 0, err
	}
	return st.Pid, nil
}

func (b *bench) remove(name string) { exec.Command(b.sbx, "rm", "-f", name).Run() }

func (b *bench) join() {
	pid, err := b.detached("bench-join", nil)
	if err != nil {
		fmt.Printf("### Joining a running sandbox\n\n%v\n\n", err)
		b.execSteps.err = err
		return
	}
	defer b.remove("bench-join")
	nsenter, noNsenter := lookup("nsenter", "util-linux")
	nsenterCmd := command{label: "nsenter " + strings.Join(nsenterArgs("PID"), " "),
		argv: append([]string{nsenter}, nsenterArgs(strconv.Itoa(pid))...), absent: noNsenter}
	runcCmd := command{label: "runc exec (rootless, busybox bundle)"}
	runc, noRunc := lookup("runc", "runc")
	runcCmd.absent = noRunc
	if runc != "" {
		stop, err := b.runcDetached(runc)
		if err != nil {
			runcCmd.absent = err.Error()
		} else {
			defer stop()
			runcCmd.argv = []string{runc, "--root", filepath.Join(b.work, "runc-state"), "exec", "bench-exec", "true"}
		}
	}
	cmds := []command{
		{label: "sbx exec NAME -- true", argv: []string{b.sbx, "exec", "bench-join", "--", "true"}},
		nsenterCmd,
		runcCmd,
	}
	meds := b.interleave(cmds)
	table("Joining a running sandbox", cmds, meds)
	b.sbxExec, b.nsenter = meds[0], meds[1]
	if cmds[0].absent == "" {
		b.execSteps = b.stepRounds(cmds[0].argv)
	} else {
		b.execSteps.err = errors.New(cmds[0].absent)
	}
}

// runcDetached starts a sleeping runc container for runc exec.
func (b *bench) runcDetached(runc string) (func(), error) {
	bundle, err := b.runcBundle(runc, "sleep", []string{"/bin/sleep", "100000"})
	if err != nil {
		return nil, fmt.Errorf("bundle: %v", err)
	}
	state := filepath.Join(b.work, "runc-state")
	// The container keeps runc's stdio: /dev/null, not a pipe we would
	// wait on.
	cmd := exec.Command(runc, "--root", state, "run", "-d", "-b", bundle, "bench-exec")
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("runc run -d fails here: %v", err)
	}
	return func() {
		exec.Command(runc, "--root", state, "kill", "bench-exec", "KILL").Run()
		time.Sleep(100 * time.Millisecond)
		exec.Command(runc, "--root", state, "delete", "-f", "bench-exec").Run()
	}, nil
}

// throughput runs each start-and-exit command 100 times in a row, then 50
// at once.
func (b *bench) throughput() {
	bwrap, noBwrap := lookup("bwrap", "bubblewrap")
	unshare, noUnshare := lookup("unshare", "util-linux")
	cmds := []command{
		{label: "sbx run -- true", argv: []string{b.sbx, "run", "--", "true"}},
		{label: "unshare " + strings.Join(unshareArgs, " "), argv: append([]string{unshare}, unshareArgs...), absent: noUnshare},
		{label: "bwrap ... --tmpfs /tmp true", argv: append([]string{bwrap}, bwrapArgs...), absent: noBwrap},
	}
	fmt.Printf("### Throughput\n\n| command | 100 in a row | 50 at once |\n|---|---:|---:|\n")
	for i, c := range cmds {
		if c.absent != "" {
			fmt.Printf("| `%s` | %s | |\n", c.label, c.absent)
			continue
		}
		seq, err := repeat(c.argv, 100, 1)
		if err != nil {
			fmt.Printf("| `%s` | %v | |\n", c.label, err)
			continue
		}
		switch i {
		case 0:
			b.seqSbx = seq
		case 2:
			b.seqBwrap = seq
		}
		par, err := repeat(c.argv, 50, 50)
		if err != nil {
			fmt.Printf("| `%s` | %s | %v |\n", c.label, ms(seq), err)
			continue
		}
		fmt.Printf("| `%s` | %s | %s |\n", c.label, ms(seq), ms(par))
	}
	fmt.Println()
}

// repeat runs argv n times, width at a time, and returns the wall time.
func repeat(argv []string, n, width int) (time.Duration, error) {
	start := time.Now()
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := once(argv); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}

// memInfo reads VmRSS, VmHWM and RssShmem of a process, in KiB.
func memInfo(pid int) (rss, peak, shmem int64, err error) {
	f, err := statusKiB(pid)
	return f["VmRSS"], f["VmHWM"], f["RssShmem"], err
}

// statusKiB reads the sizes (in KiB) of /proc/PID/status by field name.
func statusKiB(pid int) (map[string]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	f := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		f[k] = n
	}
	return f, nil
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// memory measures sbx's own processes while a sandbox runs: attached (the
// sbx parent and the sandbox's pid 1) and detached (pid 1 alone), with the
// unwritable copy of the binary made by a read-only bind mount and by a
// sealed memfd.
func (b *bench) memory() {
	fmt.Printf("### Memory of sbx's own processes while `sleep` runs in the sandbox\n\n" +
		"(An attached sbx hands a sandbox that runs for 0.2 s over to a small monitor; measured after that.)\n\n" +
		"| sandbox | process | RSS | peak RSS | of it shmem (memfd copy) |\n|---|---|---:|---:|---:|\n")
	for _, method := range []string{"bind", "memfd"} {
		env := []string{"SBX_CLONE=" + method}
		cmd := exec.Command(b.sbx, "run", "--", "sleep", "100000")
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			fmt.Printf("| attached, %s | %v | | | |\n", method, err)
			continue
		}
		init := waitChild(cmd.Process.Pid)
		waitMonitor(cmd.Process.Pid)
		for _, p := range []struct {
			name string
			pid  int
		}{{"sbx run (monitor)", cmd.Process.Pid}, {"pid 1 (init)", init}} {
			rss, peak, shm, err := memInfo(p.pid)
			if err != nil || p.pid == 0 {
				fmt.Printf("| attached, %s | %s | not found | | |\n", method, p.name)
				continue
			}
			fmt.Printf("| attached, %s | %s | %s | %s | %s |\n", method, p.name, mib(rss), mib(peak), mib(shm))
			if method == "bind" {
				b.attachedRSS += rss
			}
		}
		stop(cmd)

		name := "bench-mem-" + method
		pid, err := b.detached(name, env)
		if err != nil {
			fmt.Printf("| detached, %s | %v | | | |\n", method, err)
			continue
		}
		time.Sleep(50 * time.Millisecond)
		rss, peak, shm, err := memInfo(pid)
		if err == nil {
			fmt.Printf("| detached, %s | pid 1 (init) | %s | %s | %s |\n", method, mib(rss), mib(peak), mib(shm))
			if method == "bind" {
				b.detachedRSS = rss
			}
		}
		b.remove(name)
	}
	if st, err := os.Stat(b.sbx); err == nil {
		fmt.Printf("\nThe binary is %s: the bind method copies none of it; the memfd method keeps a copy per sandbox.\n", mib(st.Size()/1024))
	}
	if pss, err := b.sharedPSS(10); err == nil {
		fmt.Printf("With 10 attached sandboxes running (bind), sbx's own processes take %s per sandbox (PSS: pages shared between them, such as the binary's, counted once).\n", mib(pss))
		b.attachedPSS = pss
	} else {
		fmt.Printf("\nPSS of 10 attached sandboxes: %v\n", err)
	}
	fmt.Println()
}

// sharedPSS starts n attached sandboxes and returns the proportional set
// size of sbx's own processes (the parents and the pids 1) per sandbox.
func (b *bench) sharedPSS(n int) (int64, error) {
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			stop(c)
		}
	}()
	for range n {
		c := exec.Command(b.sbx, "run", "--", "sleep", "100000")
		if err := c.Start(); err != nil {
			return 0, err
		}
		cmds = append(cmds, c)
	}
	var total int64
	for _, c := range cmds {
		init := waitChild(c.Process.Pid)
		if init == 0 {
			return 0, errors.New("a sandbox did not start")
		}
		waitMonitor(c.Process.Pid)
		for _, pid := range []int{c.Process.Pid, init} {
			pss, err := pssOf(pid)
			if err != nil {
				return 0, err
			}
			total += pss
		}
	}
	return total / int64(n), nil
}

// pssOf reads the proportional set size of a process, in KiB.
func pssOf(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no Pss in smaps_rollup")
}

// children lists the children of every thread of pid.
func children(pid int) []string {
	var out []string
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		if data, err := os.ReadFile(t); err == nil {
			out = append(out, strings.Fields(string(data))...)
		}
	}
	return out
}

// stop ends an attached sandbox the way a user would, so that it removes
// its record: SIGTERM to sbx, forwarded to the command.
func stop(c *exec.Cmd) {
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.Process.Kill()
		<-done
	}
}

// waitMonitor waits (up to 2 s) until an attached sbx has handed its
// sandbox over to the monitor, the lighter process that watches a sandbox
// that runs for a while.
func waitMonitor(pid int) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(argv) == "sbx\x00monitor\x00" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitChild waits until parent has a child whose own child is the command
// (the sandbox's pid 1 with sleep under it) and returns the child.
func waitChild(parent int) int {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, f := range children(parent) {
			pid, _ := strconv.Atoi(f)
			for _, g := range children(pid) {
				if comm, _ := os.ReadFile("/proc/" + g + "/comm"); strings.TrimSpace(string(comm)) == "sleep" {
					return pid
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// scale times sbx run with 1, 100 and 1000 read-only binds.
func (b *bench) scale() {
	fmt.Printf("### Scale: read-only binds\n\n| binds | median | per bind |\n|---|---:|---:|\n")
	var cmds []command
	counts := []int{1, 100, 1000}
	for _, n := range counts {
		args := []string{b.sbx, "run", "--map", "single", "--tmpfs", "/mnt"}
		for i := range n {
			args = append(args, "--ro-bind", "/usr:/mnt/"+strconv.Itoa(i))
		}
		cmds = append(cmds, command{label: strconv.Itoa(n), argv: append(args, "--", "true")})
	}
	saved := b.rounds
	b.rounds = max(5, b.rounds/4)
	meds := b.interleave(cmds)
	b.rounds = saved
	for i, n := range counts {
		if cmds[i].absent != "" {
			fmt.Printf("| %d | %s | |\n", n, cmds[i].absent)
			continue
		}
		per := ""
		if i > 0 && meds[0] > 0 {
			per = fmt.Sprintf("%.3f ms", float64((meds[i]-meds[0]).Microseconds())/1000/float64(n-1))
		}
		fmt.Printf("| %d | %s | %s |\n", n, ms(meds[i]), per)
	}
	fmt.Println()
}

// verdict compares the headline figures with the targets of the project.
func (b *bench) verdict() {
	fmt.Printf("### Targets\n\n| target | measured | |\n|---|---:|---|\n")
	// row prints got against limit: at most limit, or below it when
	// strict ("faster than").
	row := func(name string, got, limit float64, strict bool, unit string) {
		if got == 0 {
			if !b.partial {
				fmt.Printf("| %s | not measured | |\n", name)
			}
			return
		}
		v := "met"
		if got > limit || strict && got >= limit {
			v = "missed"
		}
		fmt.Printf("| %s | %.2f%s | %s |\n", name, got, unit, v)
	}
	ratio := func(a, c time.Duration) float64 {
		if a == 0 || c == 0 {
			return 0
		}
		return float64(a) / float64(c)
	}
	bwrap := "`bwrap " + strings.Join(bwrapArgs, " ") + "`"
	run := ratio(b.sbxRun, b.bwrap)
	row("`sbx run -- true` ≤ 1.0x "+bwrap, run, 1.0, false, "x")
	row("`sbx run -- true` ≤ 0.8x "+bwrap+" (goal)", run, 0.8, false, "x")
	row("`sbx run -- true` ≤ 2x `unshare "+strings.Join(unshareArgs, " ")+"`", ratio(b.sbxRun, b.unshare), 2, false, "x")
	row("`sbx exec NAME -- true` ≤ 3x `nsenter "+strings.Join(nsenterArgs("PID"), " ")+"`", ratio(b.sbxExec, b.nsenter), 3, false, "x")
	row("`sbx exec NAME -- true` faster than `sbx run -- true`", ratio(b.sbxExec, b.sbxRun), 1, true, "x")
	row("`sbx version` ≤ 1.5x an empty static Go program", ratio(b.sbxVersion, b.emptyGo), 1.5, false, "x")
	row("100 sequential `sbx run -- true` faster than 100 bwrap", ratio(b.seqSbx, b.seqBwrap), 1, true, "x")
	row("attached sandbox ≤ 8 MiB RSS (one sandbox)", float64(b.attachedRSS)/1024, 8, false, " MiB")
	row("attached sandbox ≤ 8 MiB (PSS, 10 sandboxes)", float64(b.attachedPSS)/1024, 8, false, " MiB")
	row("detached sandbox ≤ 2 MiB RSS", float64(b.detachedRSS)/1024, 2, false, " MiB")
	row("`sbx run --net host -- true` ≤ 1.0x `sbx run --net none -- true`", ratio(b.netHost, b.netNone), 1.0, false, "x")
	row("`podman --runtime sbx run --rm IMAGE true` faster than `podman --runtime runc` (--network none)", ratio(b.podmanSbx, b.podmanRunc), 1, true, "x")
	fmt.Println()
}

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cgroup tests check sbx's cgroups against the backend the harness
// made available (SBX_TEST_CGROUP): "none" on a host without cgroup v2
// (or without delegation and user manager), "cgroupfs" where the test
// user runs in a delegated cgroup, "systemd" where it reaches its systemd
// user manager from a cgroup it does not own. scripts/test.sh and
// scripts/vm-test.sh set it. The tests named TestLimits* need a backend:
// the harness runs them where it made one (in VMs with cgroup v2), not on a
// host with SBX_TEST_CGROUP=none.

// cgroupBackend returns the backend sbx must find here.
func cgroupBackend(t *testing.T) string {
	t.Helper()
	b := os.Getenv("SBX_TEST_CGROUP")
	switch b {
	case "none", "cgroupfs", "systemd":
		return b
	}
	t.Fatalf("SBX_TEST_CGROUP=%q: want none, cgroupfs or systemd (run the tests through scripts/test.sh, or `make test`, which set it)", b)
	return ""
}

// cgroupMount is the cgroup v2 hierarchy on the host.
const cgroupMount = "/sys/fs/cgroup"

// limitFlags are the resource flags with a good value each.
var limitFlags = [][]string{
	{"--memory", "32m"},
	{"--memory-swap", "64m", "--memory", "32m"},
	{"--memory-reservation", "16m"},
	{"--pids-limit", "20"},
	{"--cpus", "0.5"},
	{"--cpu-weight", "200"},
	{"--cpuset-cpus", "0"},
	{"--io-weight", "300"},
}

// TestCgroupBadValues checks that each resource flag refuses a bad value
// before anything starts: one line naming the flag, exit 125, wherever
// sbx runs.
func TestCgroupBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--memory", "-5m"}, "--memory"},
		{[]string{"--memory", "1m"}, "--memory"},
		{[]string{"--memory-swap", "64m"}, "--memory-swap"},
		{[]string{"--memory", "64m", "--memory-swap", "32m"}, "--memory-swap"},
		{[]string{"--memory", "32m", "--memory-reservation", "64m"}, "--memory-reservation"},
		{[]string{"--pids-limit", "0"}, "--pids-limit"},
		{[]string{"--pids-limit", "ten"}, "--pids-limit"},
		{[]string{"--cpus", "0"}, "--cpus"},
		{[]string{"--cpus", "100000"}, "--cpus"},
		{[]string{"--cpus", "NaN"}, "--cpus"},
		{[]string{"--cpu-weight", "0"}, "--cpu-weight"},
		{[]string{"--cpu-weight", "10001"}, "--cpu-weight"},
		{[]string{"--cpuset-cpus", "3-1"}, "--cpuset-cpus"},
		{[]string{"--cpuset-cpus", "4096"}, "--cpuset-cpus"},
		{[]string{"--cpuset-cpus", "a"}, "--cpuset-cpus"},
		{[]string{"--io-weight", "0"}, "--io-weight"},
		{[]string{"--cgroup-manager", "lxc"}, "--cgroup-manager"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			tok := token()
			r := h.sbx(t, append(append([]string{"run"}, tt.args...), "--", "sh", "-c", "echo "+tok)...)
			r.expect(t, 125)
			if strings.Contains(r.stdout, tok) {
				t.Fatalf("the command ran:\n%s", r)
			}
			if l := lines(r.stderr); len(l) != 1 || !strings.HasPrefix(l[0], "sbx: "+tt.flag) {
				t.Fatalf("want one line starting with %q, got:\n%s", "sbx: "+tt.flag, r)
			}
			if list := h.ps(t); len(list) != 0 {
				t.Fatalf("a refused sandbox left a record: %v", list)
			}
		})
	}
}

// TestCgroupWithoutBackend checks, where sbx can make no cgroup, that each
// limit is refused with one line that says why and points to `sbx check`,
// that a sandbox without limits runs as before, and that naming a backend
// that is not there is refused too. Where there is a backend,
// --cgroup-manager none gives the same: no cgroup, limits refused.
func TestCgroupWithoutBackend(t *testing.T) {
	t.Parallel()
	var extra []string
	if cgroupBackend(t) != "none" {
		extra = []string{"--cgroup-manager", "none"}
	}
	for _, flags := range limitFlags {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			tok := token()
			args := append(append(append([]string{"run"}, extra...), flags...), "--", "sh", "-c", "echo "+tok)
			r := h.sbx(t, args...)
			r.expect(t, 125)
			if strings.Contains(r.stdout, tok) {
				t.Fatalf("the command ran:\n%s", r)
			}
			l := lines(r.stderr)
			if len(l) != 1 || !strings.HasPrefix(l[0], "sbx: "+flags[0]) && !strings.HasPrefix(l[0], "sbx: --memory") ||
				!strings.Contains(l[0], "sbx check") || !strings.Contains(l[0], "cgroup") {
				t.Fatalf("want one line naming %s, the cgroup and `sbx check`, got:\n%s", flags[0], r)
			}
			if list := h.ps(t); len(list) != 0 {
				t.Fatalf("a refused sandbox left a record: %v", list)
			}
		})
	}
	t.Run("no limit", func(t *testing.T) {
		t.Parallel()
		h := newStateHome(t)
		name := sandboxName("nocgroup")
		r := h.sbx(t, append(append([]string{"run", "-d", "--name", name}, extra...), "--", "sleep", "600")...)
		h.cleanup(t, name)
		r.ok(t)
		st := h.state(t, name)
		var cs cgroupState
		if out := h.sbx(t, "state", name).ok(t); json.Unmarshal([]byte(out), &cs) != nil || cs.Cgroup != nil {
			t.Errorf("sbx state names a cgroup:\n%s", out)
		}
		// The sandbox stays in the caller's cgroup.
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
		if err != nil {
			t.Fatal(err)
		}
		// Other tests' sandboxes may move the test's processes, its
		// sandboxes' among them, to the leaf init meanwhile.
		own := strings.TrimSuffix(ownCgroup(t), "/init")
		got := ""
		for _, l := range lines(string(b)) {
			if p, ok := strings.CutPrefix(l, "0::"); ok {
				got = strings.TrimSuffix(p, "/init")
			}
		}
		if got != own {
			t.Errorf("the sandbox's pid 1 is in %q, want the caller's cgroup %q", b, own)
		}
	})
	if cgroupBackend(t) == "none" {
		for _, m := range []string{"cgroupfs", "systemd"} {
			t.Run("--cgroup-manager "+m, func(t *testing.T) {
				t.Parallel()
				r := sbx(t, "run", "--cgroup-manager", m, "--", "true")
				r.expect(t, 125)
				if l := lines(r.stderr); len(l) != 1 || !strings.HasPrefix(l[0], "sbx: --cgroup-manager "+m) || !strings.Contains(l[0], "sbx check") {
					t.Fatalf("want one line naming --cgroup-manager %s and `sbx check`, got:\n%s", m, r)
				}
			})
		}
	}
}

// ownCgroup is the test's own cgroup (its path in the hierarchy).
func ownCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(b)) {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	t.Fatalf("no cgroup v2 line in /proc/self/cgroup:\n%s", b)
	return ""
}

// requireCgroupBackend fails the test unless the harness made a backend
// available (the test is about a sandbox's cgroup).
func requireCgroupBackend(t *testing.T) string {
	t.Helper()
	b := cgroupBackend(t)
	if b == "none" {
		t.Fatalf("SBX_TEST_CGROUP=none: this test needs a cgroup backend; `make test` runs it in a VM with cgroup v2 (scripts/vm-test.sh)")
	}
	return b
}

// cgroupState is the cgroup part of `sbx state`.
type cgroupState struct {
	Cgroup *struct {
		Path   string `json:"path"`
		Unit   string `json:"unit"`
		Memory *int64 `json:"memory_bytes"`
		Pids   *int64 `json:"pids"`
	} `json:"cgroup"`
}

// sandboxCgroup returns the host directory of a running sandbox's cgroup,
// from `sbx state`.
func (h *stateHome) sandboxCgroup(t *testing.T, name string) (string, cgroupState) {
	t.Helper()
	r := h.sbx(t, "state", name)
	var st cgroupState
	if err := json.Unmarshal([]byte(r.ok(t)), &st); err != nil {
		t.Fatalf("sbx state: %v\n%s", err, r)
	}
	if st.Cgroup == nil || st.Cgroup.Path == "" {
		t.Fatalf("sbx state of %s names no cgroup:\n%s", name, r)
	}
	return filepath.Join(cgroupMount, st.Cgroup.Path), st
}

// readCgroupFile reads an interface file of a cgroup on the host.
func readCgroupFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// cgroupKey reads "key value" from a flat-keyed interface file.
func cgroupKey(t *testing.T, content, key string) int64 {
	t.Helper()
	for _, l := range lines(content) {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", key, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in:\n%s", key, content)
	return 0
}

// TestLimitsFlags checks each flag against the interface file it sets,
// as the sandbox reads it in its own /sys/fs/cgroup (its cgroup namespace
// has its cgroup as the root), and on the host, in the sandbox's cgroup,
// where the limit holds out of the sandbox's reach.
func TestLimitsFlags(t *testing.T) {
	t.Parallel()
	requireCgroupBackend(t)
	tests := []struct {
		flags      []string
		file, want string
	}{
		{[]string{"--memory", "32m"}, "memory.max", "33554432"},
		{[]string{"--memory", "32m", "--memory-swap", "96m"}, "memory.swap.max", "67108864"},
		{[]string{"--memory", "32m", "--memory-swap", "-1"}, "memory.swap.max", "max"},
		{[]string{"--memory-reservation", "16m"}, "memory.low", "16777216"},
		{[]string{"--pids-limit", "20"}, "pids.max", "20"},
		{[]string{"--pids-limit", "-1"}, "pids.max", "max"},
		{[]string{"--cpus", "0.5"}, "cpu.max", "50000 100000"},
		{[]string{"--cpus", "1.25"}, "cpu.max", "125000 100000"},
		{[]string{"--cpu-weight", "200"}, "cpu.weight", "200"},
		{[]string{"--cpuset-cpus", "0"}, "cpuset.cpus", "0"},
		{[]string{"--io-weight", "300"}, "io.weight", "default 300"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.flags, " "), func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			name := sandboxName("limit")
			args := append(append([]string{"run", "-d", "--name", name}, tt.flags...), "--", "sleep", "600")
			r := h.sbx(t, args...)
			h.cleanup(t, name)
			r.ok(t)
			dir, _ := h.sandboxCgroup(t, name)
			if got := readCgroupFile(t, dir, tt.file); !strings.HasPrefix(got, tt.want) {
				t.Errorf("host: %s/%s is %q, want %q", dir, tt.file, got, tt.want)
			}
			in := h.sbx(t, "exec", name, "--", "sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/"+tt.file)
			l := lines(in.ok(t))
			if len(l) < 2 || l[0] != "0::/" || !strings.HasPrefix(l[1], tt.want) {
				t.Errorf("inside: want 0::/ and %s %q, got:\n%s", tt.file, tt.want, in)
			}
		})
	}
}

// TestLimitsOOM checks that a command past --memory is killed by the
// kernel, and that sbx exits 137 with one line saying the memory limit
// was reached, whether sbx still waits itself or has handed the sandbox
// over to its monitor (the command runs longer than that takes).
func TestLimitsOOM(t *testing.T) {
	t.Parallel()
	requireCgroupBackend(t)
	// tail keeps all of a "line" of 64 MiB.
	const hog = `head -c 67108864 /dev/zero | tail >/dev/null && echo survived`
	for _, tt := range []struct{ name, script string }{
		{"at once", hog},
		{"monitor", "sleep 2; " + hog},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sbx(t, "run", "--memory", "32m", "--", "sh", "-c", tt.script)
			r.expect(t, 137)
			if strings.Contains(r.stdout, "survived") {
				t.Fatalf("the command outlived the limit:\n%s", r)
			}
			// The shell may say "Killed" first.
			want := "sbx: the sandbox reached its memory limit (32m): the kernel killed"
			if l := lines(r.stderr); len(l) == 0 || !strings.HasPrefix(l[len(l)-1], want) || strings.Count(r.stderr, "sbx:") != 1 {
				t.Fatalf("want one last line %q..., got:\n%s", want, r)
			}
		})
	}
	t.Run("baseline", func(t *testing.T) {
		t.Parallel()
		// Without the limit the same command runs to its end.
		r := sbx(t, "run", "--", "sh", "-c", hog)
		if !strings.Contains(r.ok(t), "survived") || r.stderr != "" {
			t.Fatalf("without --memory, want the command to survive silently:\n%s", r)
		}
	})
}

// TestLimitsForkBomb checks that a fork bomb under --pids-limit stops at
// the limit, that the user can still start processes meanwhile, and that
// sbx rm -f ends it all (cgroup.kill) and removes the cgroup.
func TestLimitsForkBomb(t *testing.T) {
	t.Parallel()
	requireCgroupBackend(t)
	h := newStateHome(t)
	name := sandboxName("bomb")
	r := h.sbx(t, "run", "-d", "--name", name, "--pids-limit", "20", "--", "sh", "-c", "b() { b & b; }; b & exec sleep 600")
	h.cleanup(t, name)
	r.ok(t)
	dir, _ := h.sandboxCgroup(t, name)
	// The leaf counts the forks its limit refused (before Linux 6.12,
	// only the cgroup the task is in counts them).
	deadline := time.Now().Add(pollTimeout)
	leaf := filepath.Join(dir, "sandbox")
	for cgroupKey(t, readCgroupFile(t, leaf, "pids.events"), "max") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the fork bomb never reached the limit: pids.current %s", readCgroupFile(t, dir, "pids.current"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, _ := strconv.Atoi(readCgroupFile(t, dir, "pids.current")); n > 20 {
		t.Fatalf("pids.current is %d, over the limit of 20", n)
	}
	// The user is not out of processes.
	for i := 0; i < 5; i++ {
		if out, err := exec.Command("sh", "-c", "echo ok").Output(); err != nil || string(out) != "ok\n" {
			t.Fatalf("the host user cannot start a process while the bomb runs: %v %q", err, out)
		}
	}
	h.sbx(t, "rm", "-f", name).ok(t)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("after sbx rm -f, the cgroup %s is still there (%v)", dir, err)
	}
}

// TestLimitsKill checks that sbx kill NAME KILL empties the sandbox's
// cgroup, processes that left pid 1 behind (double fork, new session)
// included, and that exec joins the cgroup and its limits.
func TestLimitsKill(t *testing.T) {
	t.Parallel()
	requireCgroupBackend(t)
	h := newStateHome(t)
	name := sandboxName("cgkill")
	r := h.sbx(t, "run", "-d", "--name", name, "--pids-limit", "50", "--",
		"sh", "-c", "setsid sh -c 'sleep 600 & exit' ; (sleep 601 &) ; exec sleep 602")
	h.cleanup(t, name)
	r.ok(t)
	dir, _ := h.sandboxCgroup(t, name)
	in := h.waitExecOK(t, name, "sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max")
	if l := lines(in); len(l) != 2 || l[0] != "0::/" || l[1] != "50" {
		t.Fatalf("exec: want its cgroup to be the sandbox's (0::/, pids.max 50), got %q", in)
	}
	deadline := time.Now().Add(pollTimeout)
	for {
		if n, _ := strconv.Atoi(readCgroupFile(t, dir, "pids.current")); n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 3 sleeps in the cgroup, pids.current is %s", readCgroupFile(t, dir, "pids.current"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.sbx(t, "kill", name, "KILL").ok(t)
	// Empty, or gone already (systemd removes an empty scope whole).
	empty := func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		return os.IsNotExist(err) || err == nil && strings.Contains(string(b), "populated 0")
	}
	deadline = time.Now().Add(pollTimeout)
	for !empty() {
		if time.Now().After(deadline) {
			t.Fatalf("after sbx kill KILL the cgroup still holds: %s", readCgroupFile(t, dir, "cgroup.procs"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.waitStatus(t, name, "exited")
	h.sbx(t, "rm", name).ok(t)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("after sbx rm, the cgroup %s is still there (%v)", dir, err)
	}
}

// TestLimitsCleanup checks that no cgroup is left after many sandboxes,
// attached and detached, nor after sbx itself was killed (the next sbx ps
// cleans up).
func TestLimitsCleanup(t *testing.T) {
	t.Parallel()
	backend := requireCgroupBackend(t)
	h := newStateHome(t)
	base := ownCgroup(t)
	count := func() int {
		n := 0
		filepath.WalkDir(cgroupMount, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "sbx-cleanup-") {
				n++
			}
			return nil
		})
		return n
	}
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("cleanup-%d-%s", i, token()[:6])
		args := []string{"run", "--name", name, "--", "true"}
		if i%10 == 9 {
			args = []string{"run", "--name", name, "--pids-limit", "10", "--", "sh", "-c", "sleep 0.3"}
		}
		h.sbx(t, args...).ok(t)
	}
	// systemd removes an emptied scope a moment after sbx exits.
	deadline := time.Now().Add(pollTimeout)
	for n := count(); n != 0; n = count() {
		if time.Now().After(deadline) {
			t.Fatalf("%d cgroups of sandboxes are left after 50 runs (%s backend, test cgroup %s)", n, backend, base)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// sbx killed while its sandbox runs.
	name := "cleanup-killed-" + token()[:6]
	p := startInvocation(t, h.inv("run", "--name", name, "--", "sh", "-c", "echo up; sleep 600"))
	p.waitLine(t, "up")
	dir, _ := h.sandboxCgroup(t, name)
	st := h.state(t, name)
	p.signal(t, syscall.SIGKILL)
	p.wait(t)
	waitPidEnded(t, st.Pid)
	if _, err := os.Stat(dir); err != nil {
		t.Logf("the cgroup went with sbx already: %v", err)
	}
	h.sbx(t, "ps").ok(t)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("after sbx ps, the cgroup %s of a sandbox whose sbx was killed is still there (%v)", dir, err)
	}
	// Its record went too (see TestCrashedRunCleaned).
	if _, ok := h.ps(t)[name]; ok {
		t.Errorf("after sbx ps, the record of %s, whose sbx was killed, is still listed", name)
	}
}

// TestLimitsStats checks what sbx stats, ps and state say a sandbox uses.
func TestLimitsStats(t *testing.T) {
	t.Parallel()
	requireCgroupBackend(t)
	h := newStateHome(t)
	name := sandboxName("stats")
	r := h.sbx(t, "run", "-d", "--name", name, "--memory", "64m", "--pids-limit", "30", "--", "sh", "-c", "sleep 600 & sleep 601")
	h.cleanup(t, name)
	r.ok(t)
	var stats []struct {
		Name        string `json:"name"`
		Memory      *int64 `json:"memory_bytes"`
		MemoryPeak  *int64 `json:"memory_peak_bytes"`
		MemoryLimit *int64 `json:"memory_limit_bytes"`
		Pids        *int64 `json:"pids"`
		PidsLimit   *int64 `json:"pids_limit"`
		CPU         *int64 `json:"cpu_usec"`
		OOMKills    *int64 `json:"oom_kills"`
	}
	// Until the command has started both sleeps.
	var out string
	for deadline := time.Now().Add(pollTimeout); ; {
		out = h.sbx(t, "stats", "--json", name).ok(t)
		stats = nil
		if err := json.Unmarshal([]byte(out), &stats); err != nil || len(stats) != 1 {
			t.Fatalf("sbx stats --json: %v\n%s", err, out)
		}
		if p := stats[0].Pids; p != nil && *p >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := stats[0]
	switch {
	case s.Memory == nil || *s.Memory <= 0:
		t.Errorf("memory_bytes: want > 0:\n%s", out)
	case s.MemoryLimit == nil || *s.MemoryLimit != 64<<20:
		t.Errorf("memory_limit_bytes: want %d:\n%s", 64<<20, out)
	case s.Pids == nil || *s.Pids < 3:
		t.Errorf("pids: want at least 3 (pid 1 and two sleeps):\n%s", out)
	case s.PidsLimit == nil || *s.PidsLimit != 30:
		t.Errorf("pids_limit: want 30:\n%s", out)
	case s.CPU == nil || *s.CPU <= 0:
		t.Errorf("cpu_usec: want > 0:\n%s", out)
	case s.OOMKills == nil || *s.OOMKills != 0:
		t.Errorf("oom_kills: want 0:\n%s", out)
	}
	table := lines(h.sbx(t, "stats").ok(t))
	if len(table) != 2 || !strings.HasPrefix(table[0], "NAME") || !strings.HasPrefix(table[1], name) {
		t.Errorf("sbx stats: want a header and one line for %s, got %q", name, table)
	}
	if e := h.ps(t)[name]; e.Memory == nil || *e.Memory <= 0 || e.Pids == nil || *e.Pids < 3 {
		t.Errorf("sbx ps --json: want memory_bytes and pids of %s, got %+v", name, e)
	}
	_, st := h.sandboxCgroup(t, name)
	if st.Cgroup.Memory == nil || st.Cgroup.Pids == nil {
		t.Errorf("sbx state: want the cgroup's memory and pids, got %+v", *st.Cgroup)
	}
}

// TestLimitsCpus checks that --cpus 0.2 keeps a busy loop near a fifth of
// one CPU: the kernel throttles it (cpu.stat).
func TestLimitsCpus(t *testing.T) {
	t.Parallel()
	requireCgroupBackend(t)
	script := `read_usage() { sed -n 's/^usage_usec //p' /sys/fs/cgroup/cpu.stat; }
u0=$(read_usage); t0=$(date +%s%N)
timeout 3 sh -c 'while :; do :; done'
u1=$(read_usage); t1=$(date +%s%N)
echo $(( (u1 - u0) * 1000 )) $(( t1 - t0 ))
sed -n 's/^nr_throttled //p' /sys/fs/cgroup/cpu.stat`
	r := sbx(t, "run", "--cpus", "0.2", "--", "sh", "-c", script)
	l := lines(r.ok(t))
	if len(l) != 2 {
		t.Fatalf("want two lines:\n%s", r)
	}
	var used, wall float64
	if _, err := fmt.Sscan(l[0], &used, &wall); err != nil || wall <= 0 {
		t.Fatalf("bad figures %q: %v", l[0], err)
	}
	share := used / wall
	if share < 0.1 || share > 0.3 {
		t.Errorf("the busy loop had %.2f of a CPU, want about 0.2", share)
	}
	if n, _ := strconv.Atoi(l[1]); n == 0 {
		t.Errorf("cpu.stat: nr_throttled is 0, the loop was never throttled")
	}
}

// TestLimitsOutOfReach tries to lift the sandbox's memory limit from
// inside: its /sys/fs/cgroup is read-only, and a cgroup2 mount of its own
// (in a user namespace of its own) reaches only the cgroup it is in. That
// cgroup's copy of the limit is the user's file, which the user can raise
// from the host (the baseline: the write works, so only the view and the
// namespaces keep the sandbox from it); the limit that holds is one level
// up, out of the sandbox's reach: after the raise, a command past the limit
// is still killed.
func TestLimitsOutOfReach(t *testing.T) {
	t.Parallel()
	requireCgroupBackend(t)
	unshare := requireTool(t, "unshare", "apt-get install util-linux")
	h := newStateHome(t)
	name := sandboxName("reach")
	r := h.sbx(t, "run", "-d", "--name", name, "--memory", "32m", "--allow-userns", "--seccomp", "unconfined", "--", "sleep", "600")
	h.cleanup(t, name)
	r.ok(t)
	dir, _ := h.sandboxCgroup(t, name)

	r = h.sbx(t, "exec", name, "--", "sh", "-c", "echo max > /sys/fs/cgroup/memory.max && echo raised")
	if r.code == 0 || strings.Contains(r.stdout, "raised") {
		t.Fatalf("the sandbox raised its memory limit through /sys/fs/cgroup:\n%s", r)
	}
	// Its own cgroup2 mount, on a tmpfs (the kernel refuses one on top
	// of the same cgroup): refused, or only the copy is raised.
	nested := unshare + ` -rmC sh -c 'mount -t tmpfs none /tmp && mkdir /tmp/cg && mount -t cgroup2 none /tmp/cg && echo max > /tmp/cg/memory.max && echo raised'`
	r = h.sbx(t, "exec", name, "--", "sh", "-c", nested)
	t.Logf("nested cgroup2 mount: exit %d, %q %q", r.code, r.stdout, r.stderr)
	// The baseline: the user may raise the leaf's copy from the host.
	leaf := filepath.Join(dir, "sandbox", "memory.max")
	if err := os.WriteFile(leaf, []byte("max"), 0); err != nil {
		t.Fatalf("baseline: the host user cannot raise %s: %v", leaf, err)
	}
	if got := readCgroupFile(t, filepath.Dir(leaf), "memory.max"); got != "max" {
		t.Fatalf("baseline: %s is %q after writing max", leaf, got)
	}
	r = h.sbx(t, "exec", name, "--", "sh", "-c", "head -c 67108864 /dev/zero | tail >/dev/null && echo survived")
	if r.code != 137 || strings.Contains(r.stdout, "survived") {
		t.Fatalf("want the limit to hold (exit 137) with the leaf's copy raised:\n%s", r)
	}
}

// The TestSystemd* tests need a systemd user manager (SBX_TEST_CGROUP=
// systemd): the harness runs them in the VM that boots systemd.

// requireSystemd fails the test unless the harness provides a systemd
// user manager.
func requireSystemd(t *testing.T) {
	t.Helper()
	if cgroupBackend(t) != "systemd" {
		t.Fatalf("SBX_TEST_CGROUP=%s: this test needs a systemd user manager; `make test` runs it in the VM that boots systemd (scripts/vm-test.sh)", cgroupBackend(t))
	}
}

// TestSystemdScope checks the systemd backend: the sandbox's cgroup is in
// a transient scope of the user's manager, which is active while the
// sandbox runs and gone after sbx rm -f.
func TestSystemdScope(t *testing.T) {
	t.Parallel()
	requireSystemd(t)
	systemctl := requireTool(t, "systemctl", "apt-get install systemd")
	h := newStateHome(t)
	name := sandboxName("scope")
	r := h.sbx(t, "run", "-d", "--name", name, "--cgroup-manager", "systemd", "--memory", "48m", "--", "sleep", "600")
	h.cleanup(t, name)
	r.ok(t)
	dir, st := h.sandboxCgroup(t, name)
	unit := st.Cgroup.Unit
	if !strings.HasSuffix(unit, ".scope") || !strings.Contains(dir, "/"+unit+"/") {
		t.Fatalf("want the cgroup %s in a scope, unit %q", dir, unit)
	}
	show := func() string {
		out, _ := exec.Command(systemctl, "--user", "show", "-p", "ActiveState", "--value", unit).Output()
		return strings.TrimSpace(string(out))
	}
	if got := show(); got != "active" {
		t.Fatalf("systemctl --user: %s is %q, want active", unit, got)
	}
	if got := readCgroupFile(t, dir, "memory.max"); got != "50331648" {
		t.Errorf("%s/memory.max is %q", dir, got)
	}
	in := h.sbx(t, "exec", name, "--", "sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/memory.max")
	if l := lines(in.ok(t)); len(l) != 2 || l[0] != "0::/" || l[1] != "50331648" {
		t.Errorf("exec: want 0::/ and 50331648, got %q", l)
	}
	h.sbx(t, "rm", "-f", name).ok(t)
	deadline := time.Now().Add(pollTimeout)
	for show() == "active" {
		if time.Now().After(deadline) {
			t.Fatalf("%s is still active after sbx rm -f", unit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the cgroup %s is still there after sbx rm -f (%v)", dir, err)
	}
}

// TestSystemdDelegatedScope checks sbx inside a scope delegated to the user
// (`systemd-run --user --scope -p Delegate=yes sbx run ...`, the usual way
// to give one command a cgroup of its own): the limit holds there too, with
// sbx's own process moved out of the way of the controllers when it uses
// the scope itself.
func TestSystemdDelegatedScope(t *testing.T) {
	t.Parallel()
	requireSystemd(t)
	run := requireTool(t, "systemd-run", "apt-get install systemd")
	cmd := exec.Command(run, "--user", "--scope", "--quiet", "-p", "Delegate=yes", sbxBinary(t),
		"run", "--memory", "40m", "--", "sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/memory.max")
	cmd.Dir = testDir(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	if l := lines(string(out)); len(l) != 2 || l[0] != "0::/" || l[1] != "41943040" {
		t.Fatalf("want 0::/ and 41943040, got:\n%s", out)
	}
}

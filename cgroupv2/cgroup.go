// Package cgroupv2 gives each sandbox a cgroup v2 of its own, with the
// limits asked for (memory, pids, cpu, io), in a part of the hierarchy the
// user may manage: a delegated subtree (cgroupfs) or a transient scope with
// Delegate=yes from the user's systemd manager (systemd). It also reads a
// sandbox's usage, and kills and removes what is left of it.
//
// A sandbox's cgroup is two directories: Dir holds the limits (and is what
// usage is read from); its child Leaf holds the processes and is the root
// of the sandbox's cgroup namespace. Leaf has the same limits, so that
// programs inside read them where they look (/sys/fs/cgroup/memory.max);
// those in Dir, which the sandbox cannot reach through any cgroup mount of
// its own, are the ones that hold.
package cgroupv2

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// Mount is where the cgroup v2 hierarchy is mounted.
const Mount = "/sys/fs/cgroup"

// leafName is the child of a sandbox's cgroup that holds its processes.
const leafName = "sandbox"

// hostLeaf is the child a delegated cgroup's own processes move to when
// they stand in the way of enabling controllers (the no-internal-process
// rule), as container engines name it.
const hostLeaf = "init"

// Unified reports whether the cgroup v2 hierarchy is mounted at Mount, and
// alone (a v1 or hybrid host mounts a tmpfs there).
func Unified() bool {
	var st unix.Statfs_t
	return unix.Statfs(Mount, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// Cgroup is a sandbox's cgroup.
type Cgroup struct {
	// Dir is the directory of the sandbox's cgroup, under Mount.
	Dir string
	// Unit is the systemd scope it was made in, "" for none.
	Unit string
}

// Leaf is the directory of the cgroup the sandbox's processes are in.
func (c *Cgroup) Leaf() string { return filepath.Join(c.Dir, leafName) }

// Self returns the directory of the cgroup the calling process is in.
func Self() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(Mount, path), nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

// create makes the sandbox cgroup name in parent with the limits r: pid,
// if not 0, moves into its leaf first (out of parent, a scope that holds
// it). own says the processes left in parent (sbx's, the user's) may move
// to the leaf hostLeaf when they stand in the way of enabling its
// controllers.
func create(parent, name string, r plan.Resources, pid int, own bool) (*Cgroup, error) {
	c := &Cgroup{Dir: filepath.Join(parent, name)}
	if err := unix.Mkdir(c.Dir, 0o755); err != nil {
		// EEXIST too: names are new (see name).
		return nil, fmt.Errorf("create cgroup %s: %w", c.Dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			c.Remove()
		}
	}()
	if err := unix.Mkdir(c.Leaf(), 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", c.Leaf(), err)
	}
	if pid != 0 {
		if err := Place(c.Leaf(), pid); err != nil {
			return nil, err
		}
	}
	want, all, err := controllers(parent, r)
	if err != nil {
		return nil, err
	}
	// Every controller at once in parent, so that later starts need not
	// enable one there (see enableFor).
	if err := enable(parent, all, own); err != nil {
		return nil, err
	}
	if err := enable(c.Dir, want, false); err != nil {
		return nil, err
	}
	for _, dir := range []string{c.Dir, c.Leaf()} {
		for _, f := range files(r) {
			if err := writeFile(filepath.Join(dir, f.name), f.value); err != nil {
				return nil, fmt.Errorf("%s: set %s to %q: %w", flagOf(f.name), filepath.Join(dir, f.name), f.value, err)
			}
		}
	}
	ok = true
	return c, nil
}

// controllers returns the controllers a sandbox cgroup under parent gets
// (want): memory and pids when parent has them (for usage and the OOM
// report), and whatever r needs, which must be there; and all those of
// sbx's that parent has, which parent enables for its children.
func controllers(parent string, r plan.Resources) (want, all []string, err error) {
	b, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return nil, nil, fmt.Errorf("read the controllers of %s: %w", parent, err)
	}
	have := strings.Fields(string(b))
	if len(have) < len(sbxControllers) {
		// What the delegated cgroups above parent have, they may
		// hand down to it (once; then parent has them).
		for _, c := range sbxControllers {
			if !slices.Contains(have, c) && provide(parent, c) {
				have = append(have, c)
			}
		}
	}
	has := func(c string) bool {
		for _, h := range have {
			if h == c {
				return true
			}
		}
		return false
	}
	for _, c := range sbxControllers {
		if has(c) {
			all = append(all, c)
		}
	}
	add := func(c string) {
		for _, w := range want {
			if w == c {
				return
			}
		}
		want = append(want, c)
	}
	for _, c := range []string{"memory", "pids"} {
		if has(c) {
			add(c)
		}
	}
	for _, f := range files(r) {
		if !has(f.controller) {
			where := parent + " does not have it"
			if strings.Contains(parent, ".service/") && strings.HasSuffix(parent, ".scope") {
				where = "your systemd user manager does not delegate it"
			}
			return nil, nil, fmt.Errorf("%s needs the %s controller, and %s (only: %s): delegate it "+
				"(for systemd, a drop-in for user@.service with Delegate=cpu cpuset io memory pids; see the README), or run `sbx check`",
				flagOf(f.name), f.controller, where, strings.Join(have, " "))
		}
		add(f.controller)
	}
	return want, all, nil
}

// sbxControllers are the controllers sbx sets limits with.
var sbxControllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

// provide makes the controller c available in the cgroup dir (listed in
// its cgroup.controllers) by enabling it for the children of the delegated
// cgroups above it, as far up as it takes; it reports whether c is there.
func provide(dir, c string) bool {
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); err == nil && slices.Contains(strings.Fields(string(b)), c) {
		return true
	}
	parent := filepath.Dir(dir)
	if !strings.HasPrefix(parent, Mount+"/") || !delegated(parent) || !provide(parent, c) {
		return false
	}
	return enableFor(parent, "+"+c) == nil
}

// enableFor writes to the cgroup.subtree_control of dir. The kernel
// refuses (EPERM) while a process below dir runs with more privilege than
// the user, such as the setuid newuidmap of another sandbox's start, for
// the few milliseconds that takes: it is tried again for a while.
func enableFor(dir, value string) error {
	path := filepath.Join(dir, "cgroup.subtree_control")
	var err error
	for i := 0; i < 50; i++ {
		if err = writeFile(path, value); !errors.Is(err, unix.EPERM) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// enable makes sure the controllers are enabled for the children of dir.
// With own set, processes in dir that keep them from being enabled (the
// no-internal-process rule) move to its leaf hostLeaf first.
func enable(dir string, want []string, own bool) error {
	path := filepath.Join(dir, "cgroup.subtree_control")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	on := strings.Fields(string(b))
	var add []string
next:
	for _, w := range want {
		for _, o := range on {
			if o == w {
				continue next
			}
		}
		add = append(add, "+"+w)
	}
	if len(add) == 0 {
		return nil
	}
	err = enableFor(dir, strings.Join(add, " "))
	if errors.Is(err, unix.EBUSY) && own {
		if err = moveProcesses(dir, filepath.Join(dir, hostLeaf)); err == nil {
			err = enableFor(dir, strings.Join(add, " "))
		}
	}
	if err != nil {
		return fmt.Errorf("enable the controllers %s of %s: %w", strings.Join(add, " "), dir, err)
	}
	return nil
}

// moveProcesses moves every process of the cgroup from to the cgroup to,
// which it creates.
func moveProcesses(from, to string) error {
	if err := unix.Mkdir(to, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create cgroup %s: %w", to, err)
	}
	pids, err := procs(from)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := Place(to, pid); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
	}
	return nil
}

// Place moves process pid into the cgroup dir.
func Place(dir string, pid int) error {
	if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("move process %d into cgroup %s: %w", pid, dir, err)
	}
	return nil
}

// OpenLeaf opens the leaf of c for CLONE_INTO_CGROUP.
func (c *Cgroup) OpenLeaf() (int, error) {
	fd, err := unix.Open(c.Leaf(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", c.Leaf(), err)
	}
	return fd, nil
}

// procs lists the processes of one cgroup (not of its children).
func procs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Exists reports whether the cgroup is still there.
func (c *Cgroup) Exists() bool {
	_, err := os.Stat(c.Dir)
	return err == nil
}

// Kill ends every process in the cgroup, its children included, with
// SIGKILL (cgroup.kill, Linux 5.14, as old as the oldest kernel sbx runs
// on here).
func (c *Cgroup) Kill() error {
	err := writeFile(filepath.Join(c.Dir, "cgroup.kill"), "1")
	if err == nil || errors.Is(err, unix.ENOENT) && !c.Exists() {
		return nil
	}
	return fmt.Errorf("kill cgroup %s: %w", c.Dir, err)
}

// Valid reports whether c is a sandbox cgroup as sbx makes them: a clean
// path under Mount whose last part is a name sbx gives (see name), in the
// cgroup v2 hierarchy, with a systemd scope named after it if any. A
// record's cgroup is checked before sbx kills or removes anything in it.
func (c *Cgroup) Valid() bool {
	if c.Dir != filepath.Clean(c.Dir) || !strings.HasPrefix(c.Dir, Mount+"/") {
		return false
	}
	base := filepath.Base(c.Dir)
	if !strings.HasPrefix(base, "sbx-") || len(base) < len("sbx-x-12345678") {
		return false
	}
	if _, err := hex.DecodeString(base[len(base)-8:]); err != nil || base[len(base)-9] != '-' {
		return false
	}
	if c.Unit != "" && (c.Unit != base+".scope" || filepath.Base(filepath.Dir(c.Dir)) != c.Unit) {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs(c.Dir, &st); err == nil && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	return true
}

// emptyWait bounds how long Remove waits for killed processes to go.
const emptyWait = 5 * time.Second

// waitEmpty waits until no process is left in the cgroup, its children
// included (cgroup.events says "populated 0"), up to d.
func (c *Cgroup) waitEmpty(d time.Duration) error {
	fd, err := unix.Open(filepath.Join(c.Dir, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if !c.Exists() {
			return nil
		}
		return fmt.Errorf("watch cgroup %s: %w", c.Dir, err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	buf := make([]byte, 256)
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err == unix.ENODEV {
			// Removed meanwhile (systemd removes an emptied scope):
			// nothing is left in it.
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s/cgroup.events: %w", c.Dir, err)
		}
		if bytes.Contains(buf[:n], []byte("populated 0")) {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("cgroup %s still has processes %v after they were killed", c.Dir, d)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return fmt.Errorf("watch cgroup %s: %w", c.Dir, err)
		}
	}
}

// Remove kills what is left in the cgroup and removes it, its children
// first. A cgroup already gone is no error.
func (c *Cgroup) Remove() error {
	if !c.Exists() {
		return nil
	}
	if err := c.Kill(); err != nil {
		return err
	}
	if err := c.waitEmpty(emptyWait); err != nil {
		return err
	}
	return removeTree(c.Dir)
}

// removeTree removes the cgroup dir and the cgroups below it.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// Usage is what a sandbox's cgroup has used; -1 where the kernel does not
// tell (its controller is not enabled, or the file is newer than it).
type Usage struct {
	// Memory and MemoryPeak are in bytes (memory.current, memory.peak).
	Memory, MemoryPeak int64
	// MemoryMax is the memory limit, -1 for none.
	MemoryMax int64
	// Pids is how many tasks (threads included) it has; PidsMax its
	// limit, -1 for none.
	Pids, PidsMax int64
	// CPU is the CPU time used, user and system together.
	CPU time.Duration
	// OOMKills is how many processes the memory limit killed.
	OOMKills int64
}

// UsageReport is Usage as sbx stats and sbx state print it (JSON): a
// value the kernel did not tell is left out.
type UsageReport struct {
	Memory      *int64 `json:"memory_bytes,omitempty"`
	MemoryPeak  *int64 `json:"memory_peak_bytes,omitempty"`
	MemoryLimit *int64 `json:"memory_limit_bytes,omitempty"`
	Pids        *int64 `json:"pids,omitempty"`
	PidsLimit   *int64 `json:"pids_limit,omitempty"`
	CPU         *int64 `json:"cpu_usec,omitempty"`
	OOMKills    *int64 `json:"oom_kills,omitempty"`
}

// Report renders u for JSON.
func (u Usage) Report() *UsageReport {
	cpu := u.CPU.Microseconds()
	return &UsageReport{
		Memory: Known(u.Memory), MemoryPeak: Known(u.MemoryPeak), MemoryLimit: Known(u.MemoryMax),
		Pids: Known(u.Pids), PidsLimit: Known(u.PidsMax), CPU: &cpu, OOMKills: Known(u.OOMKills),
	}
}

// Known is v, or nil where the kernel did not tell (-1).
func Known(v int64) *int64 {
	if v < 0 {
		return nil
	}
	return &v
}

// Usage reads what the cgroup has used.
func (c *Cgroup) Usage() (Usage, error) {
	u := Usage{
		Memory:     readInt(c.Dir, "memory.current"),
		MemoryPeak: readInt(c.Dir, "memory.peak"),
		MemoryMax:  readInt(c.Dir, "memory.max"),
		Pids:       readInt(c.Dir, "pids.current"),
		PidsMax:    readInt(c.Dir, "pids.max"),
		OOMKills:   readKey(c.Dir, "memory.events", "oom_kill"),
	}
	usec := readKey(c.Dir, "cpu.stat", "usage_usec")
	if usec < 0 {
		if !c.Exists() {
			return u, fmt.Errorf("cgroup %s is gone", c.Dir)
		}
		usec = 0
	}
	u.CPU = time.Duration(usec) * time.Microsecond
	return u, nil
}

// MemoryMax is the cgroup's memory limit in bytes, -1 for none.
func (c *Cgroup) MemoryMax() int64 { return readInt(c.Dir, "memory.max") }

// OOMKills is how many processes of the cgroup the kernel killed for
// lack of memory (0 if it cannot tell), and whether its own limit was
// reached (memory.events "oom"), rather than an ancestor's or the host's.
func (c *Cgroup) OOMKills() (kills int64, atLimit bool) {
	b, err := os.ReadFile(filepath.Join(c.Dir, "memory.events"))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "oom_kill":
			kills = n
		case "oom":
			atLimit = n > 0
		}
	}
	return kills, atLimit
}

// readInt reads a one-number interface file: -1 if it is missing or says
// "max".
func readInt(dir, name string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// readKey reads the value of key in a flat-keyed interface file ("key
// value" lines): -1 if it is not there.
func readKey(dir, name, key string) int64 {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if ok && k == key {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// writeFile writes value to an interface file in one write.
func writeFile(path, value string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(value))
	return err
}

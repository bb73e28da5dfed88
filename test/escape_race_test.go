package test

// The second round of escapes: paths a sandbox can swap while sbx starts
// another one, links planted where sbx writes, a root filesystem whose
// /proc leads elsewhere, and what a sandbox can fill.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// swapper exchanges a directory and a link, both in a directory the
// attacker can write (as a second sandbox with a --bind of it could), as
// fast as it can, until the test ends.
func swapper(t *testing.T, dir, link string) {
	t.Helper()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE)
		}
	}()
	t.Cleanup(func() {
		stop.Store(true)
		wg.Wait()
	})
}

// raceRuns runs sbx n times, two at a time, with the arguments and working
// directory each run's function gives, and returns how many ended 0 and
// how many 125.
func raceRuns(t *testing.T, n int, env []string, run func(i int) invocation) (ok, refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	other := ""
	next := atomic.Int64{}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				inv := run(i)
				inv.env = env
				r := inv.run(t)
				mu.Lock()
				switch r.code {
				case 0:
					ok++
				case 125:
					refused++
				default:
					if other == "" {
						other = r.String()
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d runs: %d started, %d refused", n, ok, refused)
	if other != "" {
		t.Logf("one that ended otherwise:\n%s", other)
	}
	return ok, refused
}

// raceStarts is how many sandboxes each race starts.
const raceStarts = 150

// TestEscapeSourceSwap: the working directory, a --bind source and a
// --rootfs are resolved when sbx reads the command line; swapped for a
// link after that, while sbx sets the sandbox up, they must never lead
// anywhere else. The link of the --bind and --rootfs races points at the
// directory that holds sbx's records, which sbx refuses to show when the
// link is already there as it reads the command line: so whatever is
// bound, written or created there came from the swap. (Against sbx before
// sources were checked, these races escape within a few dozen starts.)
func TestEscapeSourceSwap(t *testing.T) {
	t.Parallel()
	uid := strconv.Itoa(os.Getuid())
	t.Run("working-directory", func(t *testing.T) {
		// The link points at /: bound read-write as the working
		// directory, it lets the sandbox write any file of the user's.
		t.Parallel()
		base, victim := testDir(t), testDir(t)
		work, link := filepath.Join(base, "work"), filepath.Join(base, "link")
		if err := os.Mkdir(work, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/", link); err != nil {
			t.Fatal(err)
		}
		swapper(t, work, link)
		rel := strings.TrimPrefix(victim, "/")
		raceRuns(t, raceStarts, nil, func(i int) invocation {
			return invocation{dir: work, args: []string{"run", "--", "sh", "-c", `(: > "$1") 2>/dev/null; true`, "sh", rel + "/pwned-" + strconv.Itoa(i)}}
		})
		if entries, _ := os.ReadDir(victim); len(entries) > 0 {
			t.Errorf("sandboxes wrote %d files of the host's through a swapped working directory, %s first", len(entries), entries[0].Name())
		}
	})
	t.Run("bind", func(t *testing.T) {
		t.Parallel()
		base, records := testDir(t), testDir(t)
		src, link := filepath.Join(base, "src"), filepath.Join(base, "link")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(records, link); err != nil {
			t.Fatal(err)
		}
		swapper(t, src, link)
		raceRuns(t, raceStarts, withEnv("TMPDIR="+records, "XDG_RUNTIME_DIR="), func(i int) invocation {
			return invocation{args: []string{"run", "--bind", src + ":/mnt", "--", "sh", "-c", `(: > /mnt/pwned-"$1") 2>/dev/null; true`, "sh", strconv.Itoa(i)}}
		})
		if matches, _ := filepath.Glob(filepath.Join(records, "pwned-*")); len(matches) > 0 {
			t.Errorf("sandboxes bound the swapped-in directory and wrote %d files there, %s first", len(matches), matches[0])
		}
		if _, err := os.Stat(filepath.Join(records, "sbx-"+uid)); err != nil {
			t.Logf("no record was made: %v", err)
		}
	})
	t.Run("rootfs", func(t *testing.T) {
		t.Parallel()
		rootfs, records := busyboxRootfs(t), testDir(t)
		link := filepath.Join(filepath.Dir(rootfs), "link")
		if err := os.Symlink(records, link); err != nil {
			t.Fatal(err)
		}
		swapper(t, rootfs, link)
		raceRuns(t, raceStarts, withEnv("TMPDIR="+records, "XDG_RUNTIME_DIR="), func(i int) invocation {
			return invocation{args: []string{"run", "--rootfs", rootfs, "--rootfs-rw", "--", "/bin/sh", "-c", `(: > /pwned-"$1") 2>/dev/null; true`, "sh", strconv.Itoa(i)}}
		})
		for _, name := range []string{"dev", "proc", "tmp", "run", "pwned-*"} {
			if matches, _ := filepath.Glob(filepath.Join(records, name)); len(matches) > 0 {
				t.Errorf("sbx used the swapped-in directory as the root: %v", matches)
			}
		}
	})
}

// TestEscapeLogLink: a link planted as a detached sandbox's log, between
// the making of its record's directory and the opening of the log, would
// have its output appended to the link's target (~/.bashrc in the
// review). The log is only ever created new.
func TestEscapeLogLink(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	target := filepath.Join(testDir(t), "bashrc")
	if err := os.WriteFile(target, []byte("# rc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	records := filepath.Join(h.runtime, "sbx")
	planted := 0
	for i := range 40 {
		name := sandboxName("log" + strconv.Itoa(i))
		var stop atomic.Bool
		done := make(chan bool)
		go func() {
			log := filepath.Join(records, name, "log")
			for !stop.Load() {
				if os.Symlink(target, log) == nil {
					done <- true
					return
				}
			}
			done <- false
		}()
		r := h.sbx(t, "run", "-d", "--name", name, "--", "echo", "pwned")
		stop.Store(true)
		if <-done {
			planted++
		}
		h.sbx(t, "rm", "-f", name)
		if r.code != 0 && r.code != 125 {
			t.Errorf("want 0 or 125:\n%s", r)
		}
	}
	t.Logf("a link stood at the log's path in %d of 40 starts", planted)
	if b, _ := os.ReadFile(target); string(b) != "# rc\n" {
		t.Errorf("a detached sandbox's output went through a planted link: %q", b)
	}
}

// TestEscapeRootfsProcLink: a root filesystem whose /proc is a link (here
// through /tmp, which sbx then covers) would have the sandbox's /proc
// mounted elsewhere and its masks and read-only paths applied to nothing:
// /p/keys readable, /p/sys writable. sbx refuses such a root with one line.
func TestEscapeRootfsProcLink(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, proc string }{{"chain", "/tmp/plink"}, {"direct", "/p"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := busyboxRootfs(t)
			for _, err := range []error{
				os.Remove(filepath.Join(root, "proc")),
				os.Symlink(c.proc, filepath.Join(root, "proc")),
				os.Symlink("/p", filepath.Join(root, "tmp", "plink")),
				os.Mkdir(filepath.Join(root, "p"), 0o755),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			r := sbx(t, "run", "--rootfs", root, "--", "/bin/sh", "-c", "cat /p/keys /proc/keys; echo done")
			expectBadInput(t, r, "/proc", "symbolic link")
		})
	}
}

// TestDetachedLogCap: a detached sandbox's log never grows past its cap
// (10 MiB by default, --log-size-max): past it, it starts again with a line
// that says so.
func TestDetachedLogCap(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		flags []string
		max   int64
	}{{nil, 10 << 20}, {[]string{"--log-size-max", "64k"}, 64 << 10}} {
		h := newStateHome(t)
		name := h.detach(t, sandboxName("logcap"), append(c.flags, "--", "sh", "-c", "head -c 12000000 /dev/zero | tr '\\0' x; echo; echo last line")...)
		h.waitStatus(t, name, "exited")
		b, err := os.ReadFile(filepath.Join(h.runtime, "sbx", name, "log"))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) > c.max {
			t.Errorf("%v: the log has %d bytes, past its cap of %d", c.flags, len(b), c.max)
		}
		if !strings.Contains(string(b), "the log reached its cap") || !strings.HasSuffix(string(b), "last line\n") {
			t.Errorf("%v: want the cap's note and the newest output in the log, got %d bytes ending %q", c.flags, len(b), b[max(0, len(b)-40):])
		}
	}
	for _, args := range [][]string{
		{"run", "--log-size-max", "1m", "--", "true"},
		{"run", "-d", "--log-size-max", "lots", "--", "true"},
		{"run", "-d", "--log-size-max", "100", "--", "true"},
	} {
		expectBadInput(t, sbx(t, args...), "--log-size-max")
	}
}

// TestTmpfsSizes: /tmp, /dev/shm and /run are bounded (the kernel's
// default is half of the RAM each), and --tmpfs /tmp:size= sets another.
func TestTmpfsSizes(t *testing.T) {
	t.Parallel()
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	var memKB int64
	for _, l := range lines(string(meminfo)) {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			memKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	sizes := func(r result) map[string]int64 {
		m := map[string]int64{}
		for _, l := range lines(r.ok(t)) {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m[f[0]] = kb
			}
		}
		return m
	}
	script := `for d in /tmp /dev/shm /run; do echo "$d $(df -k "$d" | tail -1 | awk '{print $2}')"; done`
	got := sizes(sbx(t, "run", "--", "sh", "-c", script))
	if got["/dev/shm"] != 64<<10 || got["/run"] != 64<<10 {
		t.Errorf("want /dev/shm and /run of 65536 kB, got %v", got)
	}
	if got["/tmp"] <= 0 || got["/tmp"] > memKB/4+1024 {
		t.Errorf("want /tmp of at most a quarter of %d kB, got %v", memKB, got)
	}
	if got := sizes(sbx(t, "run", "--tmpfs", "/tmp:size=8m", "--", "sh", "-c", script)); got["/tmp"] != 8<<10 {
		t.Errorf("--tmpfs /tmp:size=8m: got %v", got)
	}
}

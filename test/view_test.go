package test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestHostReadOnly checks that files outside the working directory cannot
// be written, even where the caller can write them on the host, and even as
// root inside: the host's / is read-only.
func TestHostReadOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		flags  []string
		script string // $1 is the directory next to the working directory
	}{
		{"create in /etc", nil, `echo x > /etc/sbx-probe-$$`},
		{"create in /usr", nil, `echo x > /usr/sbx-probe-$$`},
		{"create in /etc as root", []string{"--uid", "0"}, `echo x > /etc/sbx-probe-$$`},
		{"mkdir in /usr as root", []string{"--uid", "0"}, `mkdir /usr/sbx-probe-$$`},
		{"create next to the working directory", nil, `echo x > "$1/new"`},
		{"create next to the working directory as root", []string{"--uid", "0"}, `echo x > "$1/new"`},
		{"overwrite a file of the caller's", nil, `echo x > "$1/victim"`},
		{"remove a file of the caller's", nil, `rm -f "$1/victim"`},
		{"chmod a file of the caller's", nil, `chmod 777 "$1/victim"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// outer is writable by the caller on the host; the working
			// directory is inside it.
			outer := testDir(t)
			dir := filepath.Join(outer, "cwd")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(outer, "victim")
			writeFile(t, victim, "original\n", 0o644)
			args := append([]string{"run"}, tc.flags...)
			args = append(args, "--", "sh", "-c", tc.script, "sh", outer)
			r := sbxIn(t, dir, args...)
			if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
				t.Errorf("want a failure with `Read-only file system`:\n%s", r)
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "original\n" {
				t.Errorf("host file %s changed: %q, %v", victim, b, err)
			}
			if fi, err := os.Stat(victim); err == nil && fi.Mode().Perm() != 0o644 {
				t.Errorf("host file %s changed mode to %v", victim, fi.Mode())
			}
			if _, err := os.Stat(filepath.Join(outer, "new")); err == nil {
				t.Errorf("%s/new appeared on the host", outer)
			}
			for _, d := range []string{"/etc", "/usr"} {
				if m, _ := filepath.Glob(filepath.Join(d, "sbx-probe-*")); len(m) != 0 {
					t.Errorf("appeared on the host: %v", m)
				}
			}
		})
	}
}

// TestTmp checks that /tmp is a fresh, empty, writable tmpfs of the
// sandbox's own.
func TestTmp(t *testing.T) {
	t.Parallel()
	host, err := os.CreateTemp("/tmp", "sbx-host-visible-")
	if err != nil {
		t.Fatal(err)
	}
	host.Close()
	t.Cleanup(func() { os.Remove(host.Name()) })
	inside := "/tmp/sbx-inside-" + token()
	t.Cleanup(func() { os.Remove(inside) })

	script := `ls -A /tmp; echo ---
test -e "$1" && echo "host file visible"; echo ---
echo data > "$2" && cat "$2"; echo ---
stat -f -c %T /tmp`
	r := sbx(t, "run", "--", "sh", "-c", script, "sh", host.Name(), inside)
	r.ok(t)
	s := sections(t, r, 4)
	if s[0] != "" {
		t.Errorf("/tmp is not empty inside: %q", s[0])
	}
	if s[1] != "" {
		t.Errorf("the host's %s is visible inside", host.Name())
	}
	if s[2] != "data\n" {
		t.Errorf("writing /tmp inside: got %q, want data", s[2])
	}
	if got := strings.TrimSpace(s[3]); got != "tmpfs" {
		t.Errorf("/tmp is %q inside, want tmpfs", got)
	}
	if _, err := os.Stat(inside); err == nil {
		t.Errorf("%s written inside appeared on the host", inside)
	}
	if t.Failed() {
		t.Logf("output:\n%s", r)
	}
}

// TestWorkingDirectory checks that the working directory is the starting
// directory, is writable, and that what is written there reaches the host,
// owned by the caller.
func TestWorkingDirectory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags []string
	}{
		{"default", nil},
		{"as root inside", []string{"--uid", "0", "--gid", "0"}},
		{"single map", []string{"--map", "single"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := testDir(t)
			writeFile(t, filepath.Join(dir, "from-host"), "host data\n", 0o644)
			args := append([]string{"run"}, tc.flags...)
			r := sbxIn(t, dir, append(args, "--", "sh", "-c",
				`pwd; cat from-host; echo hello > out.txt; mkdir sub && echo x > sub/y; rm from-host`)...)
			out := r.ok(t)
			if want := dir + "\nhost data\n"; out != want {
				t.Errorf("got %q, want %q\n%s", out, want, r)
			}
			b, err := os.ReadFile(filepath.Join(dir, "out.txt"))
			if err != nil || string(b) != "hello\n" {
				t.Fatalf("file written inside: %q, %v", b, err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "sub", "y")); err != nil || string(b) != "x\n" {
				t.Errorf("file written inside in a new directory: %q, %v", b, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "from-host")); err == nil {
				t.Errorf("file removed inside is still on the host")
			}
			fi, err := os.Stat(filepath.Join(dir, "out.txt"))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
				t.Errorf("file written inside is owned by %d:%d on the host, want the caller's %d:%d",
					st.Uid, st.Gid, os.Getuid(), os.Getgid())
			}
		})
	}
}

// TestWorkingDirectoryRoot checks that a working directory of / starts the
// command in / and binds nothing writable.
func TestWorkingDirectoryRoot(t *testing.T) {
	t.Parallel()
	r := sbxIn(t, "/", "run", "--", "sh", "-c", `pwd; touch /sbx-probe-$$`)
	if r.code == 0 || !strings.HasPrefix(r.stdout, "/\n") || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("want pwd / and a read-only /:\n%s", r)
	}
	if m, _ := filepath.Glob("/sbx-probe-*"); len(m) != 0 {
		t.Errorf("appeared on the host: %v", m)
	}
}

// TestProc checks /proc: the sandbox's own pid namespace, with sbx's init
// as pid 1 and the command as its child.
func TestProc(t *testing.T) {
	t.Parallel()
	script := `tr '\0' '\n' < /proc/1/cmdline; echo ---
echo $$; echo ---
grep '^PPid:' /proc/$$/status; echo ---
ls /proc; echo ---
stat -f -c %T /proc`
	r := sbx(t, "run", "--", "sh", "-c", script)
	r.ok(t)
	s := sections(t, r, 5)
	argv := lines(s[0])
	if len(argv) == 0 || !strings.Contains(filepath.Base(argv[0]), "sbx") {
		t.Errorf("/proc/1/cmdline is %q, want sbx's init", argv)
	}
	self := strings.TrimSpace(s[1])
	if self == "1" || self == "" {
		t.Errorf("the command is pid %q, want a child of sbx's init", self)
	}
	if got := strings.Join(strings.Fields(s[2]), " "); got != "PPid: 1" {
		t.Errorf("the command's parent: %q, want `PPid: 1`", got)
	}
	var pids []string
	for _, name := range strings.Fields(s[3]) {
		if _, err := strconv.Atoi(name); err == nil {
			pids = append(pids, name)
		}
	}
	if !slices.Contains(pids, "1") || !slices.Contains(pids, self) || len(pids) > 5 {
		t.Errorf("ls /proc shows pids %v, want only the sandbox's few, with 1 and %s", pids, self)
	}
	if got := strings.TrimSpace(s[4]); got != "proc" {
		t.Errorf("/proc is %q, want proc", got)
	}
	if t.Failed() {
		t.Logf("output:\n%s", r)
	}
}

// TestDev checks the minimal /dev: the usual devices work, and there is no
// block device, nor any of the host's disks.
func TestDev(t *testing.T) {
	t.Parallel()
	t.Run("entries", func(t *testing.T) {
		t.Parallel()
		r := sbx(t, "run", "--", "sh", "-c", `ls -A /dev; echo ---; find /dev -type b`)
		r.ok(t)
		s := sections(t, r, 2)
		have := strings.Fields(s[0])
		for _, want := range []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx",
			"shm", "fd", "stdin", "stdout", "stderr"} {
			if !slices.Contains(have, want) {
				t.Errorf("/dev/%s is missing; /dev has %v", want, have)
			}
		}
		if s[1] != "" {
			t.Errorf("block devices inside: %q", s[1])
		}
		for _, disk := range append(hostDiskNames(t), "sda", "vda", "nvme0n1", "mem", "kmsg", "mapper", "disk") {
			if slices.Contains(have, disk) {
				t.Errorf("/dev/%s is visible inside", disk)
			}
		}
	})
	tests := []struct {
		name, script, want string
	}{
		{"null", `echo x > /dev/null && wc -c < /dev/null`, "0\n"},
		{"zero", `head -c 4 /dev/zero | od -An -tx1`, " 00 00 00 00\n"},
		{"full", `echo x > /dev/full || echo failed`, "failed\n"},
		{"urandom", `head -c 16 /dev/urandom | wc -c`, "16\n"},
		{"random", `head -c 16 /dev/random | wc -c`, "16\n"},
		{"devpts", `stat -f -c %T /dev/pts`, "devpts\n"},
		{"ptmx", `test -c /dev/ptmx -o -c /dev/pts/ptmx && echo ok`, "ok\n"},
		{"tty is a character device", `test -c /dev/tty && echo ok`, "ok\n"},
		{"shm is writable", `echo data > /dev/shm/x && cat /dev/shm/x`, "data\n"},
		{"fd", `ls /dev/fd/ >/dev/null && readlink /dev/fd`, "/proc/self/fd\n"},
		{"stdout", `echo data > /dev/stdout`, "data\n"},
		{"stderr", `echo data 2>&1 >/dev/stderr`, "data\n"}, // /dev/stderr is fd 2: stdout here
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := sbx(t, "run", "--", "sh", "-c", tc.script)
			if out := r.ok(t); out != tc.want {
				t.Errorf("got %q, want %q\n%s", out, tc.want, r)
			}
		})
	}
	t.Run("stdin", func(t *testing.T) {
		t.Parallel()
		r := invocation{args: []string{"run", "--", "cat", "/dev/stdin"}, stdin: strings.NewReader("data\n")}.run(t)
		if out := r.ok(t); out != "data\n" {
			t.Errorf("got %q, want data\n%s", out, r)
		}
	})
}

// TestNetwork checks that the sandbox has its own network namespace with
// only lo, and that lo is up.
func TestNetwork(t *testing.T) {
	t.Parallel()
	t.Run("proc net dev", func(t *testing.T) {
		t.Parallel()
		r := sbx(t, "run", "--", "cat", "/proc/net/dev")
		r.ok(t)
		var ifaces []string
		for _, l := range lines(r.stdout) {
			if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
				ifaces = append(ifaces, strings.TrimSpace(name))
			}
		}
		if !slices.Equal(ifaces, []string{"lo"}) {
			t.Errorf("interfaces %v, want only lo\n%s", ifaces, r)
		}
	})
	t.Run("lo is up", func(t *testing.T) {
		t.Parallel()
		requireTool(t, "busybox", "`sudo apt-get install busybox-static`")
		r := sbx(t, "run", "--", "busybox", "ip", "-o", "link", "show")
		r.ok(t)
		l := lines(r.stdout)
		if len(l) != 1 || !strings.Contains(l[0], " lo:") {
			t.Fatalf("want one link, lo:\n%s", r)
		}
		_, flags, _ := strings.Cut(l[0], "<")
		flags, _, _ = strings.Cut(flags, ">")
		if !slices.Contains(strings.Split(flags, ","), "UP") {
			t.Errorf("lo is not UP: flags %q\n%s", flags, r)
		}
	})
	t.Run("loopback traffic", func(t *testing.T) {
		t.Parallel()
		requireTool(t, "busybox", "`sudo apt-get install busybox-static`")
		// A TCP round trip over 127.0.0.1, with the listener started in
		// the background: retry the connection until it is there.
		script := `busybox nc -l -p 7777 > /tmp/got &
i=0
until echo hello | busybox nc -w 2 127.0.0.1 7777 2>/dev/null; do
	i=$((i+1)); [ $i -ge 50 ] && { echo "cannot connect" >&2; exit 9; }
	sleep 0.1
done
wait
cat /tmp/got`
		r := sbx(t, "run", "--", "sh", "-c", script)
		if out := r.ok(t); out != "hello\n" {
			t.Errorf("got %q, want hello\n%s", out, r)
		}
	})
}

// TestHostname checks the hostname inside, and that the host's does not
// change.
func TestHostname(t *testing.T) {
	t.Parallel()
	before, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"default", nil, "sbx"},
		{"--hostname", []string{"--hostname", "box-1"}, "box-1"},
		{"--hostname=", []string{"--hostname=other.example"}, "other.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"run"}, tc.flags...)
			r := sbx(t, append(args, "--", "sh", "-c", "hostname; uname -n; cat /proc/sys/kernel/hostname")...)
			if out, want := r.ok(t), strings.Repeat(tc.want+"\n", 3); out != want {
				t.Errorf("got %q, want %q\n%s", out, want, r)
			}
			if after, _ := os.Hostname(); after != before {
				t.Errorf("the host's hostname changed from %q to %q", before, after)
			}
		})
	}
}

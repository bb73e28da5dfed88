package test

// Tests of the filesystem view flags: --rootfs, the binds, --tmpfs, --dir,
// --symlink, --overlay, --hide, the working-directory modes, the order rule,
// the masked /proc paths, and the symlink attacks a rootfs can mount.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// busyboxApplets are linked in the test rootfs.
var busyboxApplets = []string{"sh", "ls", "cat", "echo", "mkdir", "touch", "stat", "id", "grep", "df", "mount", "readlink", "wc", "test", "true", "false", "sleep", "head"}

// busyboxRootfs builds a small root filesystem: a static busybox, its
// applets, the usual top-level directories and /etc/marker.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	bb := requireTool(t, "busybox", "`sudo apt-get install busybox-static`")
	root := filepath.Join(testDir(t), "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "tmp", "etc", "mnt", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bb, filepath.Join(root, "bin", "busybox"), 0o755)
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "marker"), []byte("rootfs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeTree(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRootfs(t *testing.T) {
	t.Parallel()
	root := busyboxRootfs(t)

	out := sbx(t, "run", "--rootfs", root, "--", "/bin/sh", "-c",
		`cat /etc/marker; pwd; ls /sys | wc -l; if touch /newfile 2>/dev/null; then echo writable; else echo read-only; fi`).ok(t)
	if want := "rootfs\n/\n0\nread-only\n"; out != want {
		t.Errorf("read-only rootfs: got %q, want %q (marker, start in /, no /sys, read-only)", out, want)
	}

	sbx(t, "run", "--rootfs", root, "--rootfs-rw", "--", "/bin/sh", "-c", "echo made > /newfile").ok(t)
	if b, err := os.ReadFile(filepath.Join(root, "newfile")); err != nil || string(b) != "made\n" {
		t.Errorf("--rootfs-rw: file written inside is %q, %v on the host", b, err)
	}

	// /sys only when asked for.
	out = sbx(t, "run", "--rootfs", root, "--ro-bind", "/sys:/sys", "--", "/bin/sh", "-c",
		"ls /sys/class >/dev/null && echo has-sys; touch /sys/x 2>/dev/null || echo ro").ok(t)
	if out != "has-sys\nro\n" {
		t.Errorf("--ro-bind /sys: got %q", out)
	}
}

func TestBinds(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	writeTree(t, filepath.Join(dir, "data", "f"), "host\n")
	data := filepath.Join(dir, "data")

	tests := []struct {
		name   string
		flags  []string
		script string
		want   string
		wrote  bool // whether /mnt/d/new reaches the host
	}{
		{"bind is read-write", []string{"--tmpfs", "/mnt", "--bind", data + ":/mnt/d"},
			"cat /mnt/d/f; echo new > /mnt/d/new && echo wrote", "host\nwrote\n", true},
		{"ro-bind is read-only", []string{"--tmpfs", "/mnt", "--ro-bind", data + ":/mnt/d"},
			"cat /mnt/d/f; echo new > /mnt/d/new 2>/dev/null || echo refused", "host\nrefused\n", false},
		{"bind without DST uses SRC", []string{"--bind", data},
			"cat " + data + "/f", "host\n", false},
		{"bind a file", []string{"--tmpfs", "/mnt", "--ro-bind", data + "/f:/mnt/file"},
			"cat /mnt/file", "host\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(data, "new"))
			args := append([]string{"run", "--no-cwd"}, tt.flags...)
			out := sbx(t, append(args, "--", "sh", "-c", tt.script)...).ok(t)
			if out != tt.want {
				t.Errorf("got %q, want %q", out, tt.want)
			}
			_, err := os.Stat(filepath.Join(data, "new"))
			if got := err == nil; got != tt.wrote {
				t.Errorf("file written inside reached the host: %v, want %v", got, tt.wrote)
			}
		})
	}
}

func TestDevBind(t *testing.T) {
	t.Parallel()
	// A bind keeps device nodes unusable (nodev); --dev-bind allows them.
	script := "echo x > /mnt/null && echo usable || echo refused"
	out := sbx(t, "run", "--tmpfs", "/mnt", "--bind", "/dev/null:/mnt/null", "--", "sh", "-c", script).ok(t)
	if out != "refused\n" {
		t.Errorf("--bind of a device: %q, want refused", out)
	}
	out = sbx(t, "run", "--tmpfs", "/mnt", "--dev-bind", "/dev/null:/mnt/null", "--", "sh", "-c", script).ok(t)
	if out != "usable\n" {
		t.Errorf("--dev-bind of a device: %q, want usable", out)
	}
}

func TestOrderRule(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	writeTree(t, filepath.Join(dir, "src", "f"), "bound\n")
	src := filepath.Join(dir, "src")

	// A later operation covers an earlier one.
	out := sbx(t, "run", "--tmpfs", "/opt", "--bind", src+":/opt/x", "--", "cat", "/opt/x/f").ok(t)
	if out != "bound\n" {
		t.Errorf("tmpfs then bind: %q", out)
	}
	r := sbx(t, "run", "--tmpfs", "/opt", "--bind", src+":/opt/x", "--tmpfs", "/opt", "--", "ls", "-A", "/opt")
	if r.ok(t) != "" {
		t.Errorf("bind covered by a later tmpfs still shows: %q", r.stdout)
	}
	// The defaults come first: a tmpfs over /tmp's default is the user's.
	out = sbx(t, "run", "--tmpfs", "/tmp:mode=700", "--", "stat", "-c", "%a", "/tmp").ok(t)
	if out != "700\n" {
		t.Errorf("--tmpfs /tmp did not cover the default /tmp: mode %q", out)
	}
}

func TestTmpfsDirSymlink(t *testing.T) {
	t.Parallel()
	script := `stat -c %a /opt; df -k /opt | tail -n 1 | awk '{print $2}'; ` +
		`test -d /opt/a/b && echo dir; readlink /opt/link`
	out := sbx(t, "run", "--tmpfs", "/opt:size=1m,mode=700", "--dir", "/opt/a/b",
		"--symlink", "/etc/hostname:/opt/link/marker-target", "--symlink", "/etc:/opt/link",
		"--", "sh", "-c", script)
	// --symlink into /opt/link creates the directory /opt/link first, so the
	// second --symlink cannot replace it: sbx must say so.
	if out.code != 125 || !strings.Contains(out.stderr, "/opt/link") {
		t.Fatalf("symlink over an existing directory: want exit 125 naming /opt/link, got:\n%s", out)
	}

	got := sbx(t, "run", "--tmpfs", "/opt:size=1m,mode=700", "--dir", "/opt/a/b",
		"--symlink", "/etc:/opt/link", "--", "sh", "-c", script).ok(t)
	if want := "700\n1024\ndir\n/etc\n"; got != want {
		t.Errorf("got %q, want %q (mode, size in KiB, the directory, the symlink)", got, want)
	}
}

func TestOverlay(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	writeTree(t, filepath.Join(dir, "l1", "a"), "one\n")
	writeTree(t, filepath.Join(dir, "l1", "b"), "base\n")
	writeTree(t, filepath.Join(dir, "l2", "a"), "two\n")
	l1, l2 := filepath.Join(dir, "l1"), filepath.Join(dir, "l2")

	script := "cat /mnt/a /mnt/b; echo changed > /mnt/a; echo new > /mnt/c; cat /mnt/a; ls /mnt"
	out := sbx(t, "run", "--overlay", l1+":"+l2+":/mnt", "--", "sh", "-c", script).ok(t)
	if want := "two\nbase\nchanged\na\nb\nc\n"; out != want {
		t.Errorf("overlay: got %q, want %q (last lower on top, writable)", out, want)
	}
	for path, want := range map[string]string{"l1/a": "one\n", "l2/a": "two\n"} {
		if b, _ := os.ReadFile(filepath.Join(dir, path)); string(b) != want {
			t.Errorf("lower %s changed to %q", path, b)
		}
	}
	for _, l := range []string{"l1", "l2"} {
		if _, err := os.Stat(filepath.Join(dir, l, "c")); err == nil {
			t.Errorf("write inside the overlay reached lower %s", l)
		}
	}
}

func TestHide(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	writeTree(t, filepath.Join(dir, "secret", "key"), "s3cr3t\n")
	writeTree(t, filepath.Join(dir, "token"), "t0k3n\n")

	script := fmt.Sprintf(`cat %[1]s/token 2>&1 | grep -c t0k3n; ls -A %[1]s/secret 2>&1 | grep -c key; `+
		`echo x > %[1]s/token 2>/dev/null && echo overwritten; cat %[1]s/secret/key 2>/dev/null | grep -c s3cr3t`, dir)
	out := sbxIn(t, dir, "run", "--hide", filepath.Join(dir, "token"), "--hide", filepath.Join(dir, "secret"),
		"--", "sh", "-c", script)
	if got := out.stdout; got != "0\n0\n0\n" {
		t.Errorf("hidden paths still readable or writable: got %q\n%s", got, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "token")); string(b) != "t0k3n\n" {
		t.Errorf("hidden file changed on the host: %q", b)
	}
}

func TestCwdModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags []string
		want  string // pwd, then whether the directory was writable
	}{
		{"default binds it read-write", nil, "DIR\nwritable\n"},
		{"--ro-cwd", []string{"--ro-cwd"}, "DIR\nread-only\n"},
		{"--no-cwd", []string{"--no-cwd"}, "/\nread-only\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testDir(t)
			script := fmt.Sprintf(`pwd; touch %s/f 2>/dev/null && echo writable || echo read-only`, dir)
			args := append(append([]string{"run"}, tt.flags...), "--", "sh", "-c", script)
			out := sbxIn(t, dir, args...).ok(t)
			if want := strings.ReplaceAll(tt.want, "DIR", dir); out != want {
				t.Errorf("got %q, want %q", out, want)
			}
		})
	}
}

// TestSymlinkAttacks plays a malicious rootfs: symlinks that point at a host
// directory of the user (absolute, and with ".."), used as destinations of
// every kind of operation. Were any destination resolved on the host, the
// host directory would receive a file, a directory, a symlink or a mount.
func TestSymlinkAttacks(t *testing.T) {
	t.Parallel()
	root := busyboxRootfs(t)
	victim := filepath.Join(testDir(t), "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(testDir(t), "payload")
	writeTree(t, filepath.Join(src, "file"), "payload\n")
	if err := os.Symlink(victim, filepath.Join(root, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(victim, "/"), filepath.Join(root, "dotdot")); err != nil {
		t.Fatal(err)
	}

	for _, link := range []string{"abs", "dotdot"} {
		ops := [][]string{
			{"--bind", src + ":/" + link + "/bound"},
			{"--ro-bind", src + "/file:/" + link + "/bound-file"},
			{"--tmpfs", "/" + link + "/tmpfs"},
			{"--dir", "/" + link + "/dir/sub"},
			{"--symlink", "/etc:/" + link + "/symlink"},
			{"--overlay", src + ":/" + link + "/overlay"},
			{"--hide", "/" + link},
		}
		for _, op := range ops {
			t.Run(link+op[0], func(t *testing.T) {
				args := append([]string{"run", "--rootfs", root, "--rootfs-rw"}, op...)
				// Success or a clean failure are both fine: escaping is not.
				r := sbx(t, append(args, "--", "/bin/true")...)
				if r.code != 0 && r.code != 125 {
					t.Fatalf("unexpected exit:\n%s", r)
				}
				entries, err := os.ReadDir(victim)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != 0 {
					t.Fatalf("%s %s reached the host directory %s: it now holds %v", op[0], op[1], victim, entries)
				}
			})
		}
	}
}

func TestProcIsMaskedAndReadOnly(t *testing.T) {
	t.Parallel()
	// Masked paths that this kernel has must be empty and unreadable.
	script := `for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/acpi /proc/scsi /sys/firmware; do
  [ -e "$p" ] || continue
  if [ -d "$p" ]; then n=$(ls -A "$p" 2>/dev/null | wc -l); else n=$(head -c 1 "$p" 2>/dev/null | wc -c); fi
  echo "$p $n"
done
echo ---
echo sbx-was-here > /proc/sys/kernel/hostname 2>/dev/null && echo wrote-proc-sys
grep -c ' /proc/sys ro,' /proc/self/mountinfo
echo ---
ls /proc | grep -c '^[0-9]'`
	// As root inside, with every capability of the sandbox: still refused.
	r := sbx(t, "run", "--uid", "0", "--", "sh", "-c", script)
	parts := sections(t, r, 3)
	for _, l := range lines(parts[0]) {
		if !strings.HasSuffix(l, " 0") {
			t.Errorf("masked path not empty: %s", l)
		}
	}
	if parts[1] != "1\n" {
		t.Errorf("/proc/sys not read-only: %q\n%s", parts[1], r)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(parts[2])); err != nil || n > 5 {
		t.Errorf("/proc shows %q processes: not the sandbox's own", parts[2])
	}
}

func TestMountsDoNotPropagateToHost(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Mounting takes CAP_SYS_ADMIN, which root inside only has when asked.
	r := sbxIn(t, dir, "run", "--uid", "0", "--cap-add", "SYS_ADMIN", "--", "sh", "-c",
		"mount -t tmpfs inner "+dir+"/sub && echo inner > "+dir+"/sub/f && echo mounted")
	if r.ok(t) != "mounted\n" {
		t.Fatalf("could not mount inside: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "f")); err == nil {
		t.Error("a mount made inside the sandbox shows on the host")
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), dir) {
		t.Errorf("host mountinfo mentions %s", dir)
	}
}

func TestManyBinds(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	args := []string{"run", "--tmpfs", "/opt"}
	for i := 0; i < 1000; i++ {
		d := filepath.Join(dir, fmt.Sprint(i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--ro-bind", fmt.Sprintf("%s:/opt/%d", d, i))
	}
	out := sbx(t, append(args, "--", "sh", "-c", "ls /opt | wc -l")...).ok(t)
	if strings.TrimSpace(out) != "1000" {
		t.Errorf("1000 binds: /opt has %q entries", out)
	}
}

func TestViewBadInput(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	root := busyboxRootfs(t)
	// A read-only parent is mirrored (mountpoint_test.go), unless it holds
	// more entries than a mirror takes.
	big := filepath.Join(root, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 1025 {
		writeFile(t, filepath.Join(big, strconv.Itoa(i)), "", 0o644)
	}
	tests := []struct {
		name string
		args []string
		want string // in the one line of stderr
	}{
		{"missing source", []string{"--bind", dir + "/nope:/mnt"}, "/nope"},
		{"relative destination", []string{"--bind", dir + ":mnt"}, "absolute"},
		{"destination under /proc", []string{"--tmpfs", "/proc/x"}, "/proc"},
		{"unknown overlay lower", []string{"--overlay", dir + "/nope:/mnt"}, "--overlay"},
		{"bad tmpfs size", []string{"--tmpfs", "/mnt:size=lots"}, "size"},
		{"bad tmpfs option", []string{"--tmpfs", "/mnt:uid=0"}, "uid=0"},
		{"missing rootfs", []string{"--rootfs", dir + "/nope"}, "--rootfs"},
		{"rootfs-rw without rootfs", []string{"--rootfs-rw"}, "--rootfs"},
		{"symlink without target", []string{"--symlink", "/mnt/x"}, "TARGET:DST"},
		{"read-only parent too big to mirror", []string{"--rootfs", root, "--dir", "/big/newdir"}, "1024"},
		{"no-cwd with ro-cwd", []string{"--no-cwd", "--ro-cwd"}, "--no-cwd"},
		{"share-socket of a directory", []string{"--share-socket", dir}, "not a unix socket"},
		{"share-socket missing", []string{"--share-socket", dir + "/nope.sock"}, "does not exist"},
		{"share-socket relative destination", []string{"--share-socket", dir + ":sock"}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, tt.args...), "--", "/bin/true")
			r := sbx(t, args...)
			r.expect(t, 125)
			if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], tt.want) {
				t.Errorf("want one stderr line mentioning %q, got:\n%s", tt.want, r)
			}
		})
	}
}

package test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// subordinateTree builds a busybox root filesystem the way `mmdebstrap
// --mode=unshare` lays one out: made by root in a user namespace whose ids
// 0..65535 are the caller's first subordinate ids, so that on the host its
// root's files belong to the first subordinate uid and gid, and its id N
// to start+N. Besides the busybox tree (with rm and chown) it holds /etc/passwd, a /root of
// mode 0700, and /etc/high owned by the tree's id high:high. It returns the
// tree and the first subordinate uid and gid. The tree is removed in the
// same kind of namespace: the caller cannot remove it.
func subordinateTree(t *testing.T, high int) (root string, uidStart, gidStart uint64) {
	t.Helper()
	bb := requireTool(t, "busybox", "`sudo apt-get install busybox-static`")
	unshare := requireTool(t, "unshare", "`sudo apt-get install util-linux`")
	requireTool(t, "newuidmap", "`sudo apt-get install uidmap`")
	uids, gids := subordinateRanges(t, "/etc/subuid"), subordinateRanges(t, "/etc/subgid")
	uidStart, gidStart = uids[0].outside, gids[0].outside
	n := min(uids[0].count, gids[0].count, 65536)
	if n <= uint64(high) {
		t.Fatalf("the first ranges in /etc/subuid and /etc/subgid hold %d ids, and this test needs %d: make them 65536 long (`sudo make test` sets up the user sbxtest)", n, high+1)
	}
	// The namespace's root makes the tree in a directory anyone may
	// write: the caller's own directories are nobody's in there.
	parent := testDir(t)
	if err := os.Chmod(parent, 0o777); err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(parent, "rootfs")
	asTreeRoot := func(script string, args ...string) {
		t.Helper()
		cmd := exec.Command(unshare,
			fmt.Sprintf("--map-users=%d,0,%d", uidStart, n), fmt.Sprintf("--map-groups=%d,0,%d", gidStart, n),
			"--setuid", "0", "--setgid", "0", "--", "/bin/sh", "-euc", script, "sh")
		cmd.Args = append(cmd.Args, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s\n(unshare from util-linux 2.38 or newer, with newuidmap, is needed to make the tree)", cmd, err, out)
		}
	}
	asTreeRoot(`root=$1 bb=$2 high=$3; shift 3
mkdir "$root"
cd "$root"
mkdir bin etc proc dev tmp root
chmod 0700 root
cp "$bb" bin/busybox
for a in "$@"; do ln -s busybox bin/"$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo high > etc/high
chown "$high:$high" etc/high`, append([]string{root, bb, strconv.Itoa(high), "rm", "chown"}, busyboxApplets...)...)
	t.Cleanup(func() { asTreeRoot(`rm -rf "$1"`, root) })
	return root, uidStart, gidStart
}

// treeListing lists what the caller sees of a tree: path, mode, owner,
// size and link target of each entry.
func treeListing(t *testing.T, root string) []string {
	t.Helper()
	var l []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			l = append(l, p+": "+err.Error())
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		target, _ := os.Readlink(p)
		l = append(l, fmt.Sprintf("%s %v %d:%d %d %s", p, fi.Mode(), st.Uid, st.Gid, fi.Size(), target))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRootfsSubordinateTree: a tree made as mmdebstrap --mode=unshare makes
// one (its root's files owned by the caller's first subordinate id) reads
// as it was made with one command: its root's files as 0, its id N as N;
// --uid 0 is its root, who can write them (with --rootfs-rw, to the tree;
// with --overlay-root, to a throwaway layer: the tree stays as it was); the
// caller keeps its own id. A tree of the caller's own, chowned inside
// (podman unshare's layout: 0 is the caller, 1.. the subordinate ids),
// reads right with --uid 0 as before.
func TestRootfsSubordinateTree(t *testing.T) {
	t.Parallel()
	uid := os.Getuid()
	high := 60000
	if uid == high {
		high++
	}
	tree, uidStart, gidStart := subordinateTree(t, high)
	hi := strconv.Itoa(high)
	before := treeListing(t, tree)
	tests := []struct {
		name   string
		flags  []string
		script string
		want   string
	}{
		{"root of the tree, read-only", []string{"--uid", "0", "--gid", "0"},
			`id -u; stat -c %u:%g /etc/passwd /etc/high; touch /root/x 2>/dev/null || echo read-only`,
			"0\n0:0\n" + hi + ":" + hi + "\nread-only\n"},
		{"without --uid: the caller, keeping its id", nil,
			`id -u; stat -c %u:%g /etc/passwd /etc/high`,
			fmt.Sprintf("%d\n0:0\n%s:%s\n", uid, hi, hi)},
		{"--overlay-root: root writes a throwaway layer", []string{"--uid", "0", "--gid", "0", "--overlay-root"},
			`echo x > /etc/newfile; rm /bin/ls; echo more >> /etc/passwd; touch /root/x; chown 7:7 /etc/high
cat /etc/newfile; ls /bin/ls 2>/dev/null || echo gone; stat -c %u:%g /etc/high /root/x /`,
			"x\ngone\n7:7\n0:0\n0:0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run", "--rootfs", tree}, tt.flags...), "--", "/bin/sh", "-c", tt.script)
			if out := sbx(t, args...).ok(t); out != tt.want {
				t.Errorf("got %q, want %q", out, tt.want)
			}
			if after := treeListing(t, tree); !slices.Equal(after, before) {
				t.Errorf("the tree changed on the host:\nbefore %q\nafter  %q", before, after)
			}
		})
	}

	// --rootfs-rw: root's writes reach the tree, as the tree's root's.
	sbx(t, "run", "--rootfs", tree, "--rootfs-rw", "--uid", "0", "--gid", "0", "--", "/bin/sh", "-c", "touch /root/x /made").ok(t)
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(tree, "made"), &st); err != nil {
		t.Fatalf("--rootfs-rw: /made is not on the host: %v", err)
	}
	if uint64(st.Uid) != uidStart || uint64(st.Gid) != gidStart {
		t.Errorf("--rootfs-rw: /made belongs to %d:%d on the host, want the tree's root %d:%d", st.Uid, st.Gid, uidStart, gidStart)
	}

	// A tree of the caller's, chowned by root inside.
	own := busyboxRootfs(t)
	sbx(t, "run", "--rootfs", own, "--rootfs-rw", "--uid", "0", "--gid", "0", "--", "/bin/sh", "-c", "busybox chown 1:1 /etc/marker").ok(t)
	if err := syscall.Stat(filepath.Join(own, "etc", "marker"), &st); err != nil {
		t.Fatal(err)
	}
	if uint64(st.Uid) != uidStart {
		t.Errorf("chown 1 in a tree of the caller's gave host uid %d, want the first subordinate uid %d", st.Uid, uidStart)
	}
	out := sbx(t, "run", "--rootfs", own, "--uid", "0", "--", "/bin/sh", "-c", "stat -c %u /etc /etc/marker /bin/busybox").ok(t)
	if out != "0\n1\n0\n" {
		t.Errorf("a tree of the caller's, --uid 0: owners of /etc, /etc/marker, /bin/busybox %q, want 0, 1, 0", out)
	}
}

// TestOverlayRoot: --overlay-root makes a --rootfs tree of the caller's
// writable through a throwaway layer: writes, removals and new mount
// points inside, nothing on the host.
func TestOverlayRoot(t *testing.T) {
	t.Parallel()
	root := busyboxRootfs(t)
	before := treeListing(t, root)
	out := sbx(t, "run", "--rootfs", root, "--overlay-root", "--tmpfs", "/new/mnt", "--", "/bin/sh", "-c",
		`echo x > /etc/newfile; busybox rm /bin/ls; mkdir /srv; cat /etc/newfile; ls /bin/ls 2>/dev/null || echo gone; ls -d /new/mnt /srv; stat -c %a /`).ok(t)
	if want := "x\ngone\n/new/mnt\n/srv\n755\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if after := treeListing(t, root); !slices.Equal(after, before) {
		t.Errorf("the tree changed on the host:\nbefore %q\nafter  %q", before, after)
	}
}

// TestRootfsIDsBadInput: what cannot be done stops sbx with 125 and one
// line: --overlay-root without a tree or with --rootfs-rw, an id the map
// of a subordinate tree has not, and a subordinate tree where the map
// helpers are missing (in a sandbox whose /etc/subuid makes the tree, which
// reads as 0 there, the first subordinate id's).
func TestRootfsIDsBadInput(t *testing.T) {
	t.Parallel()
	tree, _, _ := subordinateTree(t, 5)
	dir := testDir(t)
	subids := filepath.Join(dir, "subids")
	writeFile(t, subids, currentUserName(t)+":0:65536\n", 0o644)
	emptyBin := filepath.Join(dir, "empty-bin")
	if err := os.Mkdir(emptyBin, 0o755); err != nil {
		t.Fatal(err)
	}
	nested := []string{"run", "--allow-userns", "--seccomp", "unconfined",
		"--ro-bind", subids + ":/etc/subuid", "--ro-bind", subids + ":/etc/subgid",
		"--hide", "/usr/bin/newuidmap", "--hide", "/usr/bin/newgidmap", "-e", "PATH=" + emptyBin, "--", sbxBinary(t)}
	tests := []struct {
		name string
		args []string
		want []string // in the one line of stderr
	}{
		{"overlay-root without rootfs", []string{"run", "--overlay-root"}, []string{"--overlay-root", "--rootfs"}},
		{"overlay-root with rootfs-rw", []string{"run", "--rootfs", tree, "--overlay-root", "--rootfs-rw"}, []string{"--overlay-root", "--rootfs-rw"}},
		{"an id the tree's map has not", []string{"run", "--rootfs", tree, "--uid", "70000"}, []string{"--uid 70000", tree}},
		{"no map helpers", append(nested, "run", "--rootfs", tree, "--uid", "0"),
			[]string{"--rootfs " + tree, "first subordinate id", "mmdebstrap", "newuidmap", "apt-get install uidmap", "--map single"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sbx(t, append(tt.args, "--", "/bin/true")...)
			r.expect(t, 125)
			l := lines(r.stderr)
			if len(l) != 1 {
				t.Fatalf("want one line on stderr:\n%s", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(l[0], w) {
					t.Errorf("the line does not name %q:\n%s", w, r)
				}
			}
		})
	}
}

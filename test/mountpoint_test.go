package test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMountPointAnywhere: a destination whose parent is read-only (the
// host's / and /usr/share in the default view, a read-only --rootfs
// without /proc, /dev, /tmp or the destination) is made all the same, in a
// mirror of the parent: the parent lists what it listed before plus the
// new mount point, reads the same, stays read-only, and nothing changes on
// the host.
func TestMountPointAnywhere(t *testing.T) {
	t.Parallel()
	src := testDir(t)
	writeTree(t, filepath.Join(src, "hello"), "from the host\n")
	bare := filepath.Join(testDir(t), "bare")
	if err := os.MkdirAll(filepath.Join(bare, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, requireTool(t, "busybox", "`sudo apt-get install busybox-static`"), filepath.Join(bare, "bin", "busybox"), 0o755)
	for _, a := range []string{"sh", "ls", "cat", "touch"} {
		if err := os.Symlink("busybox", filepath.Join(bare, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, root, dst, parent string
		hostParent              string // the parent on the host, to compare with ("" for none)
	}{
		{"top level, host root", "", "/newtop", "/", "/"},
		{"below /usr/share, host root", "", "/usr/share/newdir", "/usr/share", "/usr/share"},
		{"top level, bare rootfs", bare, "/src", "/", bare},
		{"deeper, bare rootfs", bare, "/opt/tools/src", "/opt/tools", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"run", "--no-cwd", "--ro-bind", src + ":" + tt.dst}
			if tt.root != "" {
				args = append(args, "--rootfs", tt.root)
			}
			script := `cat "$1"/hello; ls -a "$2"; echo END; touch "$2"/new-file 2>/dev/null && echo parent-writable || echo parent-read-only; ls /proc/self >/dev/null && echo proc-ok`
			r := sbx(t, append(args, "--", "/bin/sh", "-c", script, "sh", tt.dst, tt.parent)...)
			out := r.ok(t)
			if !strings.HasPrefix(out, "from the host\n") {
				t.Fatalf("the bind at %s is not there:\n%s", tt.dst, r)
			}
			listed, rest, _ := strings.Cut(strings.TrimPrefix(out, "from the host\n"), "END\n")
			if rest != "parent-read-only\nproc-ok\n" {
				t.Errorf("the parent %s must stay read-only, and /proc be there:\n%s", tt.parent, r)
			}
			inside := strings.Fields(listed)
			if !slices.Contains(inside, filepath.Base(tt.dst)) && filepath.Dir(tt.dst) == tt.parent {
				t.Errorf("%s does not list the new mount point %s:\n%s", tt.parent, tt.dst, r)
			}
			if tt.hostParent != "" {
				entries, err := os.ReadDir(tt.hostParent)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					if !slices.Contains(inside, e.Name()) {
						t.Errorf("%s inside lost the entry %s of the host's %s", tt.parent, e.Name(), tt.hostParent)
					}
				}
				if _, err := os.Lstat(filepath.Join(tt.hostParent, filepath.Base(tt.dst))); err == nil {
					t.Errorf("the mount point was made on the host: %s", filepath.Join(tt.hostParent, filepath.Base(tt.dst)))
				}
			}
		})
	}
	// The bare rootfs on the host is as it was: bin alone.
	if entries, _ := os.ReadDir(bare); len(entries) != 1 {
		t.Errorf("the rootfs changed on the host: %v", entries)
	}
}

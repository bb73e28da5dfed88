package test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRootfsEnv: in a --rootfs tree the host's PATH, HOME, USER and
// LOGNAME make no sense: the command gets a standard PATH and its uid's
// home and name from the tree's /etc/passwd (HOME=/ without an entry), as
// podman does for an image; -e keeps what it names; the host's view keeps
// the caller's.
func TestRootfsEnv(t *testing.T) {
	t.Parallel()
	root := busyboxRootfs(t)
	writeFile(t, filepath.Join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nbuilder:x:1000:1000::/home/builder:/bin/sh\n", 0o644)
	env := func(r result) []string {
		var out []string
		for _, l := range lines(r.ok(t)) {
			k, _, _ := strings.Cut(l, "=")
			if k == "PATH" || k == "HOME" || k == "USER" || k == "LOGNAME" {
				out = append(out, l)
			}
		}
		slices.Sort(out)
		return out
	}
	std := "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"root", []string{"--rootfs", root, "--uid", "0"}, []string{"HOME=/root", "LOGNAME=root", std, "USER=root"}},
		{"a user of the tree", []string{"--rootfs", root, "--uid", "1000", "--map", "single"}, []string{"HOME=/home/builder", "LOGNAME=builder", std, "USER=builder"}},
		{"no entry", []string{"--rootfs", root, "--uid", "4242", "--map", "single"}, []string{"HOME=/", std}},
		{"-e keeps", []string{"--rootfs", root, "--uid", "0", "-e", "HOME=/srv", "-e", "USER"}, []string{"HOME=/srv", "LOGNAME=root", std, "USER=" + os.Getenv("USER")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, tt.flags...), "--", "/bin/sh", "-c", "env")
			if got := env(sbx(t, args...)); !slices.Equal(got, tt.want) {
				t.Errorf("want %v, got %v", tt.want, got)
			}
		})
	}
	// The host's view: the caller's.
	got := env(sbx(t, "run", "--", "env"))
	if !slices.Contains(got, "HOME="+os.Getenv("HOME")) || !slices.Contains(got, "PATH="+os.Getenv("PATH")) {
		t.Errorf("the host's view should keep the caller's HOME and PATH, got %v", got)
	}
}

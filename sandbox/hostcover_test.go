package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sbx-sandbox/sbx/plan"
)

func TestWithin(t *testing.T) {
	tests := []struct {
		path, dir string
		want      bool
	}{
		{"/a/b", "/a", true},
		{"/a", "/a", true},
		{"/ab", "/a", false},
		{"/a", "/a/b", false},
		{"/x", "/", true},
	}
	for _, tt := range tests {
		if got := within(tt.path, tt.dir); got != tt.want {
			t.Errorf("within(%q, %q) = %v, want %v", tt.path, tt.dir, got, tt.want)
		}
	}
}

func TestCoveredRightBelow(t *testing.T) {
	covers := []plan.Mount{{Kind: plan.Hide, Dst: "/w/records"}, {Kind: plan.Cover, Dst: "/w/a/b"}}
	tests := []struct {
		path, dir string
		want      bool
	}{
		{"/w/records/sbx-1", "/w", true}, // the cover is an entry of the directory
		{"/w/a/b/sbx-1", "/w", false},    // "a" could be moved away
		{"/w/a/b/sbx-1", "/w/a", true},   // right below
		{"/w/a/b/sbx-1", "/w/a/b", true}, // the directory itself
		{"/w/other/sbx-1", "/w", false},  // not covered at all
	}
	for _, tt := range tests {
		if got := coveredRightBelow(covers, tt.path, tt.dir); got != tt.want {
			t.Errorf("coveredRightBelow(%q, %q) = %v, want %v", tt.path, tt.dir, got, tt.want)
		}
	}
}

func TestHostCovers(t *testing.T) {
	runtime := t.TempDir()
	sock := "/var/lib/sbx-test/agent.sock" // outside /tmp, which is covered anyway
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	t.Setenv("SSH_AUTH_SOCK", sock)
	dests := func(ms []plan.Mount) []string {
		var d []string
		for _, m := range ms {
			d = append(d, m.Dst+" "+m.Kind.String())
		}
		return d
	}
	got := dests(hostCovers(false, "/var/lib/elsewhere/sbx"))
	for _, want := range []string{"/tmp " + plan.Cover.String(), "/run " + plan.Cover.String(), runtime + " " + plan.Cover.String(), realPath(sock) + " " + plan.Hide.String(), "/var/lib/elsewhere/sbx " + plan.Hide.String()} {
		if !slices.Contains(got, want) {
			t.Errorf("covers %q lack %q", got, want)
		}
	}
	// Records under a cover need no cover of their own; a rootfs has
	// none of the host's services.
	if got := dests(hostCovers(false, filepath.Join(runtime, "sbx"))); slices.Contains(got, filepath.Join(runtime, "sbx")+" "+plan.Hide.String()) {
		t.Errorf("records under $XDG_RUNTIME_DIR covered twice: %q", got)
	}
	// With a rootfs, the host's places are hidden where a bind shows
	// them, never created.
	want := []string{"/tmp " + plan.Cover.String(), "/run " + plan.Cover.String(), runtime + " " + plan.Hide.String(), sock + " " + plan.Hide.String(), "/x " + plan.Hide.String()}
	if got := dests(hostCovers(true, "/x")); !slices.Equal(got, want) {
		t.Errorf("covers with a rootfs: %q, want %q", got, want)
	}
}

func TestGitGuards(t *testing.T) {
	repo := t.TempDir()
	for _, d := range []string{".git", ".git/hooks", "shared"} {
		if err := os.Mkdir(filepath.Join(repo, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "shared/config"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A link inside .git to a file in the writable tree.
	if err := os.Symlink("../shared/config", filepath.Join(repo, ".git/config")); err != nil {
		t.Fatal(err)
	}
	ids := sourceIDs{}
	bind := plan.Mount{Kind: plan.Bind, Src: repo, Dst: "/src"}
	guards, err := gitGuards(bind, ids)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range guards {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		got = append(got, m.Dst+" "+mode)
	}
	want := []string{"/src/.git ro", "/src/shared/config ro"}
	if !slices.Equal(got, want) {
		t.Errorf("guards %q, want %q", got, want)
	}
	bind.ReadOnly = true
	if g, _ := gitGuards(bind, ids); len(g) != 0 {
		t.Errorf("a read-only bind got guards: %v", g)
	}
	// A .git that is a link: refused.
	link := t.TempDir()
	if err := os.Symlink(repo+"/.git", filepath.Join(link, ".git")); err != nil {
		t.Fatal(err)
	}
	if _, err := gitGuards(plan.Mount{Kind: plan.Bind, Src: link, Dst: "/l"}, ids); err == nil {
		t.Errorf(".git as a link was accepted")
	}
	// A .git file: it and the gitdir it names, when in the bind.
	wt := t.TempDir()
	os.MkdirAll(filepath.Join(wt, "gitdirs/main"), 0o755)
	os.WriteFile(filepath.Join(wt, ".git"), []byte("gitdir: gitdirs/main\n"), 0o644)
	guards, err = gitGuards(plan.Mount{Kind: plan.Bind, Src: wt, Dst: "/w"}, ids)
	got = nil
	for _, m := range guards {
		got = append(got, m.Dst)
	}
	if err != nil || !slices.Equal(got, []string{"/w/.git", "/w/gitdirs/main"}) {
		t.Errorf("a .git file: guards %q, %v", got, err)
	}
}

func TestParseLogMax(t *testing.T) {
	tests := []struct {
		v      string
		detach bool
		want   uint32
		ok     bool
	}{
		{"", false, DefaultLogMax, true},
		{"64k", true, 64 << 10, true},
		{"1m", true, 1 << 20, true},
		{"-1", true, 0, true},
		{"1m", false, 0, false},
		{"100", true, 0, false},
		{"5g", true, 0, false},
		{"lots", true, 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLogMax(tt.v, tt.detach)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLogMax(%q, %v) = %d, %v; want %d, ok %v", tt.v, tt.detach, got, err, tt.want, tt.ok)
		}
	}
}

func TestLinkTargetBinds(t *testing.T) {
	// /etc/resolv.conf -> ../run/resolvconf/resolv.conf -> /run/systemd/stub
	// with /run covered: both steps in /run get the file.
	root := t.TempDir()
	for _, d := range []string{"etc", "run/resolvconf", "run/systemd"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub := filepath.Join(root, "run/systemd/stub")
	if err := os.WriteFile(stub, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	step := filepath.Join(root, "run/resolvconf/resolv.conf")
	if err := os.Symlink(stub, step); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "etc/resolv.conf")
	if err := os.Symlink("../run/resolvconf/resolv.conf", conf); err != nil {
		t.Fatal(err)
	}
	covers := []plan.Mount{{Kind: plan.Cover, Dst: filepath.Join(root, "run")}}
	ids := sourceIDs{}
	var got []string
	for _, m := range linkTargetBinds(conf, covers, ids) {
		got = append(got, m.Dst+" <- "+m.Src)
	}
	if want := []string{step + " <- " + stub, stub + " <- " + stub}; !slices.Equal(got, want) {
		t.Errorf("binds %q, want %q", got, want)
	}
	if _, ok := ids[stub]; !ok {
		t.Errorf("the target was not recorded: %v", ids)
	}
	// A regular file needs nothing.
	plain := filepath.Join(root, "plain")
	os.WriteFile(plain, nil, 0o644)
	if b := linkTargetBinds(plain, covers, ids); len(b) != 0 {
		t.Errorf("a regular resolv.conf got binds: %v", b)
	}
}

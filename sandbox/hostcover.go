package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sbx-sandbox/sbx/plan"
)

// The host's root is visible read-only in a sandbox, but a read-only mount
// does not stop connect(2) on a unix socket: every service listening on a
// socket file the sandbox can see would take its requests (the session
// bus and systemd --user would run commands on the host). So the places
// where session and system services listen are covered by default, and
// with them the records of sbx, which sbx exec trusts.

// hostCovers returns the default covers, in order: a fresh /tmp; a fresh
// /run, where system services (D-Bus, container engines, nscd, ...) listen;
// /var/run when it is a directory of its own rather than a link to /run;
// $XDG_RUNTIME_DIR (the session bus, systemd --user, podman, gpg-agent,
// Wayland, PulseAudio), private and empty; the socket of $SSH_AUTH_SOCK;
// and sbx's own records where nothing above covers them. With a --rootfs,
// which holds none of the host's places, the host's paths are hidden
// where a bind (a --ro-cwd) shows them, and none is created.
func hostCovers(rootfs bool, stateRoot string) []plan.Mount {
	covers := []plan.Mount{
		{Kind: plan.Cover, Dst: "/tmp", Mode: "1777", Size: tmpSize},
		{Kind: plan.Cover, Dst: "/run", Mode: "0755", Size: runSize},
	}
	if st, err := os.Lstat("/var/run"); err == nil && st.IsDir() && !rootfs {
		covers = append(covers, plan.Mount{Kind: plan.Cover, Dst: "/var/run", Mode: "0755", Size: runSize})
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
		if rootfs {
			// Not in a root filesystem of its own, unless bound there
			// (a --ro-cwd): then hidden.
			covers = append(covers, plan.Mount{Kind: plan.Hide, Dst: realPath(dir), Optional: true})
		} else {
			covers = append(covers, plan.Mount{Kind: plan.Cover, Dst: realPath(dir), Mode: "0700", Size: runSize})
		}
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); filepath.IsAbs(sock) && !covered(covers, realPath(sock)) {
		covers = append(covers, plan.Mount{Kind: plan.Hide, Dst: realPath(sock), Optional: true})
	}
	if !covered(covers, stateRoot) {
		covers = append(covers, plan.Mount{Kind: plan.Hide, Dst: stateRoot, Optional: true})
	}
	return covers
}

// Sizes of the default tmpfs mounts: without them, each may take half of
// the RAM (the kernel's default), and /tmp and /dev/shm together all of it.
// --tmpfs /tmp:size=... sets another.
const (
	tmpSize = "25%"
	runSize = "64m"
)

// covered reports whether path lies in a directory that one of covers
// replaces with a fresh tmpfs.
func covered(covers []plan.Mount, path string) bool {
	for _, c := range covers {
		if (c.Kind == plan.Cover || c.Kind == plan.Tmpfs) && within(path, c.Dst) {
			return true
		}
	}
	return false
}

// coveredRightBelow reports whether path, inside the writable directory
// dir, is covered by a mount made on dir itself or on one of its entries:
// a mount point cannot be renamed or removed, so nothing in the sandbox
// can move the covered place away and put another in its stead.
func coveredRightBelow(covers []plan.Mount, path, dir string) bool {
	for _, c := range covers {
		d := realPath(c.Dst)
		if within(path, d) && (d == dir || filepath.Dir(d) == dir) {
			return true
		}
	}
	return false
}

// resolverBinds keeps the resolver's configuration readable when
// /etc/resolv.conf is a link into a covered directory (systemd-resolved's
// /run/systemd/resolve/stub-resolv.conf, resolvconf's /run/resolvconf):
// the file the links end at is bound read-only at every covered step.
func resolverBinds(covers []plan.Mount, ids sourceIDs) []plan.Mount {
	return linkTargetBinds("/etc/resolv.conf", covers, ids)
}

// linkTargetBinds binds the file the link resolvConf ends at, read-only, at
// every step of the way that lies in a covered directory.
func linkTargetBinds(resolvConf string, covers []plan.Mount, ids sourceIDs) []plan.Mount {
	st, err := os.Lstat(resolvConf)
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	target, _, err := ids.resolve(resolvConf, resolvConf, resolvConf)
	if err != nil {
		return nil
	}
	var binds []plan.Mount
	path := resolvConf
	for range 16 {
		link, err := os.Readlink(path)
		if err != nil {
			break
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = filepath.Clean(link)
		if covered(covers, path) {
			binds = append(binds, plan.Mount{Kind: plan.Bind, Src: target, Dst: path, ReadOnly: true})
		}
	}
	return binds
}

// gitGuards keeps a repository at the top of a writable bind from being
// turned against the host: git runs what .git says (hooks, core.fsmonitor
// and core.hooksPath in its config, a commondir or gitdir that points at
// another configuration), so the user's next git command outside would
// run what the sandbox wrote there. .git is bound read-only over the
// writable bind, which also makes it a mount point that cannot be renamed
// away and replaced; a link inside .git to a place in the same writable
// bind gets its target bound read-only too. A .git file (a linked
// worktree or a submodule) is bound read-only, with the gitdir it names
// when that lies in the bind. A .git that is itself a link cannot be kept
// from being replaced: that is an error. --git-writable lifts the guard
// (commits inside need it).
func gitGuards(m plan.Mount, ids sourceIDs) ([]plan.Mount, error) {
	if m.Kind != plan.Bind || m.ReadOnly {
		return nil, nil
	}
	src := filepath.Join(m.Src, ".git")
	st, err := os.Lstat(src)
	if err != nil {
		return nil, nil
	}
	var guards []plan.Mount
	// roBind binds path, which lies in the bind, read-only where the
	// sandbox sees it.
	roBind := func(path string) {
		rel, err := filepath.Rel(m.Src, path)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return // outside the writable bind: read-only already
		}
		if real, _, err := ids.resolveNoFollow(path); err == nil {
			guards = append(guards, plan.Mount{Kind: plan.Bind, Src: real, Dst: filepath.Join(m.Dst, rel), ReadOnly: true})
		}
	}
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		return nil, fmt.Errorf("%s is a link, which a sandbox could replace with a repository of its own that git would then run: "+
			"pass --git-writable to accept that, or bind the directory read-only", src)
	case st.Mode().IsRegular():
		roBind(src)
		if b, err := os.ReadFile(src); err == nil {
			if dir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
				if !filepath.IsAbs(dir) {
					dir = filepath.Join(m.Src, dir)
				}
				roBind(realPath(dir))
			}
		}
		return guards, nil
	case !st.IsDir():
		return nil, nil
	}
	roBind(src)
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		if target, err := filepath.EvalSymlinks(filepath.Join(src, e.Name())); err == nil {
			roBind(target)
		}
	}
	return guards, nil
}

// checkHidesRecords refuses a view operation that would show sbx's records
// to the sandbox: a source that holds them or lies among them.
func checkHidesRecords(op ViewOp, m plan.Mount, stateRoot string) error {
	var sources []string
	switch m.Kind {
	case plan.Bind:
		sources = []string{m.Src}
	case plan.Overlay:
		sources = m.Lowers
	}
	for _, src := range sources {
		real := realPath(src)
		if within(stateRoot, real) || within(real, stateRoot) {
			return fmt.Errorf("--%s %q: %s holds sbx's records (%s) or lies among them, which the sandbox could then read or change: "+
				"pick another source, or set XDG_RUNTIME_DIR", op.Kind, op.Arg, src, stateRoot)
		}
	}
	return nil
}

// holdsHome reports whether dir is the caller's home directory or one of
// its ancestors.
func holdsHome(dir string) bool {
	home := callerHome()
	return home != "" && within(home, realPath(dir))
}

// isHome reports whether dir is the caller's home directory.
func isHome(dir string) bool {
	home := callerHome()
	return home != "" && home == realPath(dir)
}

// callerHome is the caller's home directory, without links: $HOME, or
// the account's from the password database; "" for none, or for /.
func callerHome() string {
	home := os.Getenv("HOME")
	if !filepath.IsAbs(home) {
		// Unset: the account's own, from the password database.
		if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
			home = u.HomeDir
		}
	}
	if !filepath.IsAbs(home) || home == "/" {
		return ""
	}
	return realPath(home)
}

// bindsWritable reports whether a --bind or --dev-bind of the view has dir
// as its source: the user asked for it to be writable.
func bindsWritable(view []ViewOp, dir string) bool {
	real := realPath(dir)
	for _, op := range view {
		if op.Kind != OpBind && op.Kind != OpDevBind && op.Kind != OpBindTry && op.Kind != OpDevBindTry {
			continue
		}
		src, _ := splitSrcDst(op.Arg)
		if abs, err := filepath.Abs(src); err == nil && realPath(abs) == real {
			return true
		}
	}
	return false
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

// realPath resolves the links of an absolute path as far as it exists.
func realPath(p string) string {
	p = filepath.Clean(p)
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	return filepath.Join(realPath(parent), filepath.Base(p))
}

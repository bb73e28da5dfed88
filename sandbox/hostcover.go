package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The host's root is visible read-only in a sandbox, but a read-only mount
// does not stop connect(2) on a unix socket: every service listening on a
// socket file the sandbox can see would take its requests (the session
// bus and systemd --user would run commands on the host). So the places
// where session and system services listen are covered by default, and
// with them the records of sbx, which sbx exec trusts.

// MountCover covers an existing directory with a fresh, empty tmpfs (its
// options are the tmpfs's). A missing directory is created where the view
// is writable and skipped where it is not.
const MountCover = "sbx-cover"

// optional marks a MountHide that is skipped when its path does not exist
// in the view.
const optional = "optional"

// hostCovers returns the default covers, in order: a fresh /tmp; a fresh
// /run, where system services (D-Bus, container engines, nscd, ...) listen;
// /var/run when it is a directory of its own rather than a link to /run;
// $XDG_RUNTIME_DIR (the session bus, systemd --user, podman, gpg-agent,
// Wayland, PulseAudio), private and empty; the socket of $SSH_AUTH_SOCK;
// and sbx's own records where nothing above covers them. With a --rootfs,
// which holds none of the host's places, the host's paths are hidden
// where a bind (a --ro-cwd) shows them, and none is created.
func hostCovers(rootfs bool, stateRoot string) []specs.Mount {
	covers := []specs.Mount{
		{Destination: "/tmp", Type: MountCover, Options: []string{"nosuid", "nodev", "mode=1777", "size=" + tmpSize}},
		{Destination: "/run", Type: MountCover, Options: []string{"nosuid", "nodev", "mode=0755", "size=" + runSize}},
	}
	if st, err := os.Lstat("/var/run"); err == nil && st.IsDir() && !rootfs {
		covers = append(covers, specs.Mount{Destination: "/var/run", Type: MountCover, Options: []string{"nosuid", "nodev", "mode=0755", "size=" + runSize}})
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
		if rootfs {
			// Not in a root filesystem of its own, unless bound there
			// (a --ro-cwd): then hidden.
			covers = append(covers, specs.Mount{Destination: realPath(dir), Type: MountHide, Options: []string{optional}})
		} else {
			covers = append(covers, specs.Mount{Destination: realPath(dir), Type: MountCover, Options: []string{"nosuid", "nodev", "mode=0700", "size=" + runSize}})
		}
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); filepath.IsAbs(sock) && !covered(covers, realPath(sock)) {
		covers = append(covers, specs.Mount{Destination: realPath(sock), Type: MountHide, Options: []string{optional}})
	}
	if !covered(covers, stateRoot) {
		covers = append(covers, specs.Mount{Destination: stateRoot, Type: MountHide, Options: []string{optional}})
	}
	return covers
}

// Sizes of the default tmpfs mounts: without them, each may take half of
// the RAM (the kernel's default), and /tmp and /dev/shm together all of it.
// --tmpfs /tmp:size=... sets another.
const (
	tmpSize = "25%"
	shmSize = "64m" // as podman's /dev/shm
	runSize = "64m"
)

// covered reports whether path lies in a directory that one of covers
// replaces with a fresh tmpfs.
func covered(covers []specs.Mount, path string) bool {
	for _, c := range covers {
		if (c.Type == MountCover || c.Type == "tmpfs") && within(path, c.Destination) {
			return true
		}
	}
	return false
}

// coveredRightBelow reports whether path, inside the writable directory
// dir, is covered by a mount made on dir itself or on one of its entries:
// a mount point cannot be renamed or removed, so nothing in the sandbox
// can move the covered place away and put another in its stead.
func coveredRightBelow(covers []specs.Mount, path, dir string) bool {
	for _, c := range covers {
		d := realPath(c.Destination)
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
func resolverBinds(covers []specs.Mount, ids sourceIDs) []specs.Mount {
	return linkTargetBinds("/etc/resolv.conf", covers, ids)
}

// linkTargetBinds binds the file the link resolvConf ends at, read-only, at
// every step of the way that lies in a covered directory.
func linkTargetBinds(resolvConf string, covers []specs.Mount, ids sourceIDs) []specs.Mount {
	st, err := os.Lstat(resolvConf)
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	target, _, err := ids.resolve(resolvConf, resolvConf, resolvConf)
	if err != nil {
		return nil
	}
	var binds []specs.Mount
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
			binds = append(binds, specs.Mount{Destination: path, Type: "bind", Source: target, Options: []string{"rbind", "ro"}})
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
func gitGuards(m specs.Mount, ids sourceIDs) ([]specs.Mount, error) {
	if m.Type != "bind" || !hasOption(m.Options, "rw") {
		return nil, nil
	}
	src := filepath.Join(m.Source, ".git")
	st, err := os.Lstat(src)
	if err != nil {
		return nil, nil
	}
	var guards []specs.Mount
	// roBind binds path, which lies in the bind, read-only where the
	// sandbox sees it.
	roBind := func(path string) {
		rel, err := filepath.Rel(m.Source, path)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return // outside the writable bind: read-only already
		}
		if real, _, err := ids.resolveNoFollow(path); err == nil {
			guards = append(guards, specs.Mount{Destination: filepath.Join(m.Destination, rel), Type: "bind", Source: real, Options: []string{"rbind", "ro"}})
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
					dir = filepath.Join(m.Source, dir)
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

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// checkHidesRecords refuses a view operation that would show sbx's records
// to the sandbox: a source that holds them or lies among them.
func checkHidesRecords(op ViewOp, m specs.Mount, stateRoot string) error {
	var sources []string
	switch m.Type {
	case "bind":
		sources = []string{m.Source}
	case "overlay":
		for _, o := range m.Options {
			if l, ok := strings.CutPrefix(o, "lowerdir+="); ok {
				sources = append(sources, l)
			}
		}
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
	home := os.Getenv("HOME")
	if !filepath.IsAbs(home) {
		// Unset: the account's own, from the password database.
		if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
			home = u.HomeDir
		}
	}
	if !filepath.IsAbs(home) || home == "/" {
		return false
	}
	return within(realPath(home), realPath(dir))
}

// bindsWritable reports whether a --bind or --dev-bind of the view has dir
// as its source: the user asked for it to be writable.
func bindsWritable(view []ViewOp, dir string) bool {
	real := realPath(dir)
	for _, op := range view {
		if op.Kind != OpBind && op.Kind != OpDevBind {
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

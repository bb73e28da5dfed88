// Package hostcheck finds out whether sbx can run on this host for this
// user, and names the fix for whatever stands in the way: the facts behind
// `sbx check`. Where it can, it tries the thing itself (a real sandbox, a
// real overlay) rather than guessing from settings, and reads the settings
// only to explain a failure.
package hostcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/cgroupv2"

	"github.com/sbx-sandbox/sbx/usermap"
)

// Status says how a fact stands.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn" // sbx works, with a fallback or without a feature
	Fail Status = "fail" // sbx run cannot work until it is fixed
)

// Fact is one line of `sbx check`.
type Fact struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	// Fix is the exact thing to do, when Status is not OK.
	Fix string `json:"fix,omitempty"`
}

// Host is what the checks read; its fields are the places to look, so
// that tests can point them elsewhere.
type Host struct {
	// Self is the sbx binary used for the probes.
	Self string
	// Proc is the proc mount, usually /proc.
	Proc string
	// CgroupRoot is the cgroup v2 mount, usually /sys/fs/cgroup.
	CgroupRoot string
}

// Default is the real host, probed with the running binary.
func Default() Host {
	return Host{Self: "/proc/self/exe", Proc: "/proc", CgroupRoot: "/sys/fs/cgroup"}
}

// Run checks everything, in the order a user would fix things.
func (h Host) Run() []Fact {
	uid := uint32(os.Getuid())
	user := usermap.UserName(uid)
	if user == "" {
		user = strconv.Itoa(int(uid))
	}
	userns := h.userNamespaces()
	overlay := Fact{Name: "overlayfs in a user namespace", Status: Warn, Detail: "not checked: sbx run does not work yet",
		Fix: "fix what the user namespaces line says first"}
	if userns.Status == OK {
		overlay = h.overlay()
	}
	return append([]Fact{
		h.kernel(),
		kernelFacilities(),
		userns,
		h.nestedUserns(),
		inContainer(h.Proc, subIDs(user, uid)),
		inContainer(h.Proc, mapHelpers()),
		overlay,
		h.seccomp(),
		landlockABI(),
		h.cgroup(),
		network(),
		runtimeDir(uid),
	}, shares()...)
}

// Usable reports whether sbx run can work: no fact failed.
func Usable(facts []Fact) bool {
	for _, f := range facts {
		if f.Status == Fail {
			return false
		}
	}
	return true
}

func (h Host) kernel() Fact {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Fact{Name: "kernel", Status: Fail, Detail: fmt.Sprintf("uname: %v", err)}
	}
	release := unix.ByteSliceToString(u.Release[:])
	f := Fact{Name: "kernel", Status: OK, Detail: "Linux " + release}
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err == nil && (major < 5 || major == 5 && minor < 12) {
		f.Status = Fail
		f.Detail += ": sbx needs Linux 5.12 or newer (open_tree, move_mount, mount_setattr)"
		f.Fix = "upgrade the kernel to 5.12 or newer"
	}
	return f
}

// probe runs sbx itself with args and returns its combined output. It keeps
// its record in a directory of its own, so that what XDG_RUNTIME_DIR is
// like (checked on its own) neither spoils the probe nor gets changed by it.
func (h Host) probe(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	records, err := os.MkdirTemp("", "sbx-check-run-")
	if err != nil {
		return "", fmt.Errorf("make a directory for the probe's record: %w", err)
	}
	defer os.RemoveAll(records)
	cmd := exec.CommandContext(ctx, h.Self, args...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+records)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = "/"
	err = cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// userNamespaces starts a real sandbox (single map, no seccomp, nothing
// bound) and, if that fails, reads the settings that can explain why.
func (h Host) userNamespaces() Fact {
	f := Fact{Name: "user namespaces"}
	out, err := h.probe("run", "--map", "single", "--no-cwd", "--seccomp", "unconfined", "--", h.Self, "version")
	if err == nil {
		f.Status, f.Detail = OK, "sbx run works for this user"
		return f
	}
	f.Status = Fail
	f.Detail = "sbx run fails: " + firstLine(out, err)
	f.Fix = h.explainUserns(out)
	return f
}

// explainUserns names the setting that keeps this user from creating user
// namespaces or sandboxes, from the probe's output and the settings.
func (h Host) explainUserns(out string) string {
	switch {
	case strings.Contains(out, "fsmount proc"):
		return "the kernel refuses a new /proc here because the /proc of this process has masked paths: this runs inside a sandbox " +
			"or container (sbx, bwrap, podman...), where sbx cannot make sandboxes of its own; run sbx outside it"
	case strings.Contains(out, "make / a recursive slave"):
		return "mount(2) is refused here, by a seccomp filter (sbx's default profile, or a container's): run sbx outside it, " +
			"or start the outer sandbox with --seccomp unconfined"
	}
	sysctl := func(name string) (int, bool) {
		b, err := os.ReadFile(filepath.Join(h.Proc, "sys", strings.ReplaceAll(name, ".", "/")))
		if err != nil {
			return 0, false
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		return n, err == nil
	}
	if n, ok := sysctl("user.max_user_namespaces"); ok && n == 0 {
		return "user namespaces are switched off (user.max_user_namespaces = 0): run `sudo sysctl -w user.max_user_namespaces=15000` " +
			"and put `user.max_user_namespaces=15000` in /etc/sysctl.d/50-sbx.conf (inside an sbx sandbox started without --allow-userns, this is on purpose)"
	}
	if n, ok := sysctl("kernel.unprivileged_userns_clone"); ok && n == 0 {
		return "unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone = 0): run `sudo sysctl -w kernel.unprivileged_userns_clone=1` " +
			"and put it in /etc/sysctl.d/50-sbx.conf"
	}
	if n, ok := sysctl("kernel.apparmor_restrict_unprivileged_userns"); ok && n == 1 {
		self, _ := os.Executable()
		return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10+): give sbx a profile: " +
			"write `abi <abi/4.0>, include <tunables/global> profile sbx " + self + " flags=(unconfined) { userns, }` to /etc/apparmor.d/sbx " +
			"and run `sudo apparmor_parser -r /etc/apparmor.d/sbx`"
	}
	if seccompMode(h.Proc) == 2 {
		return "this process runs under a seccomp filter that refuses new user namespaces, as container runtimes and sbx's default profile install: " +
			"run sbx on the host, or start the container with `--security-opt seccomp=unconfined` (Docker/podman)"
	}
	return "check dmesg and the error above; `unshare --user --map-root-user true` shows whether the kernel lets this user create user namespaces"
}

// nestedUserns tells whether --allow-userns gives the command what it asks
// for: Ubuntu's AppArmor restriction leaves a user namespace that an
// unconfined program creates without capabilities. One read; the probe
// itself would cost a sandbox.
func (h Host) nestedUserns() Fact {
	f := Fact{Name: "nested user namespaces", Status: OK,
		Detail: "refused in sandboxes unless --allow-userns; with it, the kernel allows them"}
	b, err := os.ReadFile(filepath.Join(h.Proc, "sys/kernel/apparmor_restrict_unprivileged_userns"))
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		f.Status = Warn
		f.Detail = "refused in sandboxes unless --allow-userns; even with it, kernel.apparmor_restrict_unprivileged_userns = 1 " +
			"leaves a user namespace made by an unconfined command without capabilities"
		f.Fix = "give the command an AppArmor profile that allows userns, or run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (for every program on the host)"
	}
	return f
}

// inContainer turns the fix of a fact about mapping more ids into what
// holds in a user namespace of the process's own (a container, a
// sandbox): the host's subordinate ids and setuid helpers do not reach
// into it, and installing them there changes nothing.
func inContainer(proc string, f Fact) Fact {
	if f.Status == OK || !inUserNamespace(proc) {
		return f
	}
	f.Detail += " (this process runs in a user namespace of its own: a container or a sandbox)"
	f.Fix = "nothing to install here: --map single works; for more ids, run sbx on the host, or give the container " +
		"a larger id range and newuidmap/newgidmap that work inside it"
	return f
}

// inUserNamespace reports whether the process is in a user namespace other
// than the host's, whose uid map is the identity over every id.
func inUserNamespace(proc string) bool {
	b, err := os.ReadFile(filepath.Join(proc, "self/uid_map"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

func subIDs(user string, uid uint32) Fact {
	f := Fact{Name: "subordinate ids", Status: OK}
	var missing []string
	var got []string
	for _, file := range []string{usermap.SubUIDPath, usermap.SubGIDPath} {
		ranges, err := usermap.ReadSubIDs(file, user, uid)
		var n uint64
		for _, r := range ranges {
			n += uint64(r.Count)
		}
		switch {
		case err != nil:
			missing = append(missing, fmt.Sprintf("%s: %v", file, err))
		case n < 65535:
			missing = append(missing, fmt.Sprintf("%s has %d ids for %s", file, n, user))
		default:
			got = append(got, fmt.Sprintf("%s: %d ids", file, n))
		}
	}
	if len(missing) == 0 {
		f.Detail = strings.Join(got, ", ") + ": --map auto maps 0..65535"
		return f
	}
	f.Status = Warn
	f.Detail = strings.Join(missing, "; ") + ": sbx maps only your own ids (--map single)"
	f.Fix = fmt.Sprintf("run `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s` (pick a range no one else has)", user)
	return f
}

func mapHelpers() Fact {
	f := Fact{Name: "newuidmap/newgidmap", Status: OK}
	var details, problems []string
	for _, name := range []string{"newuidmap", "newgidmap"} {
		if path := usermap.FindHelper(name); path != "" {
			how, _ := usermap.Privileged(path)
			details = append(details, path+" ("+how+")")
			continue
		}
		// Say why the usual one, if there is one, does not count.
		problem := name + " is not installed"
		for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
			if _, err := os.Stat(dir + "/" + name); err != nil {
				continue
			}
			if _, err := usermap.Privileged(dir + "/" + name); err != nil {
				problem = fmt.Sprintf("%s/%s: %v", dir, name, err)
				break
			}
		}
		problems = append(problems, problem)
	}
	if len(problems) == 0 {
		f.Detail = strings.Join(details, ", ")
		return f
	}
	f.Status = Warn
	f.Detail = strings.Join(problems, "; ") + ": sbx maps only your own ids (--map single)"
	f.Fix = "run `sudo apt-get install uidmap` (Fedora: shadow-utils), or reinstall it so that newuidmap and newgidmap are setuid root"
	return f
}

// overlay mounts a real overlay in a sandbox.
func (h Host) overlay() Fact {
	f := Fact{Name: "overlayfs in a user namespace"}
	lower, err := os.MkdirTemp("", "sbx-check-")
	if err != nil {
		return Fact{Name: f.Name, Status: Warn, Detail: fmt.Sprintf("cannot make a test directory: %v", err), Fix: "set TMPDIR to a writable directory"}
	}
	defer os.RemoveAll(lower)
	out, err := h.probe("run", "--map", "single", "--no-cwd", "--seccomp", "unconfined", "--overlay", lower+":/mnt", "--", h.Self, "version")
	if err == nil {
		f.Status, f.Detail = OK, "--overlay works"
		return f
	}
	f.Status = Warn
	f.Detail = "--overlay fails: " + firstLine(out, err)
	f.Fix = "overlayfs in user namespaces needs Linux 5.11 or newer (or a distribution kernel that allows it); use --tmpfs or --bind instead"
	return f
}

func seccompMode(proc string) int {
	b, err := os.ReadFile(filepath.Join(proc, "self/status"))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

func (h Host) seccomp() Fact {
	f := Fact{Name: "seccomp", Status: OK, Detail: "filters available: the built-in profile applies"}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); errors.Is(err, unix.EINVAL) {
		f.Status, f.Detail = Fail, "this kernel has no seccomp (CONFIG_SECCOMP)"
		f.Fix = "use a kernel with CONFIG_SECCOMP_FILTER, or run with --seccomp unconfined (no syscall filter)"
		return f
	}
	errno := uint32(unix.SECCOMP_RET_ERRNO)
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptrOf(&errno)); e != 0 {
		f.Status, f.Detail = Fail, fmt.Sprintf("seccomp filters are unavailable: %v", e)
		f.Fix = "use a kernel with CONFIG_SECCOMP_FILTER, or run with --seccomp unconfined (no syscall filter)"
		return f
	}
	if seccompMode(h.Proc) == 2 {
		f.Detail += " (this process is itself filtered already: a container?)"
	}
	return f
}

func landlockABI() Fact {
	f := Fact{Name: "landlock"}
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch {
	case e == 0:
		f.Status, f.Detail = OK, fmt.Sprintf("ABI %d: --landlock applies", abi)
	case e == unix.EOPNOTSUPP:
		f.Status, f.Detail = Warn, "Landlock is built in but not enabled: --landlock does nothing"
		f.Fix = "add landlock to the kernel's lsm= list (boot parameter, e.g. lsm=landlock,lockdown,yama,apparmor,bpf)"
	default:
		f.Status, f.Detail = Warn, fmt.Sprintf("this kernel has no Landlock (%v): --landlock does nothing", e)
		f.Fix = "use Linux 5.13 or newer with CONFIG_SECURITY_LANDLOCK"
	}
	return f
}

// cgroup tells the cgroup version and whether this user may manage the
// cgroup it is in (delegation), with which controllers.
func (h Host) cgroup() Fact {
	f := Fact{Name: "cgroup"}
	var st unix.Statfs_t
	if err := unix.Statfs(h.CgroupRoot, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		kind := "v1"
		if unix.Statfs(filepath.Join(h.CgroupRoot, "unified"), &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			kind = "hybrid (v1 controllers, v2 without them at " + filepath.Join(h.CgroupRoot, "unified") + ")"
		}
		f.Status, f.Detail = Warn, "cgroup "+kind+", not v2: no resource limits for sandboxes"
		f.Fix = "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2)"
		return f
	}
	if h.CgroupRoot != cgroupv2.Mount {
		f.Status, f.Detail = Warn, "cgroup v2 at "+h.CgroupRoot+", but sbx makes cgroups only at "+cgroupv2.Mount
		return f
	}
	m, parent, why := cgroupv2.Probe()
	switch m {
	case cgroupv2.Cgroupfs:
		controllers, _ := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
		f.Status = OK
		f.Detail = fmt.Sprintf("cgroup v2: each sandbox gets a cgroup in your delegated cgroup %s (cgroupfs), controllers: %s",
			strings.TrimPrefix(parent, cgroupv2.Mount), strings.Join(strings.Fields(string(controllers)), " "))
	case cgroupv2.Systemd:
		f.Status = OK
		f.Detail = "cgroup v2: each sandbox gets a cgroup in a scope of your systemd user manager (systemd)"
		manager := filepath.Join(cgroupv2.Mount, "user.slice", fmt.Sprintf("user-%d.slice/user@%d.service", os.Geteuid(), os.Geteuid()))
		if controllers, err := os.ReadFile(filepath.Join(manager, "cgroup.subtree_control")); err == nil {
			f.Detail += ", controllers delegated to it: " + strings.Join(strings.Fields(string(controllers)), " ")
			if !strings.Contains(string(controllers), "cpu ") || !strings.Contains(string(controllers), "io") || !strings.Contains(string(controllers), "cpuset") {
				f.Fix = "for --cpus, --cpu-weight, --cpuset-cpus and --io-weight, delegate every controller: a drop-in for user@.service with [Service] Delegate=cpu cpuset io memory pids (see the README)"
			}
		}
	default:
		f.Status = Warn
		f.Detail = "cgroup v2, but " + why + ": no resource limits for sandboxes"
		f.Fix = "run sbx in a delegated cgroup (`systemd-run --user --scope -p Delegate=yes sbx run ...`), or with your systemd user manager running (`loginctl enable-linger`); see README"
	}
	return f
}

func network() Fact {
	f := Fact{Name: "user-mode networking"}
	var found []string
	for _, tool := range []string{"pasta", "slirp4netns"} {
		if p, err := exec.LookPath(tool); err == nil {
			found = append(found, p)
		}
	}
	if len(found) > 0 {
		if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
			f.Status = Warn
			f.Detail = strings.Join(found, ", ") + " installed, but /dev/net/tun is not open to you (" + err.Error() + "): --net pasta, slirp4netns and user fail"
			f.Fix = "run `sudo chmod 0666 /dev/net/tun` (udev's default mode for it)"
			return f
		}
		f.Status, f.Detail = OK, strings.Join(found, ", ")
		return f
	}
	f.Status = Warn
	f.Detail = "neither pasta nor slirp4netns is installed: sandboxes have only lo"
	f.Fix = "run `sudo apt-get install passt` (pasta) or `sudo apt-get install slirp4netns`"
	return f
}

// runtimeDir checks what sbx needs of XDG_RUNTIME_DIR: a directory it can
// write, where $XDG_RUNTIME_DIR/sbx (the records) is a private directory of
// the user's, or can be made one.
func runtimeDir(uid uint32) Fact {
	f := Fact{Name: "XDG_RUNTIME_DIR"}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		f.Status = Warn
		f.Detail = fmt.Sprintf("unset: records of named sandboxes go to %s", filepath.Join(os.TempDir(), fmt.Sprintf("sbx-%d", uid)))
		f.Fix = "log in through a session that sets it (systemd-logind/pam_systemd), or export XDG_RUNTIME_DIR=/run/user/$(id -u)"
		return f
	}
	const badFix = "unset XDG_RUNTIME_DIR, or point it at a directory of yours with mode 0700"
	var st unix.Stat_t
	err := unix.Stat(dir, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		if unix.Access(filepath.Dir(dir), unix.W_OK|unix.X_OK) != nil {
			f.Status, f.Detail, f.Fix = Fail, dir+" does not exist, and sbx cannot create it", badFix
			return f
		}
		f.Status, f.Detail = Warn, dir+" does not exist: sbx creates it (mode 0700) at its first run"
		f.Fix = "create it yourself: mkdir -m 0700 " + dir
		return f
	case err != nil:
		f.Status, f.Detail, f.Fix = Fail, fmt.Sprintf("%s: %v", dir, err), badFix
		return f
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		f.Status, f.Detail, f.Fix = Fail, dir+" is not a directory", badFix
		return f
	case unix.Access(dir, unix.W_OK|unix.X_OK) != nil:
		f.Status, f.Detail, f.Fix = Fail, fmt.Sprintf("%s is not writable for you (owner %d, mode %o)", dir, st.Uid, st.Mode&0o7777), badFix
		return f
	}
	records := filepath.Join(dir, "sbx")
	var rs unix.Stat_t
	if err := unix.Lstat(records, &rs); err == nil && (rs.Mode&unix.S_IFMT != unix.S_IFDIR || rs.Uid != uid || rs.Mode&0o077 != 0) {
		f.Status = Fail
		f.Detail = fmt.Sprintf("%s is not a private directory of yours (owner %d, mode %o): sbx refuses to keep records there", records, rs.Uid, rs.Mode&0o7777)
		f.Fix = "remove " + records + " (sbx makes it again, mode 0700)"
		return f
	}
	if st.Uid != uid || st.Mode&0o077 != 0 {
		f.Status = Warn
		f.Detail = fmt.Sprintf("%s is not a private directory of yours (owner %d, mode %o); sbx keeps its records in a private %s inside", dir, st.Uid, st.Mode&0o7777, records)
		f.Fix = "chmod 0700 " + dir + " (it is meant to be private)"
		return f
	}
	f.Status, f.Detail = OK, dir
	return f
}

func firstLine(out string, err error) string {
	if out == "" {
		return err.Error()
	}
	line, _, _ := strings.Cut(out, "\n")
	return line
}

func uintptrOf(p *uint32) uintptr { return uintptr(unsafe.Pointer(p)) }

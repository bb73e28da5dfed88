// Package usermap decides the uid and gid maps of a sandbox's user
// namespace: the caller's own ids mapped to the ids it runs as inside, and,
// where /etc/subuid and /etc/subgid grant the caller subordinate ranges and
// the setuid helpers newuidmap and newgidmap exist, the rest of 0..65535
// mapped from those ranges.
package usermap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/sbx-sandbox/sbx/plan"
	"golang.org/x/sys/unix"
)

// Mode selects how many ids are mapped.
type Mode string

const (
	// Default is what sbx run does without --map: Auto where the
	// subordinate ranges and the helpers are there, silently Single
	// otherwise.
	Default Mode = ""
	// Auto maps 0..65535 from the subordinate ranges through the helpers;
	// asked for explicitly, it is an error without them.
	Auto Mode = "auto"
	// Single maps only the caller's own ids and denies setgroups(2).
	Single Mode = "single"
)

// ParseMode parses the value of --map (which cannot be empty: Default is
// --map not given).
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Auto, Single:
		return Mode(s), nil
	}
	return "", fmt.Errorf("--map %q: unknown id map mode, use auto or single", s)
}

// MappedIDs is how many ids Auto tries to map: 0..65535, like a distribution
// expects (nobody is 65534).
const MappedIDs = 65536

// maxExtents is the kernel's limit of lines in one id map.
const maxExtents = 340

// Range is a range of subordinate ids: Count ids from Start.
type Range struct {
	Start, Count uint32
}

// ParseSubIDs reads a file in the format of /etc/subuid (owner:start:count)
// and returns the ranges of the owner given by name or by numeric id, in
// file order. Malformed lines are skipped, as shadow's helpers do.
func ParseSubIDs(r io.Reader, name string, id uint32) ([]Range, error) {
	idStr := strconv.FormatUint(uint64(id), 10)
	var ranges []Range
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 3 {
			continue
		}
		if owner := fields[0]; owner != idStr && (name == "" || owner != name) {
			continue
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32-1 {
			continue
		}
		ranges = append(ranges, Range{Start: uint32(start), Count: uint32(count)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read subordinate ids: %w", err)
	}
	return ranges, nil
}

// ReadSubIDs is ParseSubIDs on a file; a missing file means no ranges.
func ReadSubIDs(path, name string, id uint32) ([]Range, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	ranges, err := ParseSubIDs(f, name, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ranges, nil
}

// Request describes the caller and what it asked for.
type Request struct {
	Mode Mode
	// HostUID and HostGID are the caller's ids.
	HostUID, HostGID uint32
	// UID and GID are the ids the command runs as inside; the caller's
	// ids are mapped to them.
	UID, GID uint32
	// SubUIDs and SubGIDs are the caller's subordinate ranges.
	SubUIDs, SubGIDs []Range
	// NewUIDMap and NewGIDMap are the helpers' paths, empty if absent.
	NewUIDMap, NewGIDMap string
	// ShiftUIDs and ShiftGIDs ask for the map of a root filesystem made
	// in a user namespace whose id 0 is the caller's first subordinate
	// id, as `mmdebstrap --mode=unshare` makes one (see MatchTree): see
	// fillShifted.
	ShiftUIDs, ShiftGIDs bool
	// Tree is the directory MatchTree matched, for messages.
	Tree string
}

// MatchTree looks at the owner of a --rootfs tree's top directory, as the
// host sees it: a tree owned by the caller's first subordinate uid (gid)
// was made in a user namespace whose root is that id, the way `mmdebstrap
// --mode=unshare` (which maps 0..count-1 from the first range of
// /etc/subuid) and `unshare --map-auto` lay a tree out: the tree's id N
// is the subordinate id start+N. The request then asks for that layout's
// map (ShiftUIDs, ShiftGIDs). A tree
// the caller owns (unpacked by the caller, or made by root in `podman
// unshare`, whose root is the caller) needs nothing: --uid 0 maps the
// caller to 0 and 1.. from the subordinate ids, podman's own layout.
// Under Single, Detect reads no ranges, and nothing matches.
func (req *Request) MatchTree(dir string, uid, gid uint32) {
	req.ShiftUIDs = len(req.SubUIDs) > 0 && uid == req.SubUIDs[0].Start
	req.ShiftGIDs = len(req.SubGIDs) > 0 && gid == req.SubGIDs[0].Start
	req.Tree = dir
}

// Plan is the decision: the maps and how to write them.
type Plan struct {
	UIDMappings, GIDMappings []plan.IDMap
	// UIDMapHelper and GIDMapHelper are set when the maps hold
	// subordinate ids, which only the setuid helpers may write.
	UIDMapHelper, GIDMapHelper string
	// SetgroupsDeny is set for a single map: the kernel requires it, and
	// it stops the sandbox from dropping supplementary groups.
	SetgroupsDeny bool
}

// Multi reports whether the plan maps more than the caller's own ids.
func (p *Plan) Multi() bool {
	return len(p.UIDMappings) > 1 || len(p.GIDMappings) > 1
}

// Build makes the plan for a request.
func Build(req Request) (Plan, error) {
	if req.UID == 1<<32-1 || req.GID == 1<<32-1 {
		return Plan{}, errors.New("id 4294967295 cannot be mapped: pick another --uid/--gid")
	}
	single := Plan{
		UIDMappings:   []plan.IDMap{{Inside: req.UID, Outside: req.HostUID, Count: 1}},
		GIDMappings:   []plan.IDMap{{Inside: req.GID, Outside: req.HostGID, Count: 1}},
		SetgroupsDeny: true,
	}
	switch req.Mode {
	case Single:
		return single, nil
	case Auto, Default:
	default:
		return Plan{}, fmt.Errorf("--map %q: unknown id map mode, use auto or single", req.Mode)
	}
	shifted := req.ShiftUIDs || req.ShiftGIDs
	if missing := req.missing(); missing != "" {
		if shifted {
			return Plan{}, fmt.Errorf("--rootfs %s: the tree belongs to your first subordinate id (as `mmdebstrap --mode=unshare` makes it), "+
				"which only a map of your subordinate ids shows as root's, but %s: run `sudo apt-get install uidmap`, "+
				"or use --map single (its files then read as nobody)", req.Tree, missing)
		}
		if req.Mode == Auto {
			return Plan{}, fmt.Errorf("--map auto: %s: add ranges for your user to /etc/subuid and /etc/subgid and "+
				"run `sudo apt-get install uidmap`, or use --map single", missing)
		}
		return single, nil
	}
	uids, err := pickFill(req.ShiftUIDs, req.UID, req.HostUID, req.SubUIDs)
	if err != nil {
		return Plan{}, fmt.Errorf("uid map: %w", err)
	}
	gids, err := pickFill(req.ShiftGIDs, req.GID, req.HostGID, req.SubGIDs)
	if err != nil {
		return Plan{}, fmt.Errorf("gid map: %w", err)
	}
	if req.ShiftUIDs && !mapped(uids, req.UID) {
		return Plan{}, fmt.Errorf("--uid %d: the map of the --rootfs %s (its ids 0..%d from your subordinate ids, yours as %d) has no id %d: pick one of those",
			req.UID, req.Tree, MappedIDs-1, req.HostUID, req.UID)
	}
	if req.ShiftGIDs && !mapped(gids, req.GID) {
		return Plan{}, fmt.Errorf("--gid %d: the map of the --rootfs %s (its ids 0..%d from your subordinate ids, yours as %d) has no id %d: pick one of those",
			req.GID, req.Tree, MappedIDs-1, req.HostGID, req.GID)
	}
	return Plan{
		UIDMappings:  uids,
		GIDMappings:  gids,
		UIDMapHelper: req.NewUIDMap,
		GIDMapHelper: req.NewGIDMap,
	}, nil
}

// missing names what a multi-range map lacks, "" if nothing.
func (req Request) missing() string {
	var m []string
	if len(req.SubUIDs) == 0 {
		m = append(m, "no subordinate uids in "+SubUIDPath)
	}
	if len(req.SubGIDs) == 0 {
		m = append(m, "no subordinate gids in "+SubGIDPath)
	}
	if len(m) == 0 && (req.NewUIDMap == "" || req.NewGIDMap == "") {
		m = append(m, "newuidmap/newgidmap not installed setuid root (or with file capabilities)")
	}
	return strings.Join(m, ", ")
}

// pickFill makes one map: the tree's layout (fillShifted) or the usual
// one (fill).
func pickFill(shift bool, inside, host uint32, sub []Range) ([]plan.IDMap, error) {
	if shift {
		return fillShifted(host, sub)
	}
	return fill(inside, host, sub)
}

// mapped reports whether the map has the inside id.
func mapped(m []plan.IDMap, id uint32) bool {
	for _, e := range m {
		if id >= e.Inside && uint64(id) < uint64(e.Inside)+uint64(e.Count) {
			return true
		}
	}
	return false
}

// fillShifted maps 0..MappedIDs-1 to the subordinate ids in order, id N
// to the N-th (from 0, through the ranges as listed): the layout of a
// tree made in a user namespace whose root was the first subordinate id
// (MatchTree). The caller's own id keeps its number inside, so that sbx's
// own setup, the caller's files in binds and a command run without --uid
// stay the caller's; the tree's id of that number, and a subordinate id
// that is the caller's own (a misconfigured range), are left unmapped
// (they read as nobody) rather than moving the others.
func fillShifted(host uint32, sub []Range) ([]plan.IDMap, error) {
	m := []plan.IDMap{{Inside: host, Outside: host, Count: 1}}
	next := uint32(0)
	for _, r := range sub {
		start, count := r.Start, r.Count
		for count > 0 && next < MappedIDs {
			n := min(count, MappedIDs-next)
			if next <= host && uint64(host) < uint64(next)+uint64(n) {
				n = host - next
			}
			if start <= host && uint64(host) < uint64(start)+uint64(n) {
				n = host - start
			}
			if n == 0 {
				// next or start is the caller's id: skip both.
				n = 1
			} else {
				m = append(m, plan.IDMap{Inside: next, Outside: start, Count: n})
			}
			next += n
			start += n
			count -= n
		}
	}
	return sorted(m)
}

// sorted checks that the kernel takes map m (at most maxExtents lines) and
// sorts it by inside id.
func sorted(m []plan.IDMap) ([]plan.IDMap, error) {
	if len(m) > maxExtents {
		return nil, fmt.Errorf("%d map lines exceed the kernel's limit of %d: merge the ranges in /etc/subuid and /etc/subgid", len(m), maxExtents)
	}
	sort.Slice(m, func(i, j int) bool { return m[i].Inside < m[j].Inside })
	return m, nil
}

// fill maps inside to host and the other ids 0..MappedIDs-1 from the
// subordinate ranges, in order, as far as the ranges reach.
func fill(inside, host uint32, sub []Range) ([]plan.IDMap, error) {
	m := []plan.IDMap{{Inside: inside, Outside: host, Count: 1}}
	next := uint32(0)
	for _, r := range withoutID(sub, host) {
		start, count := r.Start, r.Count
		for count > 0 && next < MappedIDs {
			if next == inside {
				next++
				continue
			}
			end := uint32(MappedIDs)
			if inside > next && inside < end {
				end = inside
			}
			n := min(count, end-next)
			m = append(m, plan.IDMap{Inside: next, Outside: start, Count: n})
			next += n
			start += n
			count -= n
		}
	}
	return sorted(m)
}

// withoutID cuts id out of the ranges, so that a misconfigured range that
// covers the caller's own id cannot map it twice.
func withoutID(ranges []Range, id uint32) []Range {
	out := make([]Range, 0, len(ranges))
	for _, r := range ranges {
		end := uint64(r.Start) + uint64(r.Count)
		if uint64(id) < uint64(r.Start) || uint64(id) >= end {
			out = append(out, r)
			continue
		}
		if id > r.Start {
			out = append(out, Range{Start: r.Start, Count: id - r.Start})
		}
		if uint64(id)+1 < end {
			out = append(out, Range{Start: id + 1, Count: uint32(end - uint64(id) - 1)})
		}
	}
	return out
}

// Files consulted by Detect; variables so tests can point them elsewhere.
var (
	SubUIDPath = "/etc/subuid"
	SubGIDPath = "/etc/subgid"
	PasswdPath = "/etc/passwd"
)

// UserName returns the name of uid in /etc/passwd, or "" if it has none.
func UserName(uid uint32) string { return userName(PasswdPath, uid) }

// FindHelper returns the path of newuidmap or newgidmap: from PATH, or
// from the usual directories; "" when it is not installed.
func FindHelper(name string) string { return findHelper(name) }

// userName finds the name of uid in a passwd file. sbx is linked
// statically (it must run inside any rootfs), so it reads the file rather
// than asking NSS; users known only to NSS match /etc/subuid by uid.
func userName(passwd string, uid uint32) string {
	b, err := os.ReadFile(passwd)
	if err != nil {
		return ""
	}
	want := strconv.FormatUint(uint64(uid), 10)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[2] == want && f[0] != "" {
			return f[0]
		}
	}
	return ""
}

// PrimaryGID finds the group id of uid's entry in a file in the format of
// /etc/passwd (name:password:uid:gid:...); ok is false when it has none.
// The first entry of uid counts, as getpwuid(3) takes it.
func PrimaryGID(passwd io.Reader, uid uint32) (gid uint32, ok bool, err error) {
	want := strconv.FormatUint(uint64(uid), 10)
	sc := bufio.NewScanner(passwd)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || f[2] != want {
			continue
		}
		g, err := strconv.ParseUint(f[3], 10, 32)
		if err != nil {
			continue
		}
		return uint32(g), true, nil
	}
	return 0, false, sc.Err()
}

// Detect fills a request for the calling process from the system: its
// name, its subordinate ranges and the helpers on PATH (or in /usr/bin).
func Detect(mode Mode, uid, gid *uint32) (Request, error) {
	req := Request{
		Mode:    mode,
		HostUID: uint32(os.Getuid()),
		HostGID: uint32(os.Getgid()),
	}
	req.UID, req.GID = req.HostUID, req.HostGID
	if uid != nil {
		req.UID = *uid
	}
	if gid != nil {
		req.GID = *gid
	}
	if mode == Single {
		return req, nil
	}
	name := userName(PasswdPath, req.HostUID)
	var err error
	if req.SubUIDs, err = ReadSubIDs(SubUIDPath, name, req.HostUID); err != nil {
		return req, err
	}
	if req.SubGIDs, err = ReadSubIDs(SubGIDPath, name, req.HostUID); err != nil {
		return req, err
	}
	if len(req.SubUIDs) > 0 && len(req.SubGIDs) > 0 {
		req.NewUIDMap = findHelper("newuidmap")
		req.NewGIDMap = findHelper("newgidmap")
	}
	return req, nil
}

func findHelper(name string) string {
	candidates := []string{}
	if p, err := exec.LookPath(name); err == nil && strings.HasPrefix(p, "/") {
		candidates = append(candidates, p)
	}
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/bin", "/sbin"} {
		candidates = append(candidates, dir+"/"+name)
	}
	for _, p := range candidates {
		if _, err := Privileged(p); err == nil {
			return p
		}
	}
	return ""
}

// Privileged says how a map helper gets the privilege it needs: the setuid
// bit (owned by root, on a mount that honours it) or file capabilities. An
// error says why it has none, or that it is missing.
func Privileged(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return "", errors.New("not an executable file")
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err == nil && fs.Flags&unix.ST_NOSUID != 0 {
		return "", errors.New("on a nosuid mount")
	}
	if st.Mode&unix.S_ISUID != 0 && st.Uid == 0 {
		return "setuid root", nil
	}
	if n, err := unix.Getxattr(path, "security.capability", nil); err == nil && n > 0 {
		return "file capabilities", nil
	}
	return "", errors.New("neither setuid root nor file capabilities")
}

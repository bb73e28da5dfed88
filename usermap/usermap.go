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
	if missing := req.missing(); missing != "" {
		if req.Mode == Auto {
			return Plan{}, fmt.Errorf("--map auto: %s: add ranges for your user to /etc/subuid and /etc/subgid and "+
				"run `sudo apt-get install uidmap`, or use --map single", missing)
		}
		return single, nil
	}
	uids, err := fill(req.UID, req.HostUID, req.SubUIDs)
	if err != nil {
		return Plan{}, fmt.Errorf("uid map: %w", err)
	}
	gids, err := fill(req.GID, req.HostGID, req.SubGIDs)
	if err != nil {
		return Plan{}, fmt.Errorf("gid map: %w", err)
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
	if len(m) > maxExtents {
		return nil, fmt.Errorf("%d map lines exceed the kernel's limit of %d: merge the ranges in /etc/subuid and /etc/subgid", len(m), maxExtents)
	}
	sort.Slice(m, func(i, j int) bool { return m[i].Inside < m[j].Inside })
	return m, nil
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

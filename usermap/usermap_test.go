package usermap

import (
	"os"
	"strings"
	"testing"

	"github.com/sbx-sandbox/sbx/plan"
)

func TestParseSubIDs(t *testing.T) {
	const file = `# comment
alice:100000:65536
1001:300000:1000
bob:200000:65536
alice:500000:10
broken line
alice:x:10
alice:600000:0
`
	tests := []struct {
		name string
		user string
		id   uint32
		want []Range
	}{
		{"by name, several ranges", "alice", 1000, []Range{{100000, 65536}, {500000, 10}}},
		{"by uid", "carol", 1001, []Range{{300000, 1000}}},
		{"by name and uid", "alice", 1001, []Range{{100000, 65536}, {300000, 1000}, {500000, 10}}},
		{"no entry", "dave", 4242, nil},
		{"no name", "", 1001, []Range{{300000, 1000}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSubIDs(strings.NewReader(file), tt.user, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if !equalRanges(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func equalRanges(a, b []Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBuild(t *testing.T) {
	m := func(c, h, s uint32) plan.IDMap {
		return plan.IDMap{Inside: c, Outside: h, Count: s}
	}
	helpers := Request{NewUIDMap: "/usr/bin/newuidmap", NewGIDMap: "/usr/bin/newgidmap"}
	tests := []struct {
		name      string
		req       Request
		wantUID   []plan.IDMap
		wantMulti bool
		wantDeny  bool
	}{
		{
			name:     "single keeps the caller's id",
			req:      Request{Mode: Single, HostUID: 1000, HostGID: 1000, UID: 1000, GID: 1000},
			wantUID:  []plan.IDMap{m(1000, 1000, 1)},
			wantDeny: true,
		},
		{
			name:     "single as root inside",
			req:      Request{Mode: Single, HostUID: 1000, HostGID: 1000, UID: 0, GID: 0},
			wantUID:  []plan.IDMap{m(0, 1000, 1)},
			wantDeny: true,
		},
		{
			name: "default without ranges falls back to single",
			req: Request{Mode: Default, HostUID: 1000, HostGID: 1000, UID: 1000, GID: 1000,
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap},
			wantUID:  []plan.IDMap{m(1000, 1000, 1)},
			wantDeny: true,
		},
		{
			name: "default without helpers falls back to single",
			req: Request{Mode: Default, HostUID: 1000, HostGID: 1000, UID: 1000, GID: 1000,
				SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}}},
			wantUID:  []plan.IDMap{m(1000, 1000, 1)},
			wantDeny: true,
		},
		{
			name: "auto maps around the caller's id",
			req: Request{Mode: Auto, HostUID: 1000, HostGID: 1000, UID: 1000, GID: 1000,
				SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap},
			wantUID:   []plan.IDMap{m(0, 100000, 1000), m(1000, 1000, 1), m(1001, 101000, 64535)},
			wantMulti: true,
		},
		{
			name: "default maps as auto does",
			req: Request{Mode: Default, HostUID: 1000, HostGID: 1000, UID: 1000, GID: 1000,
				SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap},
			wantUID:   []plan.IDMap{m(0, 100000, 1000), m(1000, 1000, 1), m(1001, 101000, 64535)},
			wantMulti: true,
		},
		{
			name: "auto as root inside",
			req: Request{Mode: Auto, HostUID: 1000, HostGID: 1000, UID: 0, GID: 0,
				SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap},
			wantUID:   []plan.IDMap{m(0, 1000, 1), m(1, 100000, 65535)},
			wantMulti: true,
		},
		{
			name: "auto with several short ranges",
			req: Request{Mode: Auto, HostUID: 1000, HostGID: 1000, UID: 5, GID: 5,
				SubUIDs: []Range{{100000, 3}, {200000, 10}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap},
			wantUID:   []plan.IDMap{m(0, 100000, 3), m(3, 200000, 2), m(5, 1000, 1), m(6, 200002, 8)},
			wantMulti: true,
		},
		{
			name: "a range covering the caller's own id skips it",
			req: Request{Mode: Auto, HostUID: 100001, HostGID: 1000, UID: 0, GID: 0,
				SubUIDs: []Range{{100000, 4}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap},
			wantUID:   []plan.IDMap{m(0, 100001, 1), m(1, 100000, 1), m(2, 100002, 2)},
			wantMulti: true,
		},
		{
			name: "inside id above 65535",
			req: Request{Mode: Auto, HostUID: 1000, HostGID: 1000, UID: 70000, GID: 70000,
				SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap},
			wantUID:   []plan.IDMap{m(0, 100000, 65536), m(70000, 1000, 1)},
			wantMulti: true,
		},
		{
			name: "a tree of the first subordinate id: 0 is its start, the caller keeps its id",
			req: Request{Mode: Default, HostUID: 1000, HostGID: 1000, UID: 0, GID: 0,
				SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap, ShiftUIDs: true, ShiftGIDs: true},
			wantUID:   []plan.IDMap{m(0, 100000, 1000), m(1000, 1000, 1), m(1001, 101001, 64535)},
			wantMulti: true,
		},
		{
			name: "a shifted tree over several ranges keeps the offsets",
			req: Request{Mode: Auto, HostUID: 7, HostGID: 1000, UID: 0, GID: 0,
				SubUIDs: []Range{{100000, 5}, {200000, 65536}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap, ShiftUIDs: true},
			wantUID:   []plan.IDMap{m(0, 100000, 5), m(5, 200000, 2), m(7, 7, 1), m(8, 200003, 65528)},
			wantMulti: true,
		},
		{
			name: "a shifted tree, the caller's id in its range and above 65535",
			req: Request{Mode: Auto, HostUID: 100002, HostGID: 1000, UID: 0, GID: 0,
				SubUIDs: []Range{{100000, 70000}}, SubGIDs: []Range{{100000, 65536}},
				NewUIDMap: helpers.NewUIDMap, NewGIDMap: helpers.NewGIDMap, ShiftUIDs: true},
			wantUID:   []plan.IDMap{m(0, 100000, 2), m(3, 100003, 65533), m(100002, 100002, 1)},
			wantMulti: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.UIDMappings) != len(tt.wantUID) {
				t.Fatalf("uid map %v, want %v", p.UIDMappings, tt.wantUID)
			}
			for i := range tt.wantUID {
				if p.UIDMappings[i] != tt.wantUID[i] {
					t.Fatalf("uid map %v, want %v", p.UIDMappings, tt.wantUID)
				}
			}
			if p.Multi() != tt.wantMulti {
				t.Errorf("Multi() = %v, want %v", p.Multi(), tt.wantMulti)
			}
			if p.SetgroupsDeny != tt.wantDeny {
				t.Errorf("SetgroupsDeny = %v, want %v", p.SetgroupsDeny, tt.wantDeny)
			}
			if tt.wantMulti && (p.UIDMapHelper == "" || p.GIDMapHelper == "") {
				t.Errorf("multi-range plan without helpers: %+v", p)
			}
			if !tt.wantMulti && (p.UIDMapHelper != "" || p.GIDMapHelper != "") {
				t.Errorf("single plan with helpers: %+v", p)
			}
			checkNoOverlap(t, p.UIDMappings)
			checkNoOverlap(t, p.GIDMappings)
		})
	}
}

// checkNoOverlap asserts what the kernel asserts: no id is mapped twice,
// inside or outside.
func checkNoOverlap(t *testing.T, m []plan.IDMap) {
	t.Helper()
	for i := range m {
		for j := i + 1; j < len(m); j++ {
			a, b := m[i], m[j]
			if a.Inside < b.Inside+b.Count && b.Inside < a.Inside+a.Count {
				t.Errorf("inside ranges overlap: %v and %v", a, b)
			}
			if a.Outside < b.Outside+b.Count && b.Outside < a.Outside+a.Count {
				t.Errorf("host ranges overlap: %v and %v", a, b)
			}
		}
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name string
		req  Request
	}{
		{"bad mode", Request{Mode: "many"}},
		{"auto without ranges", Request{Mode: Auto, NewUIDMap: "/x", NewGIDMap: "/y"}},
		{"auto without subgids", Request{Mode: Auto, NewUIDMap: "/x", NewGIDMap: "/y", SubUIDs: []Range{{100000, 65536}}}},
		{"auto without helpers", Request{Mode: Auto, SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}}}},
		{"auto without newgidmap", Request{Mode: Auto, NewUIDMap: "/x", SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}}}},
		{"unmappable uid", Request{Mode: Single, UID: 1<<32 - 1}},
		{"shifted tree without helpers", Request{Mode: Default, SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}}, ShiftUIDs: true}},
		{"shifted tree, --uid unmapped", Request{Mode: Default, HostUID: 1000, UID: 70000, NewUIDMap: "/x", NewGIDMap: "/y",
			SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}}, ShiftUIDs: true}},
		{"too many extents", Request{Mode: Auto, UID: 0, GID: 0, NewUIDMap: "/x", NewGIDMap: "/y",
			SubUIDs: manyRanges(400), SubGIDs: manyRanges(400)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Build(tt.req); err == nil {
				t.Fatal("Build succeeded, want an error")
			}
		})
	}
}

func manyRanges(n int) []Range {
	r := make([]Range, n)
	for i := range r {
		r[i] = Range{Start: uint32(100000 + 10*i), Count: 1}
	}
	return r
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"auto", "single"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"both", ""} {
		if _, err := ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) succeeded", s)
		}
	}
}

// An explicit --map auto that cannot map names what is missing and the
// fix, in one line.
func TestBuildAutoNamesFix(t *testing.T) {
	_, err := Build(Request{Mode: Auto, HostUID: 1000, HostGID: 1000, UID: 1000, GID: 1000})
	if err == nil {
		t.Fatal("Build succeeded, want an error")
	}
	for _, want := range []string{"--map auto", "/etc/subuid", "apt-get install uidmap", "--map single"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is more than one line", err)
	}
}

// MatchTree asks for the shifted map only for a tree owned by the first
// subordinate id, uids and gids each on their own.
func TestMatchTree(t *testing.T) {
	req := Request{SubUIDs: []Range{{100000, 10}, {300000, 65536}}, SubGIDs: []Range{{200000, 65536}}}
	for _, tt := range []struct {
		uid, gid     uint32
		wantU, wantG bool
	}{
		{100000, 200000, true, true},
		{1000, 1000, false, false},
		{300000, 200000, false, true},
		{100000, 100000, true, false},
		{0, 0, false, false},
	} {
		r := req
		r.MatchTree("t", tt.uid, tt.gid)
		if r.ShiftUIDs != tt.wantU || r.ShiftGIDs != tt.wantG {
			t.Errorf("owner %d:%d: shift %v %v, want %v %v", tt.uid, tt.gid, r.ShiftUIDs, r.ShiftGIDs, tt.wantU, tt.wantG)
		}
	}
	var none Request
	none.MatchTree("t", 0, 0)
	if none.ShiftUIDs || none.ShiftGIDs {
		t.Error("no ranges: a tree owned by 0 matched")
	}
}

// A shifted tree that cannot be mapped says why and the fix, in one line.
func TestBuildShiftedNamesFix(t *testing.T) {
	_, err := Build(Request{HostUID: 1000, HostGID: 1000, SubUIDs: []Range{{100000, 65536}}, SubGIDs: []Range{{100000, 65536}},
		ShiftUIDs: true, ShiftGIDs: true, Tree: "/srv/tree"})
	if err == nil {
		t.Fatal("Build succeeded, want an error")
	}
	for _, want := range []string{"--rootfs /srv/tree", "mmdebstrap", "newuidmap", "apt-get install uidmap", "--map single"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is more than one line", err)
	}
}

func TestPrimaryGID(t *testing.T) {
	const passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001::/home/alice:/bin/sh\n" +
		"short:x:5\nbad:x:7:seven::/:/bin/sh\ntwice:x:8:80::/:/bin/sh\ntwice2:x:8:81::/:/bin/sh\n\n"
	for _, tc := range []struct {
		uid    uint32
		gid    uint32
		wantOK bool
	}{
		{0, 0, true}, {1000, 1001, true}, {8, 80, true}, {5, 0, false}, {7, 0, false}, {1234, 0, false},
	} {
		gid, ok, err := PrimaryGID(strings.NewReader(passwd), tc.uid)
		if err != nil || ok != tc.wantOK || gid != tc.gid {
			t.Errorf("PrimaryGID(%d) = %d, %v, %v; want %d, %v", tc.uid, gid, ok, err, tc.gid, tc.wantOK)
		}
	}
}

func TestUserName(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/passwd"
	content := "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n\nbroken\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[uint32]string{0: "root", 1000: "alice", 1001: ""} {
		if got := userName(path, uid); got != want {
			t.Errorf("userName(%d) = %q, want %q", uid, got, want)
		}
	}
	if got := userName(dir+"/missing", 0); got != "" {
		t.Errorf("missing file gave %q", got)
	}
}

package test

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

const idScript = `id -u; id -g; echo ---; cat /proc/self/uid_map; echo ---; cat /proc/self/gid_map; echo ---; cat /proc/self/setgroups`

// TestIDMaps checks the ids inside and the id maps behind them, in both map
// modes: the caller's own id is mapped to the id asked for (default: the
// caller's own); single maps only that, with setgroups denied; auto also
// maps the rest of 0..65535 from the caller's subordinate ranges.
func TestIDMaps(t *testing.T) {
	t.Parallel()
	uid, gid := uint64(os.Getuid()), uint64(os.Getgid())
	tests := []struct {
		name             string
		flags            []string
		auto             bool
		wantUID, wantGID uint64
	}{
		{"default is auto", nil, true, uid, gid},
		{"auto", []string{"--map", "auto"}, true, uid, gid},
		{"auto as root", []string{"--map", "auto", "--uid", "0", "--gid", "0"}, true, 0, 0},
		{"auto other ids", []string{"--map=auto", "--uid", "1234", "--gid", "4321"}, true, 1234, 4321},
		{"auto uid only", []string{"--uid", "0"}, true, 0, gid},
		{"auto id above 65535", []string{"--uid", "70000", "--gid", "70001"}, true, 70000, 70001},
		{"single", []string{"--map", "single"}, false, uid, gid},
		{"single as root", []string{"--map", "single", "--uid", "0", "--gid", "0"}, false, 0, 0},
		{"single other ids", []string{"--map=single", "--uid", "1234", "--gid", "4321"}, false, 1234, 4321},
		{"single gid only", []string{"--map", "single", "--gid", "0"}, false, uid, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var subuid, subgid []idRange
			if tc.auto {
				requireTool(t, "newuidmap", "`sudo apt-get install uidmap`")
				requireTool(t, "newgidmap", "`sudo apt-get install uidmap`")
				subuid = subordinateRanges(t, "/etc/subuid")
				subgid = subordinateRanges(t, "/etc/subgid")
			}
			args := append([]string{"run"}, tc.flags...)
			r := sbx(t, append(args, "--", "sh", "-c", idScript)...)
			r.ok(t)
			s := sections(t, r, 4)
			if got, want := lines(s[0]), []string{fmtID(tc.wantUID), fmtID(tc.wantGID)}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("id -u, id -g: got %q, want %q\n%s", got, want, r)
			}
			uidMap, gidMap := parseIDMap(t, s[1]), parseIDMap(t, s[2])
			setgroups := strings.TrimSpace(s[3])
			if tc.auto {
				checkAutoMap(t, "uid_map", uidMap, tc.wantUID, uid, subuid)
				checkAutoMap(t, "gid_map", gidMap, tc.wantGID, gid, subgid)
			} else {
				checkSingleMap(t, "uid_map", uidMap, tc.wantUID, uid)
				checkSingleMap(t, "gid_map", gidMap, tc.wantGID, gid)
				if setgroups != "deny" {
					t.Errorf("single map: /proc/self/setgroups is %q, want deny", setgroups)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", r)
			}
		})
	}
}

func fmtID(id uint64) string { return strconv.FormatUint(id, 10) }

// checkSingleMap checks that m is exactly the line `inside own 1`.
func checkSingleMap(t *testing.T, name string, m []idRange, inside, own uint64) {
	t.Helper()
	want := idRange{inside: inside, outside: own, count: 1}
	if len(m) != 1 || m[0] != want {
		t.Errorf("single map: %s is %v, want exactly one line %v", name, m, want)
	}
}

// checkAutoMap checks that m maps inside to own, covers 0..65535, and maps
// every other id to the caller's subordinate ids (sub).
func checkAutoMap(t *testing.T, name string, m []idRange, inside, own uint64, sub []idRange) {
	t.Helper()
	if len(m) < 2 {
		t.Errorf("auto map: %s is %v, want several lines covering 0..65535", name, m)
		return
	}
	var total, subTotal uint64
	for _, r := range m {
		total += r.count
	}
	for _, r := range sub {
		subTotal += r.count
	}
	if total > subTotal+1 {
		t.Errorf("auto map: %s maps %d ids, more than the caller's own plus its %d subordinate ids: %v", name, total, subTotal, m)
		return
	}
	inSub := func(id uint64) bool {
		for _, r := range sub {
			if id >= r.outside && id < r.outside+r.count {
				return true
			}
		}
		return false
	}
	covered := make([]bool, 65536)
	seen := map[uint64]bool{}
	mappedCaller := false
	for _, r := range m {
		for i := uint64(0); i < r.count; i++ {
			in, out := r.inside+i, r.outside+i
			if seen[in] {
				t.Errorf("auto map: %s maps id %d twice: %v", name, in, m)
				return
			}
			seen[in] = true
			if in < uint64(len(covered)) {
				covered[in] = true
			}
			switch {
			case in == inside:
				if out != own {
					t.Errorf("auto map: %s maps %d to %d, want the caller's own %d: %v", name, in, out, own, m)
				}
				mappedCaller = true
			case !inSub(out):
				t.Errorf("auto map: %s maps %d to %d, which is not one of the caller's subordinate ids %v: %v", name, in, out, sub, m)
				return
			}
		}
	}
	if !mappedCaller {
		t.Errorf("auto map: %s does not map %d (the caller's id inside): %v", name, inside, m)
	}
	for id, ok := range covered {
		if !ok {
			t.Errorf("auto map: %s does not map id %d; want all of 0..65535: %v", name, id, m)
			return
		}
	}
}

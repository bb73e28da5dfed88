package usermap

import "testing"

// BenchmarkBuildAuto plans a multi-range map with the caller's id cut out of
// two subordinate ranges: the work of every sbx run with --map auto.
func BenchmarkBuildAuto(b *testing.B) {
	req := Request{
		Mode: Auto, HostUID: 1000, HostGID: 1000, UID: 1000, GID: 1000,
		SubUIDs:   []Range{{Start: 100000, Count: 30000}, {Start: 200000, Count: 40000}},
		SubGIDs:   []Range{{Start: 100000, Count: 65536}},
		NewUIDMap: "/usr/bin/newuidmap", NewGIDMap: "/usr/bin/newgidmap",
	}
	for b.Loop() {
		if _, err := Build(req); err != nil {
			b.Fatal(err)
		}
	}
}

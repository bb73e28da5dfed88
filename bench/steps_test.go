package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Lines of several processes interleave, a label may come more than once
// (the earliest counts), and a torn or foreign line is skipped.
func TestReadStamps(t *testing.T) {
	file := filepath.Join(t.TempDir(), "stamps")
	data := "bench.spawn 1000\nparent.main 1500\nstage1.start 2500\nparent.main 1400\nmonitor.x 9000\nmonitor.x 8000\ngarbage\nhalf 12x\nbench.reaped 10000\n"
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readStamps(file)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"bench.spawn": 0, "parent.main": 400, "stage1.start": 1500, "monitor.x": 7000, "bench.reaped": 9000}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for l, ns := range want {
		if got[l] != ns {
			t.Errorf("%s: %d, want %d", l, got[l], ns)
		}
	}
}

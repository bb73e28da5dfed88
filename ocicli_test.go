package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestIsOCICall: the OCI grammar takes runc's shapes, sbx's own grammar
// everything else.
func TestIsOCICall(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	if err := os.MkdirAll(filepath.Join(dir, "sbx-oci", "ctr1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sbx", "box1"), 0o700); err != nil {
		t.Fatal(err)
	}
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args   []string
		inBund bool
		oci    bool
	}{
		{[]string{"--root", "/run/x", "create", "id"}, false, true},
		{[]string{"--log-format=json", "state", "id"}, false, true},
		{[]string{"create", "--bundle", "b", "id"}, false, true},
		{[]string{"start", "id"}, false, true},
		{[]string{"delete", "--force", "id"}, false, true},
		{[]string{"features"}, false, true},
		{[]string{"spec", "--rootless"}, false, true},
		{[]string{"list"}, false, true},
		{[]string{"run", "--bundle", "b", "id"}, false, true},
		{[]string{"run", "-d", "id"}, true, false},
		{[]string{"run", "true"}, true, false},
		{[]string{"run", "id"}, false, false},
		{[]string{"run", "true"}, false, false},
		{[]string{"run", "--", "sh", "-c", "x"}, true, false},
		{[]string{"run", "-t", "--rootfs", "r", "--", "sh"}, false, false},
		{[]string{"exec", "--process", "p.json", "id"}, false, true},
		{[]string{"exec", "box1", "--", "sh"}, false, false},
		{[]string{"ps"}, false, false},
		{[]string{"ps", "--json"}, false, false},
		{[]string{"ps", "--format", "json", "id"}, false, true},
		{[]string{"state", "ctr1"}, false, true},
		{[]string{"state", "box1"}, false, false},
		{[]string{"state", "neither"}, false, true},
		{[]string{"kill", "box1", "KILL"}, false, false},
		{[]string{"kill", "ctr1", "9"}, false, true},
		{[]string{"kill", "-s", "KILL", "box1"}, false, false},
		{[]string{"kill", "--signal", "9", "box1"}, false, false},
		{[]string{"rm", "-f", "box1"}, false, false},
		{[]string{"check"}, false, false},
		{nil, false, false},
	} {
		wd := dir
		if c.inBund {
			wd = bundle
		}
		t.Chdir(wd)
		if got := isOCICall(c.args); got != c.oci {
			t.Errorf("isOCICall(%q) in %s = %v, want %v", c.args, wd, got, c.oci)
		}
	}
}

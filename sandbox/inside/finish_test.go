package inside

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sbx-sandbox/sbx/plan"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	noexec := filepath.Join(dir, "data")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noexec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cmd, path, want string
		code                  int
	}{
		{"found", "tool", "/nonexistent:" + dir, exe, 0},
		{"slash is taken as is", exe, dir, exe, 0},
		{"slash, missing", "./x/y", dir, "", exitNotFound},
		{"missing", "nope", dir, "", exitNotFound},
		{"not executable", "data", dir, "", exitCannotExecute},
		{"directory is skipped", "subdir", dir, "", exitNotFound},
	}
	if os.Geteuid() == 0 {
		// root passes access(X_OK) for any file with an x bit only; the
		// "data" file has none, so the table still holds.
		t.Log("running as root")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.cmd, tt.path)
			if tt.code != 0 {
				var ce *codeError
				if !errors.As(err, &ce) || ce.code != tt.code {
					t.Fatalf("err = %v, want exit code %d", err, tt.code)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestTmpfsData(t *testing.T) {
	for _, c := range []struct {
		m    plan.Mount
		want []string
	}{
		{plan.Mount{Kind: plan.Tmpfs, Mode: "1777", Size: "64m"}, []string{"mode=1777", "size=64m"}},
		{plan.Mount{Kind: plan.Cover, Mode: "0700"}, []string{"mode=0700"}},
		{plan.Mount{Kind: plan.Tmpfs}, nil},
	} {
		if got := tmpfsData(c.m); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %q, want %q", c.m, got, c.want)
		}
	}
}

func TestMapsID(t *testing.T) {
	m := "         0          1       1000\n      1000     100000      65536\n"
	for _, c := range []struct {
		id   int
		want bool
	}{{0, true}, {999, true}, {1000, true}, {66535, true}, {66536, false}, {-1, false}} {
		if got := mapsID(m, c.id); got != c.want {
			t.Errorf("mapsID(%d) = %v, want %v", c.id, got, c.want)
		}
	}
}

package desktop

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestParseDisplay(t *testing.T) {
	tests := []struct {
		display, num, screen string
		ok                   bool
	}{
		{":0", "0", "", true},
		{":12.1", "12", ".1", true},
		{"unix:3", "3", "", true},
		{"unix:3.0", "3", ".0", true},
		{"localhost:0", "", "", false},
		{"host::0", "", "", false},
		{":x", "", "", false},
		{":1.", "", "", false},
		{"0", "", "", false},
		{":", "", "", false},
	}
	for _, tt := range tests {
		num, screen, err := parseDisplay(tt.display)
		if (err == nil) != tt.ok || num != tt.num || screen != tt.screen {
			t.Errorf("parseDisplay(%q) = %q, %q, %v; want %q, %q, ok %v", tt.display, num, screen, err, tt.num, tt.screen, tt.ok)
		}
	}
}

// TestDisplayCookies: of an Xauthority file, only the entries a local
// client of the display would use are kept (FamilyLocal of this host,
// FamilyWild), rewritten as FamilyWild; a missing file is no cookie; a
// truncated one is an error.
func TestDisplayCookies(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	const mit = "MIT-MAGIC-COOKIE-1"
	var in bytes.Buffer
	for _, e := range []xauthEntry{
		{familyLocal, host, "5", mit, "local5"},
		{familyLocal, "elsewhere", "5", mit, "elsewhere5"},
		{familyLocal, host, "6", mit, "local6"},
		{familyWild, "", "5", mit, "wild5"},
		{0, "\x7f\x00\x00\x01", "5", mit, "tcp5"}, // FamilyInternet
	} {
		e.writeTo(&in)
	}
	path := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(path, in.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XAUTHORITY": path}
	s := Session{Getenv: func(k string) string { return env[k] }}
	got, err := displayCookies(s, "5")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	xauthEntry{familyWild, "", "5", mit, "local5"}.writeTo(&want)
	xauthEntry{familyWild, "", "5", mit, "wild5"}.writeTo(&want)
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("got %q, want %q", got, want.Bytes())
	}
	if got, err := displayCookies(s, "7"); err != nil || len(got) != 0 {
		t.Errorf("display 7: got %q, %v; want nothing", got, err)
	}
	env["XAUTHORITY"] = filepath.Join(t.TempDir(), "none")
	if got, err := displayCookies(s, "5"); err != nil || len(got) != 0 {
		t.Errorf("no file: got %q, %v; want nothing", got, err)
	}
	if err := os.WriteFile(path, in.Bytes()[:in.Len()-3], 0o600); err != nil {
		t.Fatal(err)
	}
	env["XAUTHORITY"] = path
	if _, err := displayCookies(s, "5"); err == nil {
		t.Errorf("a truncated file: no error")
	}
}

package desktop

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResolveHome: the directory --share home picks, made only when not
// probing.
func TestResolveHome(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	base := Session{Getenv: func(k string) string { return env[k] }, UID: os.Getuid()}
	homes := filepath.Join(home, ".local/share/sbx/homes")
	tests := []struct {
		name    string
		share   Share
		sandbox string
		command string
		probe   bool
		dir     string
		made    bool
	}{
		{"command", Share{Name: "home"}, "", "/usr/bin/firefox", false, filepath.Join(homes, "firefox"), true},
		{"named", Share{Name: "home"}, "web", "/usr/bin/firefox", false, filepath.Join(homes, "web"), true},
		{"probe", Share{Name: "home"}, "", "", true, filepath.Join(homes, "NAME"), false},
		{"a directory", Share{"home", filepath.Join(home, "x", "y"), true}, "", "sh", false, filepath.Join(home, "x", "y"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			s.Sandbox, s.Command, s.Probe = tt.sandbox, tt.command, tt.probe
			g := &Grant{}
			if err := resolveHome(tt.share, s, g); err != nil {
				t.Fatal(err)
			}
			if want := (Op{"bind", tt.dir + ":" + home}); len(g.Ops) != 1 || g.Ops[0] != want {
				t.Errorf("got ops %+v, want %+v", g.Ops, want)
			}
			st, err := os.Stat(tt.dir)
			if tt.made && (err != nil || st.Mode().Perm() != 0o700) {
				t.Errorf("want %s made, mode 0700: %v", tt.dir, err)
			}
			if !tt.made && err == nil {
				t.Errorf("%s made while probing", tt.dir)
			}
		})
	}
	for _, sh := range []Share{{"home", "", true}, {"home", home, true}, {"home", filepath.Dir(home), true}} {
		if err := resolveHome(sh, base, &Grant{}); err == nil {
			t.Errorf("--share %s: no error", sh)
		}
	}
	if err := resolveHome(Share{Name: "home"}, base, &Grant{}); err == nil {
		t.Errorf("no command, no name: no error")
	}
}

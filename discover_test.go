package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Each shell's script is valid for that shell (checked where the shell
// is installed; bash always is) and names every command and every flag
// --help names.
func TestCompletionScripts(t *testing.T) {
	app, err := fullModel()
	if err != nil {
		t.Fatal(err)
	}
	cmds := describe(app)
	for _, tc := range []struct {
		shell string
		write func(*bytes.Buffer)
		check []string // the shell's syntax check
	}{
		{"bash", func(b *bytes.Buffer) { writeBash(b, cmds) }, []string{"bash", "-n"}},
		{"zsh", func(b *bytes.Buffer) { writeZsh(b, cmds) }, []string{"zsh", "-n"}},
		{"fish", func(b *bytes.Buffer) { writeFish(b, cmds) }, []string{"fish", "--no-execute"}},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			var b bytes.Buffer
			tc.write(&b)
			script := b.String()
			for _, n := range app.Children {
				if n.Hidden {
					if strings.Contains(script, n.Name) {
						t.Errorf("the hidden command %s is in the script", n.Name)
					}
					continue
				}
				if !strings.Contains(script, n.Name) {
					t.Errorf("command %s is not in the script", n.Name)
				}
				for _, f := range n.Flags {
					if !f.Hidden && !strings.Contains(script, f.Name) {
						t.Errorf("flag --%s of %s is not in the script", f.Name, n.Name)
					}
				}
			}
			if _, err := exec.LookPath(tc.check[0]); err != nil {
				t.Skipf("%s is not installed: its syntax check is skipped", tc.check[0])
			}
			path := filepath.Join(t.TempDir(), "sbx."+tc.shell)
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(tc.check[0], append(tc.check[1:], path)...).CombinedOutput(); err != nil {
				t.Errorf("%s refuses the script: %v\n%s", strings.Join(tc.check, " "), err, out)
			}
		})
	}
}

func TestCompletionSpecs(t *testing.T) {
	app, err := fullModel()
	if err != nil {
		t.Fatal(err)
	}
	cmds := describe(app)
	if cmds[0].Name != "" || !slices.Contains(cmds[0].words(), "--version") || !slices.Contains(cmds[0].words(), "-V") {
		t.Errorf("sbx's own flags: %+v", cmds[0])
	}
	byName := map[string]cmdSpec{}
	for _, c := range cmds[1:] {
		byName[c.Name] = c
	}
	for name, want := range map[string]cmdSpec{
		"run":        {Command: true},
		"exec":       {Names: true, Command: true},
		"kill":       {Names: true},
		"help":       {Commands: true},
		"completion": {Enum: []string{"bash", "zsh", "fish"}},
	} {
		c := byName[name]
		if c.Names != want.Names || c.Command != want.Command || c.Commands != want.Commands || !slices.Equal(c.Enum, want.Enum) {
			t.Errorf("%s: names %v command %v commands %v enum %v, want %+v", name, c.Names, c.Command, c.Commands, c.Enum, want)
		}
	}
	if _, ok := byName["__man"]; ok {
		t.Error("the hidden __man is completed")
	}
	var mapFlag flagSpec
	for _, f := range byName["run"].Flags {
		if f.Long == "map" {
			mapFlag = f
		}
	}
	if !mapFlag.Value || !slices.Equal(mapFlag.Enum, []string{"auto", "single"}) {
		t.Errorf("run --map: %+v, want a value of auto or single", mapFlag)
	}
}

func TestPlaceholderValues(t *testing.T) {
	for p, want := range map[string][]string{
		"auto|single":                      {"auto", "single"},
		"auto|systemd|cgroupfs|none":       {"auto", "systemd", "cgroupfs", "none"},
		"unconfined|FILE":                  nil,
		"N":                                nil,
		"[HOSTIP:]HOSTPORT:PORT[/tcp|udp]": nil,
		"a||b":                             nil,
	} {
		if got := placeholderValues(p); !slices.Equal(got, want) {
			t.Errorf("placeholderValues(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	for s, want := range map[string]string{
		"One. Two.":                         "One.",
		"Set (net.*, e.g. net.ipv4). More.": "Set (net.*, e.g. net.ipv4).",
		"Pass 3 .. 3+N-1 on. Also.":         "Pass 3 .. 3+N-1 on.",
		"No end":                            "No end",
	} {
		if got := firstSentence(s); got != want {
			t.Errorf("firstSentence(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	out, err := exec.Command("bash", "-c", "printf %s "+shellQuote(`it's "a" $x \n`)).Output()
	if err != nil || string(out) != `it's "a" $x \n` {
		t.Errorf("bash read back %q, %v", out, err)
	}
}

// The man page has every command that is not hidden and every flag, and
// no line roff would take for a request by accident.
func TestManPage(t *testing.T) {
	app, err := fullModel()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeMan(&b, app)
	page := b.String()
	if !strings.HasPrefix(page, ".TH SBX 1 ") {
		t.Errorf("no .TH line first:\n%.200s", page)
	}
	for _, n := range app.Children {
		if n.Hidden {
			continue
		}
		if !strings.Contains(page, `.SS "sbx `+roff(n.Name)) {
			t.Errorf("command %s has no section", n.Name)
		}
		for _, f := range n.Flags {
			if !f.Hidden && !strings.Contains(page, `\-\-`+roff(f.Name)) {
				t.Errorf("flag --%s of %s is not in the page", f.Name, n.Name)
			}
		}
	}
	known := []string{".TH", ".SH", ".SS", ".TP", ".B", ".I", ".BR", ".PP", ".br"}
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, ".") && !slices.Contains(known, strings.Fields(l)[0]) {
			t.Errorf("unexpected request: %q", l)
		}
	}
	if _, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = &b
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff warns: %v\n%s", err, out)
		}
	}
}

// The version line comes first and is not empty; the Go version is named.
func TestPrintVersion(t *testing.T) {
	var b bytes.Buffer
	printVersion(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if !strings.HasPrefix(lines[0], "sbx ") || strings.TrimSpace(lines[0][4:]) == "" {
		t.Errorf("first line %q, want sbx VERSION", lines[0])
	}
	if !strings.Contains(b.String(), "go:      go") || !strings.Contains(b.String(), "kernel:  Linux ") {
		t.Errorf("no Go version or kernel line:\n%s", b.String())
	}
}

package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The README's examples run as written. The convention, for whoever
// writes one:
//
//   - A fenced block whose info string is `sh` holds examples: each line
//     that is neither blank nor a comment is one example command (a line
//     ending in `\` goes on on the next one). A trailing `# comment` is
//     fine: the shell ignores it.
//   - A fenced block whose info string is `console` holds examples on the
//     lines that begin with `$ `; the other lines are their output, shown,
//     not checked.
//   - Any other block (```text for a synopsis, ```toml for another
//     program's configuration) is not run; a block with no info string
//     that has a line beginning with `sbx ` or `$ sbx ` fails the test:
//     say which it is.
//   - An example must exit 0, unless its comment says `exits N`.
//   - The examples of one block run in order, each with `sh -c` (a subtest
//     named after its line), in one scratch directory where `sbx` on PATH
//     is the binary under test, with XDG_RUNTIME_DIR a state home of the
//     block's own (every sandbox left is removed with `sbx rm -f --all`
//     after the block) and HOME a scratch home. Their stdin is the line
//     `exit` (an interactive `sh` ends on it); an example that gives sbx
//     `-t` or `--tty` runs on a new terminal instead, where `exit` is
//     typed once a shell prompt (`$ ` or `# `) shows.
//   - The fixtures they assume are made in the scratch directory (see
//     readmeFixtures): a Makefile with the targets all, clean and test,
//     ./rootfs (busybox-static and its applet links), ./untrusted-script
//     (which fails if it can read ~/.ssh), index.html (for busybox
//     httpd), and ~/.ssh and ~/.gnupg in the home.
//
// The examples of the section "Resource limits" need a cgroup backend:
// TestLimitsREADMEExamples runs them (where `make test` runs the other
// TestLimits tests); TestREADMEExamples runs all the others.

// readmeLimitsSection is the README section whose examples need a cgroup
// backend.
const readmeLimitsSection = "Resource limits"

// readmeExample is one example command of the README.
type readmeExample struct {
	line int    // where it begins in the README
	cmd  string // the command, continuation lines joined
	code int    // the exit code it must give
}

// readmeBlock is a fenced block of examples.
type readmeBlock struct {
	line     int    // of its opening fence
	section  string // the heading it is under
	examples []readmeExample
}

// readmePath returns the README to test: $SBX_README (scripts/lib.sh's
// run_integration sets it to a copy in the tests' scratch directory), or
// the README.md of the checkout the test binary was built from.
func readmePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SBX_README"); p != "" {
		return p
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot tell where the test's source is: set SBX_README to the README.md to test")
	}
	return filepath.Join(filepath.Dir(file), "..", "README.md")
}

var (
	readmeFence   = regexp.MustCompile("^(\\s*)(```+)\\s*([^\\s`]*)")
	readmeHeading = regexp.MustCompile(`^#+\s+(.*)$`)
	readmeExits   = regexp.MustCompile(`#.*\bexits (\d+)\b`)
)

// parseREADME returns the README's blocks of examples. It fails the test
// on a block with no info string that looks like sbx commands.
func parseREADME(t *testing.T, text string) []readmeBlock {
	t.Helper()
	var blocks []readmeBlock
	section := ""
	ls := strings.Split(text, "\n")
	for i := 0; i < len(ls); i++ {
		m := readmeFence.FindStringSubmatch(ls[i])
		if m == nil {
			if h := readmeHeading.FindStringSubmatch(ls[i]); h != nil {
				section = h[1]
			}
			continue
		}
		indent, fence, lang := m[1], m[2], m[3]
		start := i
		var body []string
		for i++; i < len(ls) && strings.TrimSpace(ls[i]) != fence; i++ {
			body = append(body, strings.TrimPrefix(ls[i], indent))
		}
		b := readmeBlock{line: start + 1, section: section}
		switch lang {
		case "sh", "console":
			b.examples = readmeCommands(body, start+2, lang == "console")
			if len(b.examples) == 0 {
				t.Errorf("README.md:%d: a ```%s block without a command", start+1, lang)
			}
			blocks = append(blocks, b)
		case "":
			for j, l := range body {
				if strings.HasPrefix(l, "sbx ") || strings.HasPrefix(l, "$ sbx ") {
					t.Errorf("README.md:%d: a fenced block without an info string has the sbx command %q: "+
						"open it with ```sh (examples, run by this test) or ```console (`$ ` before each command), "+
						"or ```text if it is not a command (a synopsis)", start+2+j, l)
					break
				}
			}
		}
	}
	return blocks
}

// readmeCommands returns the example commands of a block's body, whose
// first line is line first of the README.
func readmeCommands(body []string, first int, console bool) []readmeExample {
	var out []readmeExample
	for j := 0; j < len(body); j++ {
		l := body[j]
		if console {
			if !strings.HasPrefix(l, "$ ") {
				continue
			}
			l = strings.TrimPrefix(l, "$ ")
		}
		if s := strings.TrimSpace(l); s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		ex := readmeExample{line: first + j}
		cmd := l
		for strings.HasSuffix(cmd, "\\") && j+1 < len(body) {
			j++
			cmd += "\n" + body[j]
		}
		ex.cmd = cmd
		if m := readmeExits.FindStringSubmatch(cmd); m != nil {
			ex.code, _ = strconv.Atoi(m[1])
		}
		out = append(out, ex)
	}
	return out
}

// readREADME reads and parses the README.
func readREADME(t *testing.T) []readmeBlock {
	t.Helper()
	p := readmePath(t)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read the README: %v: set SBX_README to the README.md to test (scripts/test.sh does)", err)
	}
	blocks := parseREADME(t, string(data))
	if len(blocks) == 0 {
		t.Fatalf("%s has no ```sh or ```console block of examples", p)
	}
	return blocks
}

// TestREADMEExamples runs every example of the README but those of its
// section "Resource limits" (see above for the convention).
func TestREADMEExamples(t *testing.T) {
	for _, b := range readREADME(t) {
		if b.section != readmeLimitsSection {
			runREADMEBlock(t, b)
		}
	}
}

// TestLimitsREADMEExamples runs the examples of the README's section
// "Resource limits", which need a cgroup backend.
func TestLimitsREADMEExamples(t *testing.T) {
	requireCgroupBackend(t)
	n := 0
	for _, b := range readREADME(t) {
		if b.section == readmeLimitsSection {
			runREADMEBlock(t, b)
			n++
		}
	}
	if n == 0 {
		t.Fatalf("the README has no block of examples in its section %q", readmeLimitsSection)
	}
}

// readmeFixtures makes in dir, and in the scratch home, what the examples
// assume.
func readmeFixtures(t *testing.T, dir, home string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "Makefile"),
		"all:\n\techo built >built\nclean:\n\trm -f built\ntest: all\n\ttest -f built\n", 0o644)
	writeFile(t, filepath.Join(dir, "untrusted-script"),
		"#!/bin/sh\n# It must find nothing to read in ~/.ssh.\n! cat \"$HOME\"/.ssh/id_ed25519\n", 0o755)
	writeFile(t, filepath.Join(dir, "index.html"), "served from the sandbox\n", 0o644)
	for _, d := range []string{".ssh", ".gnupg"} {
		if err := os.Mkdir(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(home, ".ssh", "id_ed25519"), "a secret\n", 0o600)

	bb := requireTool(t, "busybox", "`sudo apt-get install busybox-static`")
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bb, filepath.Join(root, "bin", "busybox"), 0o755)
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range lines(string(list)) {
		if a != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runREADMEBlock runs the examples of b in order, in a scratch directory
// and state home of their own, and removes every sandbox left after them.
func runREADMEBlock(t *testing.T, b readmeBlock) {
	t.Helper()
	h := newStateHome(t)
	home := testDir(t)
	bin := testDir(t)
	if err := os.Symlink(sbxBinary(t), filepath.Join(bin, "sbx")); err != nil {
		t.Fatal(err)
	}
	readmeFixtures(t, h.dir, home)
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+home, "XDG_RUNTIME_DIR="+h.runtime)
	h.env = env
	t.Cleanup(func() {
		if r := h.sbx(t, "rm", "-f", "--all"); r.code != 0 {
			t.Errorf("removing the sandboxes the examples of README.md:%d left:\n%s", b.line, r)
		}
	})
	for _, ex := range b.examples {
		name := fmt.Sprintf("L%d %s", ex.line, strings.Fields(ex.cmd)[0])
		if f := strings.Fields(ex.cmd); len(f) > 1 {
			name += " " + f[1]
		}
		t.Run(name, func(t *testing.T) {
			var code int
			var out string
			if readmeWantsTTY(ex.cmd) {
				code, out = runREADMEOnPty(t, h, ex.cmd)
			} else {
				code, out = runREADMEExample(t, h, ex.cmd)
			}
			t.Logf("$ %s\n%s", ex.cmd, indent(out))
			if code != ex.code {
				t.Errorf("README.md:%d: want exit %d, got %d:\n$ %s\n%s", ex.line, ex.code, code, ex.cmd, indent(out))
			}
		})
	}
}

// readmeWantsTTY reports whether an example gives sbx -t or --tty (before
// the command's `--`).
func readmeWantsTTY(cmd string) bool {
	before, _, _ := strings.Cut(cmd, " -- ")
	for _, f := range strings.Fields(before) {
		if f == "-t" || f == "--tty" {
			return true
		}
	}
	return false
}

// runREADMEExample runs cmd with `sh -c` in the home, with the line `exit`
// on stdin, and returns its exit code and output.
func runREADMEExample(t *testing.T, h *stateHome, cmd string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*defaultTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Dir, c.Env = h.dir, h.env
	c.Stdin = strings.NewReader("exit\n")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.WaitDelay = waitDelay
	err := c.Run()
	if ctx.Err() != nil {
		t.Fatalf("did not end within %v and was killed:\n$ %s\n%s", 2*defaultTimeout, cmd, indent(out.String()))
	}
	if c.ProcessState == nil {
		t.Fatalf("start sh: %v", err)
	}
	ws := c.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		t.Fatalf("killed by %v:\n$ %s\n%s", ws.Signal(), cmd, indent(out.String()))
	}
	return ws.ExitStatus(), out.String()
}

// runREADMEOnPty runs cmd with `sh -c` in the home on a new terminal, as
// its controlling terminal and stdio, types `exit` once a shell prompt
// shows, and returns its exit code and what the terminal showed.
func runREADMEOnPty(t *testing.T, h *stateHome, cmd string) (int, string) {
	t.Helper()
	p := openPty(t)
	p.setSize(t, 24, 80)
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Dir, c.Env = h.dir, h.env
	tp := startCmdOnPty(t, p, c)
	tp.expect(t, `[$#] `)
	tp.send(t, "exit\r")
	code := tp.wait(t)
	return code, tp.output()
}

package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sbx-sandbox/sbx/desktop"
)

// Tests of `sbx check`, the host doctor: its report on this host, read in
// both forms (text and --json), and its report on hosts that lack a piece.
// A missing piece is simulated by running `sbx check` inside a sandbox
// whose view hides it (/etc/subuid, newuidmap, user namespaces). Inside a
// sandbox sbx cannot start sandboxes of its own, so there the "user
// namespaces" fact always fails, and each case also checks that check says
// why.

// checkFact is one fact of `sbx check`, as --json prints it.
type checkFact struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func (f checkFact) String() string {
	s := fmt.Sprintf("%s  %s: %s", f.Status, f.Name, f.Detail)
	if f.Fix != "" {
		s += " (fix: " + f.Fix + ")"
	}
	return s
}

// checkNames are the facts of `sbx check`, in the order it prints them.
var checkNames = append([]string{
	"kernel",
	"kernel facilities",
	"user namespaces",
	"nested user namespaces",
	"subordinate ids",
	"newuidmap/newgidmap",
	"overlayfs in a user namespace",
	"seccomp",
	"landlock",
	"cgroup",
	"user-mode networking",
	"XDG_RUNTIME_DIR",
}, shareFacts()...)

// shareFacts are the facts of sbx check on the shares, one per --share
// name.
func shareFacts() []string {
	var names []string
	for _, n := range desktop.Names() {
		names = append(names, "share "+n)
	}
	return names
}

// checkHostOK are the facts that are ok on any host the integration tests
// run on: a kernel of 5.12 or newer with unprivileged user namespaces,
// overlayfs in them, seccomp and Landlock; a test user with subordinate
// ranges and uidmap installed (`make test` sees to both).
var checkHostOK = []string{"kernel", "user namespaces", "subordinate ids", "newuidmap/newgidmap",
	"overlayfs in a user namespace", "seccomp", "landlock"}

// checkStatuses are the statuses a fact may have.
var checkStatuses = []string{"ok", "warn", "fail"}

// parseCheckText parses the text report of `sbx check`: one line per fact,
// in checkNames' order, each `STATUS  NAME: DETAIL` with the status padded
// to four characters, and ` (fix: FIX)` after it exactly when the status
// is not ok. Nothing may go to stderr.
func parseCheckText(t *testing.T, r result) []checkFact {
	t.Helper()
	if r.stderr != "" {
		t.Errorf("sbx check wrote to stderr:\n%s", r)
	}
	ls := lines(r.stdout)
	if len(ls) != len(checkNames) {
		t.Fatalf("want %d lines, one per fact (%s), got %d:\n%s",
			len(checkNames), strings.Join(checkNames, ", "), len(ls), r)
	}
	facts := make([]checkFact, len(ls))
	for i, l := range ls {
		f := checkFact{Name: checkNames[i]}
		var rest string
		for _, s := range checkStatuses {
			if after, ok := strings.CutPrefix(l, fmt.Sprintf("%-4s  %s: ", s, f.Name)); ok {
				f.Status, rest = s, after
			}
		}
		if f.Status == "" {
			t.Fatalf("line %d is not `STATUS  %s: DETAIL [(fix: FIX)]` (STATUS one of %s, padded to 4):\n\t%q\n%s",
				i+1, f.Name, strings.Join(checkStatuses, ", "), l, r)
		}
		detail, fix, hasFix := strings.Cut(rest, " (fix: ")
		if hasFix {
			if !strings.HasSuffix(fix, ")") {
				t.Fatalf("line %d: the fix does not end with `)`:\n\t%q\n%s", i+1, l, r)
			}
			fix = strings.TrimSuffix(fix, ")")
			if strings.TrimSpace(fix) == "" {
				t.Errorf("line %d: an empty fix:\n\t%q", i+1, l)
			}
		}
		if strings.TrimSpace(detail) == "" {
			t.Errorf("line %d: no detail:\n\t%q", i+1, l)
		}
		if f.Status == "ok" && hasFix {
			t.Errorf("line %d is ok but has a fix:\n\t%q", i+1, l)
		}
		f.Detail, f.Fix = detail, fix
		facts[i] = f
	}
	return facts
}

// parseCheckJSON parses the output of `sbx check --json`: one JSON array of
// {name, status, detail, fix}, the facts in checkNames' order.
func parseCheckJSON(t *testing.T, r result) []checkFact {
	t.Helper()
	if r.stderr != "" {
		t.Errorf("sbx check --json wrote to stderr:\n%s", r)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	var facts []checkFact
	if err := dec.Decode(&facts); err != nil {
		t.Fatalf("--json output is not an array of {name,status,detail,fix}: %v\n%s", err, r)
	}
	if dec.More() {
		t.Fatalf("--json printed more than one JSON value:\n%s", r)
	}
	if len(facts) != len(checkNames) {
		t.Fatalf("want %d facts, got %d:\n%s", len(checkNames), len(facts), r)
	}
	for i, f := range facts {
		if f.Name != checkNames[i] {
			t.Errorf("fact %d is %q, want %q", i, f.Name, checkNames[i])
		}
		switch {
		case f.Status != "ok" && f.Status != "warn" && f.Status != "fail":
			t.Errorf("fact %q has status %q, want one of %s", f.Name, f.Status, strings.Join(checkStatuses, ", "))
		case f.Detail == "":
			t.Errorf("fact %q has no detail", f.Name)
		case f.Status == "ok" && f.Fix != "":
			t.Errorf("fact %q is ok but has a fix: %q", f.Name, f.Fix)
		}
	}
	return facts
}

// sameReport fails the test unless the text and JSON reports agree on every
// fact's status and fix.
func sameReport(t *testing.T, text, js []checkFact) {
	t.Helper()
	for i := range text {
		if i >= len(js) {
			break
		}
		if text[i].Name != js[i].Name || text[i].Status != js[i].Status || text[i].Fix != js[i].Fix {
			t.Errorf("text and --json disagree:\n\ttext: %s\n\tjson: %s", text[i], js[i])
		}
	}
}

// factNamed returns the fact called name.
func factNamed(t *testing.T, facts []checkFact, name string) checkFact {
	t.Helper()
	for _, f := range facts {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no fact %q", name)
	return checkFact{}
}

// checkExitCode is what `sbx check` must exit with for facts.
func checkExitCode(facts []checkFact) int {
	for _, f := range facts {
		if f.Status == "fail" {
			return 1
		}
	}
	return 0
}

// currentUserName is the test user's name, as /etc/subuid knows it.
func currentUserName(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("who am I: %v", err)
	}
	return u.Username
}

// envWith is the test's environment without the variables in drop, plus
// set (KEY=VAL).
func envWith(drop []string, set ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			if k == d {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}

// factWant is what one fact must say.
type factWant struct {
	name   string
	status string
	detail []string // each must be in the detail
	fix    []string // each must be in the fix
}

func (w factWant) check(t *testing.T, facts []checkFact, r result) {
	t.Helper()
	f := factNamed(t, facts, w.name)
	if f.Status != w.status {
		t.Errorf("want %s %q, got:\n\t%s\n%s", w.status, w.name, f, r)
		return
	}
	for _, s := range w.detail {
		if !strings.Contains(f.Detail, s) {
			t.Errorf("the detail of %q does not say %q:\n\t%s", w.name, s, f)
		}
	}
	for _, s := range w.fix {
		if !strings.Contains(f.Fix, s) {
			t.Errorf("the fix of %q does not say %q:\n\t%s", w.name, s, f)
		}
	}
}

// TestCheckHost runs sbx check on this host, which has everything sbx
// needs: a kernel of 5.12 or newer, unprivileged user namespaces, overlayfs
// in them, seccomp and Landlock; the test user has subordinate ranges and
// uidmap is installed (`make test` sees to both). The optional facts may
// warn, each with a fix. The text and --json forms must agree, and the
// exit code follows them.
func TestCheckHost(t *testing.T) {
	t.Parallel()
	mayWarn := []string{"nested user namespaces", "cgroup", "user-mode networking", "XDG_RUNTIME_DIR"}
	subordinateRanges(t, "/etc/subuid")
	subordinateRanges(t, "/etc/subgid")
	requireTool(t, "newuidmap", "install uidmap")
	requireTool(t, "newgidmap", "install uidmap")

	text := sbx(t, "check")
	textFacts := parseCheckText(t, text)
	text.expect(t, 0)
	js := sbx(t, "check", "--json")
	jsonFacts := parseCheckJSON(t, js)
	js.expect(t, 0)
	sameReport(t, textFacts, jsonFacts)

	for _, form := range []struct {
		name  string
		facts []checkFact
		r     result
	}{{"text", textFacts, text}, {"--json", jsonFacts, js}} {
		t.Run(form.name, func(t *testing.T) {
			for _, name := range checkHostOK {
				if f := factNamed(t, form.facts, name); f.Status != "ok" {
					t.Errorf("this host has %s, want ok, got:\n\t%s\n%s", name, f, form.r)
				}
			}
			for _, name := range mayWarn {
				f := factNamed(t, form.facts, name)
				if f.Status != "ok" && f.Status != "warn" {
					t.Errorf("%s is optional: want ok or warn, got:\n\t%s\n%s", name, f, form.r)
				}
			}
			for _, f := range form.facts {
				if f.Status != "ok" && f.Fix == "" {
					t.Errorf("%s but names no fix:\n\t%s", f.Status, f)
				}
			}
		})
	}
}

// sandboxedCheck runs `sbx check` (text, then --json) inside `sbx run FLAGS`
// in dir, checks that both forms agree and exit 1 exactly when a fact
// fails, and returns the text form.
func sandboxedCheck(t *testing.T, dir string, flags []string) ([]checkFact, result) {
	t.Helper()
	run := func(args ...string) result {
		a := append(append([]string{"run"}, flags...), "--", sbxBinary(t), "check")
		return sbxIn(t, dir, append(a, args...)...)
	}
	text := run()
	textFacts := parseCheckText(t, text)
	text.expect(t, checkExitCode(textFacts))
	js := run("--json")
	jsonFacts := parseCheckJSON(t, js)
	js.expect(t, checkExitCode(jsonFacts))
	sameReport(t, textFacts, jsonFacts)
	return textFacts, text
}

// What the "user namespaces" fact says inside a sandbox, where sbx cannot
// start sandboxes of its own.
var (
	// The default seccomp profile refuses mount(2).
	usernsUnderSeccomp = factWant{name: "user namespaces", status: "fail",
		detail: []string{"sbx run fails: "}, fix: []string{"seccomp filter", "--seccomp unconfined"}}
	// Without it, the kernel refuses a fresh /proc where /proc has masked
	// paths.
	usernsInSandbox = factWant{name: "user namespaces", status: "fail",
		detail: []string{"sbx run fails: ", "fsmount proc"}, fix: []string{"inside a sandbox", "run sbx outside it"}}
	// Without --allow-userns, unshare(CLONE_NEWUSER) is refused, and
	// user.max_user_namespaces is 0.
	usernsDisabled = factWant{name: "user namespaces", status: "fail",
		detail: []string{"sbx run fails: ", "user namespace"}, fix: []string{"user.max_user_namespaces"}}
)

// allowUserns lets a sandbox make the user namespace that a nested sbx run
// needs to get as far as the failure a test is about.
var allowUserns = []string{"--allow-userns"}

// TestCheckMissingPieces runs sbx check inside sandboxes that hide a piece
// of the host, and checks the fact about that piece and the explanation of
// the failing "user namespaces" fact (with which check exits 1).
func TestCheckMissingPieces(t *testing.T) {
	t.Parallel()
	name := currentUserName(t)
	uid := strconv.Itoa(os.Getuid())
	// subIDs hides the test user's /etc/subuid and /etc/subgid behind a
	// file holding content.
	subIDs := func(content string) func(t *testing.T, dir string) []string {
		return func(t *testing.T, dir string) []string {
			f := filepath.Join(dir, "subids")
			writeFile(t, f, content, 0o644)
			return []string{"--ro-bind", f + ":/etc/subuid", "--ro-bind", f + ":/etc/subgid"}
		}
	}
	// noHelpers hides newuidmap and newgidmap, and points PATH at an
	// empty directory.
	noHelpers := func(t *testing.T, dir string) []string {
		empty := filepath.Join(dir, "empty-bin")
		if err := os.Mkdir(empty, 0o755); err != nil {
			t.Fatal(err)
		}
		return []string{"--hide", "/usr/bin/newuidmap", "--hide", "/usr/bin/newgidmap", "-e", "PATH=" + empty}
	}
	// Inside a sandbox (a user namespace of its own, as in a container),
	// the host's fixes (usermod --add-subuids, apt-get install uidmap)
	// would change nothing: check says where it runs instead (the
	// host's wording is hostcheck's unit tests').
	subIDsFix := []string{"nothing to install here", "--map single", "run sbx on the host"}
	uidmapFix := subIDsFix
	tests := []struct {
		name   string
		flags  []string
		setup  func(t *testing.T, dir string) []string // more flags
		want   factWant
		userns factWant
	}{
		{name: "no subordinate ids", flags: allowUserns, setup: subIDs(""),
			want: factWant{name: "subordinate ids", status: "warn",
				detail: []string{"/etc/subuid has 0 ids for " + name, "/etc/subgid has 0 ids for " + name, "--map single"},
				fix:    subIDsFix},
			userns: usernsUnderSeccomp},
		{name: "no subordinate ids, unconfined", flags: []string{"--allow-userns", "--seccomp", "unconfined"}, setup: subIDs(""),
			want: factWant{name: "subordinate ids", status: "warn",
				detail: []string{"/etc/subuid has 0 ids for " + name, "/etc/subgid has 0 ids for " + name},
				fix:    subIDsFix},
			userns: usernsInSandbox},
		{name: "subordinate ids of another user", flags: allowUserns, setup: subIDs("someone-else:100000:65536\n"),
			want: factWant{name: "subordinate ids", status: "warn",
				detail: []string{"/etc/subuid has 0 ids for " + name}, fix: subIDsFix},
			userns: usernsUnderSeccomp},
		{name: "too few subordinate ids", flags: allowUserns, setup: subIDs(name + ":100000:1000\n"),
			want: factWant{name: "subordinate ids", status: "warn",
				detail: []string{"/etc/subuid has 1000 ids for " + name, "/etc/subgid has 1000 ids for " + name},
				fix:    subIDsFix},
			userns: usernsUnderSeccomp},
		{name: "subordinate ids by uid", flags: allowUserns, setup: subIDs(uid + ":100000:65536\n"),
			want: factWant{name: "subordinate ids", status: "ok",
				detail: []string{"/etc/subuid: 65536 ids", "/etc/subgid: 65536 ids"}},
			userns: usernsUnderSeccomp},
		{name: "no newuidmap", flags: allowUserns, setup: noHelpers,
			want: factWant{name: "newuidmap/newgidmap", status: "warn",
				detail: []string{"newuidmap", "newgidmap"}, fix: uidmapFix},
			userns: usernsUnderSeccomp},
		{name: "no newuidmap, unconfined", flags: []string{"--allow-userns", "--seccomp", "unconfined"}, setup: noHelpers,
			want: factWant{name: "newuidmap/newgidmap", status: "warn",
				detail: []string{"newuidmap", "newgidmap"}, fix: uidmapFix},
			userns: usernsInSandbox},
		// Nothing at all in /usr/bin and /usr/sbin (and /bin, /sbin,
		// which point there on Debian).
		{name: "uidmap not installed", flags: []string{"--allow-userns", "--seccomp", "unconfined", "--hide", "/usr/bin", "--hide", "/usr/sbin"},
			want: factWant{name: "newuidmap/newgidmap", status: "warn",
				detail: []string{"newuidmap is not installed", "newgidmap is not installed"}, fix: uidmapFix},
			userns: usernsInSandbox},
		// Nested user namespaces are off by default.
		{name: "user namespaces disabled",
			want:   usernsDisabled,
			userns: usernsDisabled},
		{name: "user namespaces disabled, unconfined", flags: []string{"--seccomp", "unconfined"},
			want:   usernsDisabled,
			userns: usernsDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := testDir(t)
			flags := tc.flags
			if tc.setup != nil {
				flags = append(append([]string{}, flags...), tc.setup(t, dir)...)
			}
			facts, r := sandboxedCheck(t, dir, flags)
			r.expect(t, 1)
			tc.userns.check(t, facts, r)
			tc.want.check(t, facts, r)
			if f := factNamed(t, facts, "kernel"); f.Status != "ok" {
				t.Errorf("the kernel is the host's, want ok, got:\n\t%s", f)
			}
		})
	}
}

// TestCheckEveryProblemHasAFix: a fact that is not ok names the exact thing
// to do (hostcheck.Fact: "Fix is the exact thing to do, when Status is not
// OK"), also when it is not ok only because another fact failed. Here: a
// host without user namespaces, as inside `sbx run` (--disable-userns, a
// no-op kept for bwrap's flag, says so explicitly).
func TestCheckEveryProblemHasAFix(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	facts, r := sandboxedCheck(t, dir, []string{"--disable-userns"})
	r.expect(t, 1)
	for _, f := range facts {
		if f.Status != "ok" && f.Fix == "" {
			t.Errorf("%s but names no fix:\n\t%s\n%s", f.Status, f, r)
		}
	}
}

// TestCheckRuntimeDir runs sbx check on the host with XDG_RUNTIME_DIR unset
// or pointing at directories good and bad. Only that fact may change: the
// other facts are this host's (see TestCheckHost), and check exits 1
// exactly when XDG_RUNTIME_DIR fails. Each form (text, --json) runs on a
// fresh setup.
func TestCheckRuntimeDir(t *testing.T) {
	t.Parallel()
	uid := os.Getuid()
	setFix := []string{"XDG_RUNTIME_DIR"}
	badFix := []string{"unset XDG_RUNTIME_DIR", "mode 0700"}
	// A directory that is not private still works: sbx keeps its records
	// in a private sbx/ inside.
	chmodFix := []string{"chmod 0700"}
	tests := []struct {
		name string
		// setup returns XDG_RUNTIME_DIR ("" leaves it unset) and what the
		// fact must say.
		setup func(t *testing.T, dir string) (string, factWant)
	}{
		{"unset", func(t *testing.T, dir string) (string, factWant) {
			// The records go to $TMPDIR/sbx-UID then.
			return "", factWant{status: "warn",
				detail: []string{"unset", filepath.Join(dir, fmt.Sprintf("sbx-%d", uid))}, fix: setFix}
		}},
		{"private directory", func(t *testing.T, dir string) (string, factWant) {
			d := filepath.Join(dir, "run")
			mkdirMode(t, d, 0o700)
			return d, factWant{status: "ok", detail: []string{d}}
		}},
		{"mode 0755", func(t *testing.T, dir string) (string, factWant) {
			d := filepath.Join(dir, "run")
			mkdirMode(t, d, 0o755)
			return d, factWant{status: "warn", detail: []string{d, "not a private directory", "mode 755"}, fix: chmodFix}
		}},
		{"mode 0770", func(t *testing.T, dir string) (string, factWant) {
			d := filepath.Join(dir, "run")
			mkdirMode(t, d, 0o770)
			return d, factWant{status: "warn", detail: []string{d, "not a private directory", "mode 770"}, fix: chmodFix}
		}},
		{"another owner's private directory", func(t *testing.T, dir string) (string, factWant) {
			d := foreignPrivateDir(t, dir)
			return d, factWant{status: "fail", detail: []string{d, "not writable for you"}, fix: badFix}
		}},
		{"root's /", func(t *testing.T, dir string) (string, factWant) {
			return "/", factWant{status: "fail", detail: []string{"/ is not writable for you", "owner 0"}, fix: badFix}
		}},
		{"a file", func(t *testing.T, dir string) (string, factWant) {
			f := filepath.Join(dir, "file")
			writeFile(t, f, "", 0o600)
			return f, factWant{status: "fail", detail: []string{f, "not a directory"}, fix: badFix}
		}},
		// sbx makes a missing one (mode 0700) where it can.
		{"missing", func(t *testing.T, dir string) (string, factWant) {
			d := filepath.Join(dir, "missing")
			return d, factWant{status: "warn", detail: []string{d, "does not exist"}, fix: []string{"mkdir -m 0700 " + d}}
		}},
		{"missing, in a directory sbx cannot write", func(t *testing.T, dir string) (string, factWant) {
			d := "/proc/sbx-missing"
			return d, factWant{status: "fail", detail: []string{d, "cannot create it"}, fix: badFix}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var reports [][]checkFact
			for _, form := range [][]string{{"check"}, {"check", "--json"}} {
				dir := testDir(t)
				xdg, want := tc.setup(t, dir)
				want.name = "XDG_RUNTIME_DIR"
				set := []string{"TMPDIR=" + dir}
				if xdg != "" {
					set = append(set, "XDG_RUNTIME_DIR="+xdg)
				}
				env := envWith([]string{"XDG_RUNTIME_DIR", "TMPDIR"}, set...)
				r := invocation{args: form, dir: dir, env: env}.run(t)
				var facts []checkFact
				if len(form) == 1 {
					facts = parseCheckText(t, r)
				} else {
					facts = parseCheckJSON(t, r)
				}
				// Each form has a directory of its own: name it alike in both.
				same := slices.Clone(facts)
				for i := range same {
					same[i].Detail = strings.ReplaceAll(same[i].Detail, dir, "DIR")
					same[i].Fix = strings.ReplaceAll(same[i].Fix, dir, "DIR")
				}
				reports = append(reports, same)
				want.check(t, facts, r)
				var changed []string
				for _, name := range checkHostOK {
					if f := factNamed(t, facts, name); f.Status != "ok" {
						changed = append(changed, "\t"+f.String())
					}
				}
				if len(changed) > 0 {
					t.Errorf("XDG_RUNTIME_DIR=%q changes what check says of other facts, which are ok on this host:\n%s\n%s",
						xdg, strings.Join(changed, "\n"), r)
				}
				r.expect(t, map[string]int{"ok": 0, "warn": 0, "fail": 1}[want.status])
			}
			sameReport(t, reports[0], reports[1])
		})
	}
}

// mkdirMode makes directory d with exactly mode.
func mkdirMode(t *testing.T, d string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(d, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// foreignPrivateDir makes, in dir, an empty directory of mode 0700 owned by
// another uid: one of the test user's subordinate ids, chowned to from
// inside a sandbox as uid 0. dir's cleanup can still remove it (it is empty
// and dir is the test user's).
func foreignPrivateDir(t *testing.T, dir string) string {
	t.Helper()
	subordinateRanges(t, "/etc/subuid")
	subordinateRanges(t, "/etc/subgid")
	sbxIn(t, dir, "run", "--uid", "0", "--", "sh", "-c", "mkdir -m 0700 foreign && chown 1000:1000 foreign").ok(t)
	d := filepath.Join(dir, "foreign")
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) == os.Getuid() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: want a directory of mode 0700 of another owner, got owner %d mode %v", d, st.Uid, fi.Mode())
	}
	return d
}

// TestCheckBadInput: check takes no arguments and only --json.
func TestCheckBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"unknown flag", []string{"check", "--bogus"}, "--bogus"},
		{"unknown flag with --json", []string{"check", "--json", "--bogus"}, "--bogus"},
		{"an argument", []string{"check", "extra"}, "extra"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := sbx(t, tc.args...)
			r.expect(t, 125)
			if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], tc.want) {
				t.Errorf("want one line on stderr naming %q:\n%s", tc.want, r)
			}
			if r.stdout != "" {
				t.Errorf("want nothing on stdout:\n%s", r)
			}
		})
	}
}

// TestCheckRunPointsToCheck: when sbx run fails for a reason sbx check
// explains, its one line on stderr says to run sbx check. Each case runs
// the nested sbx run inside a sandbox where check explains the failure
// (see TestCheckMissingPieces).
func TestCheckRunPointsToCheck(t *testing.T) {
	t.Parallel()
	const pointer = "run `sbx check` for details"
	tests := []struct {
		name  string
		outer []string // flags of the outer sbx run
		inner []string // flags of the nested one
	}{
		// unshare(CLONE_NEWUSER) refused (the default): check names
		// user.max_user_namespaces.
		{"user namespaces disabled", nil, nil},
		{"user namespaces disabled, unconfined", []string{"--seccomp", "unconfined"}, nil},
		// newuidmap cannot work inside a sandbox.
		{"map helpers unusable", allowUserns, nil},
		// mount(2) refused by the outer seccomp profile: check names
		// the filter and --seccomp unconfined.
		{"mount refused by seccomp", allowUserns, []string{"--map", "single"}},
		// A fresh /proc refused by the kernel: check says this runs
		// inside a sandbox.
		{"proc refused inside a sandbox", []string{"--allow-userns", "--seccomp", "unconfined"}, []string{"--map", "single"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"run"}, tc.outer...), "--", sbxBinary(t), "run")
			args = append(append(args, tc.inner...), "--", "true")
			r := sbx(t, args...)
			r.expect(t, 125)
			if l := lines(r.stderr); len(l) != 1 || !strings.Contains(l[0], pointer) {
				t.Errorf("want one line on stderr that says %q:\n%s", pointer, r)
			}
			if r.stdout != "" {
				t.Errorf("want nothing on stdout:\n%s", r)
			}
		})
	}
}

// TestCheckMapFallbackHolds: when check says that newuidmap/newgidmap
// cannot be used and "sbx maps only your own ids (--map single)", sbx run
// with the default --map auto must indeed do what --map single does. Inside
// a sandbox both fail (no nested sandboxes), so they must fail alike, not
// on the helpers.
func TestCheckMapFallbackHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) []string // flags of the outer sbx run
	}{
		{"helpers hidden", func(t *testing.T, dir string) []string {
			empty := filepath.Join(dir, "empty-bin")
			if err := os.Mkdir(empty, 0o755); err != nil {
				t.Fatal(err)
			}
			return []string{"--hide", "/usr/bin/newuidmap", "--hide", "/usr/bin/newgidmap", "-e", "PATH=" + empty}
		}},
		{"uidmap not installed", func(t *testing.T, dir string) []string {
			return []string{"--hide", "/usr/bin", "--hide", "/usr/sbin"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := testDir(t)
			outer := append([]string{"run", "--allow-userns", "--seccomp", "unconfined"}, tc.setup(t, dir)...)
			in := func(args ...string) result {
				a := append(append(append([]string{}, outer...), "--", sbxBinary(t)), args...)
				return sbxIn(t, dir, a...)
			}
			facts, r := sandboxedCheck(t, dir, outer[1:])
			helpers := factNamed(t, facts, "newuidmap/newgidmap")
			if helpers.Status == "ok" || !strings.Contains(helpers.Detail, "--map single") {
				t.Fatalf("want check to say the helpers cannot be used and sbx falls back to --map single, got:\n\t%s\n%s", helpers, r)
			}
			auto := in("run", "--", "true")
			single := in("run", "--map", "single", "--", "true")
			auto.expect(t, 125)
			single.expect(t, 125)
			if auto.stderr != single.stderr {
				t.Errorf("check says\n\t%s\nbut sbx run (--map auto) does not fail as --map single does:\n%s\n--map single:\n%s",
					helpers, auto, single)
			}
		})
	}
}

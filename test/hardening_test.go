package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Tests of the hardening of sbx run and sbx exec: capabilities,
// no_new_privs, seccomp (built-in and --seccomp FILE), --ulimit,
// --preserve-fds, --landlock and --disable-userns, and their bad input.
// What the command holds is read from its own /proc/self/status; what the
// kernel refuses is tried for real, with and without the flag, so that a
// test shows the flag is what makes the difference.

// capSets are the five capability sets of /proc/PID/status.
type capSets struct{ inh, prm, eff, bnd, amb uint64 }

func (c capSets) String() string {
	return fmt.Sprintf("CapInh %016x CapPrm %016x CapEff %016x CapBnd %016x CapAmb %016x", c.inh, c.prm, c.eff, c.bnd, c.amb)
}

// capMask is the mask of the capabilities numbered caps.
func capMask(caps ...int) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << uint(c)
	}
	return m
}

// rootDefaultCaps is what uid 0 inside holds by default: CHOWN,
// DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID,
// SETPCAP, SETUID and SYS_CHROOT.
var rootDefaultCaps = capMask(unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_FSETID,
	unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE, unix.CAP_SETFCAP, unix.CAP_SETGID, unix.CAP_SETPCAP,
	unix.CAP_SETUID, unix.CAP_SYS_CHROOT)

// allKernelCaps is the mask of every capability the running kernel has.
func allKernelCaps(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || last < 0 || last > 62 {
		t.Fatalf("/proc/sys/kernel/cap_last_cap: %q (%v)", b, err)
	}
	return 1<<uint(last+1) - 1
}

// procStatusFields parses the output of `cat /proc/self/status`.
func procStatusFields(t *testing.T, r result) map[string]string {
	t.Helper()
	f := map[string]string{}
	for _, l := range lines(r.ok(t)) {
		if k, v, ok := strings.Cut(l, ":"); ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"} {
		if _, ok := f[k]; !ok {
			t.Fatalf("no %s in /proc/self/status:\n%s", k, r)
		}
	}
	return f
}

// capsOf reads the capability sets from the output of `cat /proc/self/status`.
func capsOf(t *testing.T, r result) capSets {
	t.Helper()
	f := procStatusFields(t, r)
	var c capSets
	for _, s := range []struct {
		key string
		v   *uint64
	}{{"CapInh", &c.inh}, {"CapPrm", &c.prm}, {"CapEff", &c.eff}, {"CapBnd", &c.bnd}, {"CapAmb", &c.amb}} {
		v, err := strconv.ParseUint(f[s.key], 16, 64)
		if err != nil {
			t.Fatalf("%s: %q is not a hex mask:\n%s", s.key, f[s.key], r)
		}
		*s.v = v
	}
	return c
}

// capWant is what a command's capability sets must be.
type capWant struct {
	sets capSets
	// rootLike: uid 0, for which only the bounding, effective and
	// permitted sets (and, with ambientZero, the ambient set) are fixed;
	// the inheritable and ambient sets must stay within the bounding set.
	rootLike    bool
	ambientZero bool
}

// inAllFive is a capWant with mask in all five sets.
func inAllFive(mask uint64) capWant { return capWant{sets: capSets{mask, mask, mask, mask, mask}} }

// uid0Caps is a capWant for uid 0 holding mask, with nothing ambient.
func uid0Caps(mask uint64) capWant {
	return capWant{sets: capSets{bnd: mask, eff: mask, prm: mask}, rootLike: true, ambientZero: true}
}

func (w capWant) check(t *testing.T, got capSets, r result) {
	t.Helper()
	ok := got == w.sets
	if w.rootLike {
		ok = got.bnd == w.sets.bnd && got.eff == w.sets.eff && got.prm == w.sets.prm &&
			got.inh&^got.bnd == 0 && got.amb&^got.bnd == 0 && (!w.ambientZero || got.amb == 0)
	}
	if !ok {
		what := "want exactly"
		if w.rootLike {
			what = "want Bnd, Eff and Prm"
			if w.ambientZero {
				what += ", Amb 0"
			}
			what += ", Inh within Bnd, of"
		}
		t.Errorf("%s\n\t%v\ngot\n\t%v\n%s", what, w.sets, got, r)
	}
}

// sbxRunTool runs a toolbox tool in a new sandbox made with flags.
func sbxRunTool(t *testing.T, flags []string, tool string, args ...string) result {
	t.Helper()
	return sbx(t, append(append([]string{"run"}, flags...), toolArgs(t, tool, args...)...)...)
}

// sbxExecTool runs a toolbox tool with sbx exec (flags: exec's own) in the
// sandbox name of h.
func sbxExecTool(t *testing.T, h *stateHome, flags []string, name, tool string, args ...string) result {
	t.Helper()
	ta := toolArgs(t, tool, args...) // --env SBX_TEST_TOOL=tool -- binary args...
	a := append(append([]string{"exec"}, flags...), ta[:2]...)
	a = append(append(a, name), ta[2:]...)
	return h.sbx(t, a...)
}

// TestHardenCapabilities reads the capability sets of the command from
// /proc/self/status for the default uid, uid 0, and --cap-add/--cap-drop
// in their spellings.
func TestHardenCapabilities(t *testing.T) {
	t.Parallel()
	all := allKernelCaps(t)
	netRaw := capMask(unix.CAP_NET_RAW)
	chown := capMask(unix.CAP_CHOWN)
	setuid := capMask(unix.CAP_SETUID)
	sysAdmin := capMask(unix.CAP_SYS_ADMIN)
	tests := []struct {
		name  string
		flags []string
		want  capWant
	}{
		{"default uid", nil, inAllFive(0)},
		{"uid 0", []string{"--uid", "0"}, uid0Caps(rootDefaultCaps)},
		{"--cap-add NET_RAW", []string{"--cap-add", "NET_RAW"}, inAllFive(netRaw)},
		{"--cap-add CAP_NET_RAW", []string{"--cap-add", "CAP_NET_RAW"}, inAllFive(netRaw)},
		{"--cap-add net_raw", []string{"--cap-add", "net_raw"}, inAllFive(netRaw)},
		{"--cap-add cap_net_raw", []string{"--cap-add=cap_net_raw"}, inAllFive(netRaw)},
		{"two --cap-add", []string{"--cap-add", "NET_RAW", "--cap-add", "chown"}, inAllFive(netRaw | chown)},
		{"--cap-add a,b", []string{"--cap-add", "NET_RAW,CAP_CHOWN"}, inAllFive(netRaw | chown)},
		{"--cap-add ALL", []string{"--cap-add", "ALL"}, inAllFive(all)},
		{"--cap-add all", []string{"--cap-add", "all"}, inAllFive(all)},
		{"--cap-drop ALL", []string{"--cap-drop", "ALL"}, inAllFive(0)},
		{"uid 0 --cap-drop ALL --cap-add chown", []string{"--uid", "0", "--cap-drop", "ALL", "--cap-add", "chown"},
			capWant{sets: capSets{bnd: chown, eff: chown, prm: chown}, rootLike: true}},
		{"uid 0 --cap-drop SETUID", []string{"--uid", "0", "--cap-drop", "SETUID"}, uid0Caps(rootDefaultCaps &^ setuid)},
		{"uid 0 --cap-drop cap_setuid", []string{"--uid", "0", "--cap-drop", "cap_setuid"}, uid0Caps(rootDefaultCaps &^ setuid)},
		{"uid 0 --cap-drop ALL", []string{"--uid", "0", "--cap-drop", "ALL"}, inAllFive(0)},
		{"uid 0 --cap-add SYS_ADMIN", []string{"--uid", "0", "--cap-add", "SYS_ADMIN"},
			capWant{sets: capSets{bnd: rootDefaultCaps | sysAdmin, eff: rootDefaultCaps | sysAdmin, prm: rootDefaultCaps | sysAdmin}, rootLike: true}},
		{"uid 0 --cap-add ALL", []string{"--uid", "0", "--cap-add", "ALL"},
			capWant{sets: capSets{bnd: all, eff: all, prm: all}, rootLike: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"run"}, tc.flags...), "--", "cat", "/proc/self/status")
			r := sbx(t, args...)
			tc.want.check(t, capsOf(t, r), r)
		})
	}
}

// TestHardenCapabilityBehaviour checks that the capabilities are real:
// setuid needs CAP_SETUID, mount needs CAP_SYS_ADMIN, a raw socket
// CAP_NET_RAW; each with and without the capability.
func TestHardenCapabilityBehaviour(t *testing.T) {
	t.Parallel()
	// setresuid to 1000 needs uid 1000 mapped: the auto map.
	subordinateRanges(t, "/etc/subuid")
	subordinateRanges(t, "/etc/subgid")
	setuid := []string{"--", "sh", "-c", `setpriv --reuid 1000 sh -c 'id -u' 2>/dev/null || echo refused`}
	mount := []string{"--", "sh", "-c", `if mount -t tmpfs sbxtest /tmp 2>/dev/null; then grep -c '^sbxtest /tmp tmpfs' /proc/self/mounts; else echo refused; fi`}
	tests := []struct {
		name  string
		flags []string
		cmd   []string // nil: the raw socket tool
		want  string
	}{
		{"setuid as uid 0", []string{"--uid", "0"}, setuid, "1000\n"},
		{"setuid with --cap-drop SETUID", []string{"--uid", "0", "--cap-drop", "SETUID"}, setuid, "refused\n"},
		{"mount as uid 0", []string{"--uid", "0"}, mount, "refused\n"},
		// Not only the seccomp profile: the capability is missing.
		{"mount as uid 0, --seccomp unconfined", []string{"--uid", "0", "--seccomp", "unconfined"}, mount, "refused\n"},
		{"mount with --cap-add SYS_ADMIN", []string{"--uid", "0", "--cap-add", "SYS_ADMIN"}, mount, "1\n"},
		{"raw socket", nil, nil, "rawsock EPERM\n"},
		{"raw socket with --cap-add NET_RAW", []string{"--cap-add", "NET_RAW"}, nil, "rawsock ok\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r result
			if tc.cmd == nil {
				r = sbxRunTool(t, tc.flags, "harden-syscall", "rawsock")
			} else {
				r = sbx(t, append(append([]string{"run"}, tc.flags...), tc.cmd...)...)
			}
			if out := r.ok(t); out != tc.want {
				t.Errorf("want %q, got %q\n%s", tc.want, out, r)
			}
		})
	}
}

// TestHardenExecCapabilities checks the capabilities of sbx exec: the
// sandbox's rule, applied to exec's uid.
//
// Here and below, exec with another uid than the sandbox's uses -w /: the
// sandbox's working directory is the test's, mode 0700, which the other
// uid may not enter (TestExecUser covers the default working directory).
func TestHardenExecCapabilities(t *testing.T) {
	t.Parallel()
	netRaw := capMask(unix.CAP_NET_RAW)
	setuid := capMask(unix.CAP_SETUID)
	tests := []struct {
		name      string
		runFlags  []string
		execFlags []string
		want      capWant
	}{
		{"--cap-add NET_RAW, exec as the sandbox's uid", []string{"--cap-add", "NET_RAW"}, nil, inAllFive(netRaw)},
		{"--cap-add NET_RAW, exec --uid 0", []string{"--cap-add", "NET_RAW"}, []string{"--uid", "0", "-w", "/"},
			capWant{sets: capSets{bnd: rootDefaultCaps | netRaw, eff: rootDefaultCaps | netRaw, prm: rootDefaultCaps | netRaw}, rootLike: true}},
		{"default, exec as the sandbox's uid", nil, nil, inAllFive(0)},
		{"uid 0 --cap-drop SETUID, exec as uid 0", []string{"--uid", "0", "--cap-drop", "SETUID"}, nil, uid0Caps(rootDefaultCaps &^ setuid)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			name := h.detach(t, sandboxName("caps"), append(tc.runFlags, "--", "sleep", token())...)
			args := append(append([]string{"exec"}, tc.execFlags...), name, "--", "cat", "/proc/self/status")
			r := h.sbx(t, args...)
			tc.want.check(t, capsOf(t, r), r)
		})
	}
}

// TestHardenNoNewPrivsAndSeccomp checks no_new_privs and the seccomp mode
// of run and exec: always no_new_privs, a filter unless --seccomp
// unconfined.
func TestHardenNoNewPrivsAndSeccomp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		exec      bool
		runFlags  []string
		execFlags []string
		seccomp   string
	}{
		{"run", false, nil, nil, "2"},
		{"run --uid 0", false, []string{"--uid", "0"}, nil, "2"},
		{"run --cap-add ALL", false, []string{"--cap-add", "ALL"}, nil, "2"},
		{"run --seccomp unconfined", false, []string{"--seccomp", "unconfined"}, nil, "0"},
		{"exec", true, nil, nil, "2"},
		{"exec --uid 0", true, nil, []string{"--uid", "0", "-w", "/"}, "2"},
		{"exec into --seccomp unconfined", true, []string{"--seccomp", "unconfined"}, nil, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r result
			if tc.exec {
				h := newStateHome(t)
				name := h.detach(t, sandboxName("nnp"), append(tc.runFlags, "--", "sleep", token())...)
				r = h.sbx(t, append(append([]string{"exec"}, tc.execFlags...), name, "--", "cat", "/proc/self/status")...)
			} else {
				r = sbx(t, append(append([]string{"run"}, tc.runFlags...), "--", "cat", "/proc/self/status")...)
			}
			f := procStatusFields(t, r)
			if f["NoNewPrivs"] != "1" {
				t.Errorf("want NoNewPrivs: 1, got %q\n%s", f["NoNewPrivs"], r)
			}
			if f["Seccomp"] != tc.seccomp {
				t.Errorf("want Seccomp: %s, got %q\n%s", tc.seccomp, f["Seccomp"], r)
			}
		})
	}
}

// TestHardenDefaultSeccompProfile makes syscalls the built-in profile
// refuses (the kernel keyrings, shared with the host user), in run and in
// exec; with --seccomp unconfined the kernel answers them.
func TestHardenDefaultSeccompProfile(t *testing.T) {
	t.Parallel()
	calls := []string{"add_key", "keyctl"}
	refused := "add_key EPERM\nkeyctl EPERM\n"
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		r := sbxRunTool(t, nil, "harden-syscall", calls...)
		if out := r.ok(t); out != refused {
			t.Errorf("want %q, got %q\n%s", refused, out, r)
		}
	})
	t.Run("run --uid 0 --cap-add ALL", func(t *testing.T) {
		t.Parallel()
		r := sbxRunTool(t, []string{"--uid", "0", "--cap-add", "ALL"}, "harden-syscall", calls...)
		if out := r.ok(t); out != refused {
			t.Errorf("want %q, got %q\n%s", refused, out, r)
		}
	})
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		h := newStateHome(t)
		name := h.detach(t, sandboxName("seccomp"), "--", "sleep", token())
		for _, flags := range [][]string{nil, {"--uid", "0", "-w", "/"}} {
			r := sbxExecTool(t, h, flags, name, "harden-syscall", calls...)
			if out := r.ok(t); out != refused {
				t.Errorf("want %q, got %q\n%s", refused, out, r)
			}
		}
	})
	t.Run("unconfined", func(t *testing.T) {
		t.Parallel()
		r := sbxRunTool(t, []string{"--seccomp", "unconfined"}, "harden-syscall", calls...)
		for _, l := range lines(r.ok(t)) {
			if strings.HasSuffix(l, " EPERM") {
				t.Errorf("with --seccomp unconfined the kernel itself refuses %q: the default-profile checks prove nothing\n%s", l, r)
			}
		}
		if len(lines(r.stdout)) != len(calls) {
			t.Errorf("want one line per call:\n%s", r)
		}
	})
}

// seccompScript tries mkdir, which the test profiles deny, and a few things
// they allow.
const seccompScript = `if mkdir dir 2>/tmp/err; then echo mkdir-ok; else echo "mkdir-failed: $(cat /tmp/err)"; fi
	echo data >file && cat file
	ls -d /proc/self >/dev/null && echo ls-ok
	sed -n 's/^Seccomp:[[:space:]]*//p' /proc/self/status`

// TestHardenSeccompFile runs with --seccomp FILE: OCI profiles that deny
// mkdir and mkdirat, with the default errno (EPERM) and with errnoRet, in
// run and in exec.
func TestHardenSeccompFile(t *testing.T) {
	t.Parallel()
	denyEPERM := `{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`
	denyEACCES := `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
			{"names": ["no_such_syscall_sbx"], "action": "SCMP_ACT_ERRNO"}]}`
	tests := []struct {
		name    string
		profile string
		exec    bool
		errText string
	}{
		{"EPERM", denyEPERM, false, "Operation not permitted"},
		{"errnoRet EACCES", denyEACCES, false, "Permission denied"},
		{"exec, EPERM", denyEPERM, true, "Operation not permitted"},
		{"exec, errnoRet EACCES", denyEACCES, true, "Permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			profile := filepath.Join(testDir(t), "profile.json")
			writeFile(t, profile, tc.profile, 0o644)
			h := newStateHome(t)
			var r result
			cmd := []string{"--", "sh", "-c", seccompScript}
			if tc.exec {
				name := h.detach(t, sandboxName("profile"), "--seccomp", profile, "--", "sleep", token())
				r = h.sbx(t, append([]string{"exec", name}, cmd...)...)
			} else {
				r = h.sbx(t, append([]string{"run", "--seccomp", profile}, cmd...)...)
			}
			l := lines(r.ok(t))
			if len(l) != 4 || !strings.HasPrefix(l[0], "mkdir-failed: ") || !strings.Contains(l[0], tc.errText) ||
				l[1] != "data" || l[2] != "ls-ok" || l[3] != "2" {
				t.Errorf("want mkdir refused with %q, the rest working, Seccomp 2; got:\n%s", tc.errText, r)
			}
			if _, err := os.Stat(filepath.Join(h.dir, "dir")); err == nil {
				t.Errorf("mkdir was refused but the directory exists on the host")
			}
			if b, err := os.ReadFile(filepath.Join(h.dir, "file")); err != nil || string(b) != "data\n" {
				t.Errorf("want the file written inside on the host: %q, %v", b, err)
			}
		})
	}
}

// TestHardenUlimit checks --ulimit inside, in run and in exec.
func TestHardenUlimit(t *testing.T) {
	t.Parallel()
	// Limits sbx is not asked to set are the caller's; the Go runtime
	// raises its own soft RLIMIT_NOFILE, so only the core limit is
	// compared when left alone.
	var core unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &core); err != nil {
		t.Fatal(err)
	}
	limit := func(v uint64) string {
		if v == unix.RLIM_INFINITY {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	ownCore := limit(core.Cur) + " " + limit(core.Max)
	script := `echo "$(ulimit -Sn) $(ulimit -Hn) $(ulimit -Sc) $(ulimit -Hc)"`
	tests := []struct {
		name  string
		exec  bool
		flags []string
		want  string // nofile soft, hard; core soft, hard; * for not compared
	}{
		{"nofile=100:200", false, []string{"--ulimit", "nofile=100:200"}, "100 200 " + ownCore},
		{"nofile=150", false, []string{"--ulimit", "nofile=150"}, "150 150 " + ownCore},
		{"core=0", false, []string{"--ulimit", "core=0"}, "* * 0 0"},
		{"both", false, []string{"--ulimit", "nofile=100:200", "--ulimit=core=0"}, "100 200 0 0"},
		{"last wins", false, []string{"--ulimit", "nofile=50:60", "--ulimit", "nofile=100:200"}, "100 200 " + ownCore},
		{"upper case", false, []string{"--ulimit", "NOFILE=100:200"}, "100 200 " + ownCore},
		{"exec", true, []string{"--ulimit", "nofile=100:200", "--ulimit", "core=0"}, "100 200 0 0"},
		{"exec, --uid 0", true, []string{"--uid", "0", "--ulimit", "nofile=100:200", "--ulimit", "core=0"}, "100 200 0 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r result
			if tc.exec {
				h := newStateHome(t)
				name := h.detach(t, sandboxName("ulimit"), append(tc.flags, "--", "sleep", token())...)
				r = h.sbx(t, "exec", name, "--", "sh", "-c", script)
			} else {
				r = sbx(t, append(append([]string{"run"}, tc.flags...), "--", "sh", "-c", script)...)
			}
			got := strings.Fields(r.ok(t))
			want := strings.Fields(tc.want)
			ok := len(got) == len(want)
			for i := 0; ok && i < len(want); i++ {
				ok = want[i] == "*" || want[i] == got[i]
			}
			if !ok {
				t.Errorf("want nofile and core limits (soft hard soft hard) %q, got %q\n%s", tc.want, got, r)
			}
		})
	}
}

// openNumberedFiles opens n files holding "fd3\n", "fd4\n"... in a test
// directory, to be passed as descriptors 3, 4...
func openNumberedFiles(t *testing.T, n int) []*os.File {
	t.Helper()
	dir := testDir(t)
	var files []*os.File
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("fd%d", 3+i))
		writeFile(t, p, fmt.Sprintf("fd%d\n", 3+i), 0o644)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

// TestHardenPreserveFDs passes descriptors 3, 4 and 5 to sbx run and sbx
// exec: the command gets 3 .. 3+N-1 with --preserve-fds N, and only its
// stdio without.
func TestHardenPreserveFDs(t *testing.T) {
	t.Parallel()
	// sh lists its own descriptors, then reads the ones it should have.
	script := `ls /proc/$$/fd; echo ---; for fd in "$@"; do eval "cat <&$fd"; done`
	tests := []struct {
		name     string
		exec     bool
		flags    []string
		preserve []string // the descriptors the command must have beyond stdio
	}{
		{"run", false, nil, nil},
		{"run --preserve-fds 2", false, []string{"--preserve-fds", "2"}, []string{"3", "4"}},
		{"run --preserve-fds=3", false, []string{"--preserve-fds=3"}, []string{"3", "4", "5"}},
		{"run --preserve-fds 0", false, []string{"--preserve-fds", "0"}, nil},
		{"exec", true, nil, nil},
		{"exec --preserve-fds 2", true, []string{"--preserve-fds", "2"}, []string{"3", "4"}},
		{"exec --preserve-fds 3", true, []string{"--preserve-fds", "3"}, []string{"3", "4", "5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newStateHome(t)
			var inv invocation
			cmd := append([]string{"--", "sh", "-c", script, "sh"}, tc.preserve...)
			if tc.exec {
				name := h.detach(t, sandboxName("fds"), "--", "sleep", token())
				inv = h.inv(append(append(append([]string{"exec"}, tc.flags...), name), cmd...)...)
			} else {
				inv = h.inv(append(append([]string{"run"}, tc.flags...), cmd...)...)
			}
			inv.extra = openNumberedFiles(t, 3)
			r := inv.run(t)
			want := "0\n1\n2\n"
			for _, fd := range tc.preserve {
				want += fd + "\n"
			}
			want += "---\n"
			for _, fd := range tc.preserve {
				want += "fd" + fd + "\n"
			}
			if out := r.ok(t); out != want {
				t.Errorf("want descriptors and contents %q, got %q\n%s", want, out, r)
			}
		})
	}
}

// landlockABI fails the test unless the kernel has Landlock: it asks for
// the ABI version from inside a sandbox, where sbx applies it.
func landlockABI(t *testing.T) int {
	t.Helper()
	r := sbxRunTool(t, nil, "harden-syscall", "landlock-abi")
	out := strings.TrimSpace(r.ok(t))
	abi, err := strconv.Atoi(strings.TrimPrefix(out, "landlock-abi "))
	if err != nil || abi < 1 {
		t.Fatalf("Landlock is not available on this kernel (landlock_create_ruleset(NULL, 0, VERSION): %s), and --landlock needs it: "+
			"use a kernel built with CONFIG_SECURITY_LANDLOCK=y and landlock in its LSM list (e.g. boot with lsm=landlock,...)\n%s", out, r)
	}
	return abi
}

// TestHardenLandlock checks --landlock: the view's writable places stay
// writable, the host root readable; and mount changes are refused even to
// a command holding CAP_SYS_ADMIN, which without --landlock may make them.
func TestHardenLandlock(t *testing.T) {
	t.Parallel()
	abi := landlockABI(t)
	t.Logf("Landlock ABI %d", abi)

	t.Run("view", func(t *testing.T) {
		t.Parallel()
		cwd, tmpfs, bind, ro := testDir(t), testDir(t), testDir(t), testDir(t)
		script := `tmpfs=$1 bind=$2 ro=$3
			try() { if (eval "$2") 2>/dev/null; then echo "$1 ok"; else echo "$1 refused"; fi; }
			try cwd 'echo x >"$PWD/f"'
			try tmp 'echo x >/tmp/f && cat /tmp/f >/dev/null'
			try tmpfs 'echo x >"$tmpfs/f"'
			try bind 'echo x >"$bind/f"'
			try read-root 'head -c 1 /etc/passwd >/dev/null && ls /usr/bin >/dev/null'
			try devnull 'echo x >/dev/null'
			try proc 'cat /proc/self/status >/dev/null'
			try ro-bind 'echo x >"$ro/f"'
			try root 'echo x >/sbx-landlock-test'`
		r := sbxIn(t, cwd, "run", "--landlock", "--tmpfs", tmpfs, "--bind", bind, "--ro-bind", ro,
			"--", "sh", "-c", script, "sh", tmpfs, bind, ro)
		want := "cwd ok\ntmp ok\ntmpfs ok\nbind ok\nread-root ok\ndevnull ok\nproc ok\nro-bind refused\nroot refused\n"
		if out := r.ok(t); out != want {
			t.Errorf("want %q, got %q\n%s", want, out, r)
		}
		for dir, want := range map[string]bool{cwd: true, bind: true, tmpfs: false, ro: false} {
			_, err := os.Stat(filepath.Join(dir, "f"))
			if (err == nil) != want {
				t.Errorf("%s/f on the host: exists %v, want %v", dir, err == nil, want)
			}
		}
	})

	// As uid 0 with CAP_SYS_ADMIN, the command remounts a --ro-bind
	// read-write and writes to it; Landlock refuses the remount (EPERM).
	for _, tc := range []struct {
		name     string
		exec     bool
		landlock bool
		want     string
	}{
		{"remount without --landlock", false, false, "remount ok\nwrite ok\n"},
		{"remount with --landlock", false, true, "remount EPERM\nwrite EROFS\n"},
		{"exec, remount without --landlock", true, false, "remount ok\nwrite ok\n"},
		{"exec, remount with --landlock", true, true, "remount EPERM\nwrite EROFS\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ro := testDir(t)
			flags := []string{"--uid", "0", "--cap-add", "SYS_ADMIN", "--ro-bind", ro}
			if tc.landlock {
				flags = append(flags, "--landlock")
			}
			h := newStateHome(t)
			var r result
			if tc.exec {
				name := h.detach(t, sandboxName("landlock"), append(flags, "--", "sleep", token())...)
				r = sbxExecTool(t, h, nil, name, "harden-remount-rw", ro)
			} else {
				r = h.sbx(t, append(append([]string{"run"}, flags...), toolArgs(t, "harden-remount-rw", ro)...)...)
			}
			if out := r.ok(t); out != tc.want {
				t.Errorf("want %q, got %q\n%s", tc.want, out, r)
			}
			_, err := os.Stat(filepath.Join(ro, "written"))
			if written := err == nil; written != (tc.want == "remount ok\nwrite ok\n") {
				t.Errorf("the file written through the remounted --ro-bind exists on the host: %v", written)
			}
		})
	}
}

// TestHardenDisableUserns checks that the command, and commands of sbx
// exec, cannot make a user namespace by default (--disable-userns, kept
// for bwrap's flag, changes nothing), and can with --allow-userns.
func TestHardenDisableUserns(t *testing.T) {
	t.Parallel()
	script := `if unshare -U true 2>/dev/null; then echo created; else echo refused; fi`
	for _, tc := range []struct {
		name    string
		exec    bool
		flags   []string
		want    string
		execUID []string
	}{
		{"run", false, nil, "refused\n", nil},
		{"run --allow-userns", false, []string{"--allow-userns"}, "created\n", nil},
		{"run --disable-userns", false, []string{"--disable-userns"}, "refused\n", nil},
		{"run --uid 0 --cap-add ALL", false, []string{"--uid", "0", "--cap-add", "ALL"}, "refused\n", nil},
		{"exec", true, nil, "refused\n", nil},
		{"exec --allow-userns", true, []string{"--allow-userns"}, "created\n", nil},
		{"exec --uid 0", true, nil, "refused\n", []string{"--uid", "0", "-w", "/"}},
		{"exec --uid 0 --allow-userns", true, []string{"--allow-userns"}, "created\n", []string{"--uid", "0", "-w", "/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r result
			if tc.exec {
				h := newStateHome(t)
				name := h.detach(t, sandboxName("userns"), append(tc.flags, "--", "sleep", token())...)
				r = h.sbx(t, append(append([]string{"exec"}, tc.execUID...), name, "--", "sh", "-c", script)...)
			} else {
				r = sbx(t, append(append([]string{"run"}, tc.flags...), "--", "sh", "-c", script)...)
			}
			if out := r.ok(t); out != tc.want {
				t.Errorf("want %q, got %q\n%s", tc.want, out, r)
			}
		})
	}
}

// hardenBadCase is bad input for a hardening flag of sbx run.
type hardenBadCase struct {
	name    string
	flags   func(t *testing.T) []string
	extra   int      // descriptors 3.. open in sbx
	mention []string // on the one stderr line
}

func fixedFlags(a ...string) func(*testing.T) []string { return func(*testing.T) []string { return a } }

// seccompProfile writes content to a file and returns --seccomp FILE.
func seccompProfile(content string) func(*testing.T) []string {
	return func(t *testing.T) []string {
		p := filepath.Join(testDir(t), "profile.json")
		writeFile(t, p, content, 0o644)
		return []string{"--seccomp", p}
	}
}

// assertNoState fails unless dir holds no sandbox record: at most the
// empty state directory sbx may have made (sbx, or sbx-UID for the
// fallback).
func assertNoState(t *testing.T, dir string, r result) {
	t.Helper()
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && (rel == "sbx" || rel == "sbx-"+strconv.Itoa(os.Getuid())) {
			return nil
		}
		left = append(left, rel)
		return nil
	})
	if len(left) > 0 {
		t.Errorf("bad input left %v in %s:\n%s", left, dir, r)
	}
}

// checkBadInput runs sbx run with bad flags, attached (with
// XDG_RUNTIME_DIR) and detached (without it: the fallback state
// directory), and checks that each exits 125 with one line on stderr,
// leaves no state and starts nothing.
func checkBadInput(t *testing.T, flags []string, extra int, mention []string) {
	t.Helper()
	tok := token()
	// Attached: the command would leave a file behind.
	h := newStateHome(t)
	name := sandboxName("bad")
	inv := h.inv(append(append([]string{"run", "--name", name}, flags...), "--", "sh", "-c", "echo ran >ran")...)
	inv.extra = openNumberedFiles(t, extra)
	r := inv.run(t)
	expectBadInput(t, r, mention...)
	assertEmptyDir(t, h.dir)
	assertNoState(t, h.runtime, r)

	// Detached, with the state in the fallback directory under TMPDIR.
	tmp := testDir(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	dir := testDir(t)
	inv = invocation{
		args: append(append([]string{"run", "-d", "--name", name}, flags...), "--", "sh", "-c", `echo ran >ran; exec sleep "$1"`, "sh", tok),
		dir:  dir,
		env:  append(env, "TMPDIR="+tmp),
	}
	inv.extra = openNumberedFiles(t, extra)
	r = inv.run(t)
	if r.code != 125 {
		// Something started after all: remove it when the test ends.
		t.Cleanup(func() { invocation{args: []string{"rm", "-f", name}, dir: dir, env: inv.env}.run(t) })
	}
	expectBadInput(t, r, mention...)
	assertEmptyDir(t, dir)
	assertNoState(t, tmp, r)
	if pids := hostProcesses(t, "sleep", tok); len(pids) > 0 {
		t.Errorf("bad input started the detached command `sleep %s`: pids %v\n%s", tok, pids, r)
		killPids(pids)
	}
}

// TestHardenBadInput gives every hardening flag of sbx run bad input: exit
// 125, one line on stderr naming the flag and what is wrong, nothing left
// behind.
func TestHardenBadInput(t *testing.T) {
	t.Parallel()
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	aboveHard := fmt.Sprintf("nofile=10:%d", nofile.Max+1)
	tests := []hardenBadCase{
		{name: "--cap-add FOO", flags: fixedFlags("--cap-add", "FOO"), mention: []string{"--cap-add", "FOO", "unknown capability"}},
		{name: "--cap-add CAP_FOO", flags: fixedFlags("--cap-add", "CAP_FOO"), mention: []string{"--cap-add", "CAP_FOO"}},
		{name: "--cap-add empty", flags: fixedFlags("--cap-add="), mention: []string{"--cap-add"}},
		{name: "--cap-add one bad of a list", flags: fixedFlags("--cap-add", "NET_RAW,bogus"), mention: []string{"--cap-add", "bogus"}},
		{name: "--cap-drop FOO", flags: fixedFlags("--cap-drop", "FOO"), mention: []string{"--cap-drop", "FOO"}},
		{name: "--cap-add and --cap-drop the same", flags: fixedFlags("--cap-add", "NET_RAW", "--cap-drop", "NET_RAW"),
			mention: []string{"--cap-add", "--cap-drop", "NET_RAW"}},
		{name: "--cap-add and --cap-drop the same, spelled differently", flags: fixedFlags("--uid", "0", "--cap-add", "cap_sys_admin", "--cap-drop", "SYS_ADMIN"),
			mention: []string{"--cap-add", "--cap-drop", "SYS_ADMIN"}},
		{name: "--seccomp missing file", flags: fixedFlags("--seccomp", "/nonexistent/sbx-profile.json"),
			mention: []string{"--seccomp", "/nonexistent/sbx-profile.json", "no such file"}},
		{name: "--seccomp a directory", flags: func(t *testing.T) []string { return []string{"--seccomp", testDir(t)} },
			mention: []string{"--seccomp", "directory"}},
		{name: "--seccomp not JSON", flags: seccompProfile("this is not json\n"), mention: []string{"--seccomp", "not an OCI seccomp profile"}},
		{name: "--seccomp empty file", flags: seccompProfile(""), mention: []string{"--seccomp"}},
		{name: "--seccomp a JSON array", flags: seccompProfile("[]\n"), mention: []string{"--seccomp", "not an OCI seccomp profile"}},
		{name: "--seccomp trailing garbage", flags: seccompProfile(`{"defaultAction": "SCMP_ACT_ALLOW"} and more` + "\n"),
			mention: []string{"--seccomp"}},
		{name: "--seccomp no defaultAction", flags: seccompProfile(`{"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}`),
			mention: []string{"--seccomp", "defaultAction"}},
		{name: "--seccomp unknown defaultAction", flags: seccompProfile(`{"defaultAction": "SCMP_ACT_BOGUS"}`),
			mention: []string{"--seccomp", "SCMP_ACT_BOGUS"}},
		{name: "--seccomp unknown action", flags: seccompProfile(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]}`),
			mention: []string{"--seccomp", "SCMP_ACT_BOGUS"}},
		{name: "--seccomp unknown operator", flags: seccompProfile(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}`),
			mention: []string{"--seccomp", "SCMP_CMP_BOGUS"}},
		{name: "--seccomp errnoRet not an errno", flags: seccompProfile(`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000}`),
			mention: []string{"--seccomp", "5000"}},
		{name: "--seccomp notify", flags: seccompProfile(`{"defaultAction": "SCMP_ACT_NOTIFY"}`), mention: []string{"--seccomp", "SCMP_ACT_NOTIFY"}},
		{name: "--seccomp listenerPath", flags: seccompProfile(`{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}`),
			mention: []string{"--seccomp", "listenerPath"}},
		{name: "--landlock=maybe", flags: fixedFlags("--landlock=maybe"), mention: []string{"--landlock"}},
		{name: "--disable-userns=x", flags: fixedFlags("--disable-userns=x"), mention: []string{"--disable-userns"}},
		{name: "--ulimit unknown name", flags: fixedFlags("--ulimit", "foo=1"), mention: []string{"--ulimit", "foo=1", "nofile"}},
		{name: "--ulimit without =", flags: fixedFlags("--ulimit", "nofile"), mention: []string{"--ulimit", "NAME=SOFT"}},
		{name: "--ulimit empty", flags: fixedFlags("--ulimit="), mention: []string{"--ulimit"}},
		{name: "--ulimit soft above hard", flags: fixedFlags("--ulimit", "nofile=200:100"), mention: []string{"--ulimit", "nofile=200:100", "soft"}},
		{name: "--ulimit hard above the caller's", flags: fixedFlags("--ulimit", aboveHard), mention: []string{"--ulimit", aboveHard, strconv.FormatUint(nofile.Max, 10)}},
		{name: "--ulimit soft not a number", flags: fixedFlags("--ulimit", "nofile=abc"), mention: []string{"--ulimit", "abc", "not a number"}},
		{name: "--ulimit hard not a number", flags: fixedFlags("--ulimit", "core=0:lots"), mention: []string{"--ulimit", "lots", "not a number"}},
		{name: "--ulimit negative", flags: fixedFlags("--ulimit", "nofile=-5"), mention: []string{"--ulimit", "-5"}},
		{name: "--preserve-fds -1", flags: fixedFlags("--preserve-fds", "-1"), mention: []string{"--preserve-fds"}},
		{name: "--preserve-fds=-1", flags: fixedFlags("--preserve-fds=-1"), mention: []string{"--preserve-fds", "-1"}},
		{name: "--preserve-fds not a number", flags: fixedFlags("--preserve-fds", "two"), mention: []string{"--preserve-fds", "two"}},
		{name: "--preserve-fds too many", flags: fixedFlags("--preserve-fds", "70000"), mention: []string{"--preserve-fds", "70000"}},
		{name: "--preserve-fds 1 with fd 3 closed", flags: fixedFlags("--preserve-fds", "1"), mention: []string{"--preserve-fds", "descriptor 3"}},
		{name: "--preserve-fds 3 with fd 5 closed", flags: fixedFlags("--preserve-fds", "3"), extra: 2, mention: []string{"--preserve-fds", "descriptor 5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkBadInput(t, tc.flags(t), tc.extra, tc.mention)
		})
	}
}

// TestHardenExecBadInput gives sbx exec a bad --preserve-fds: exit 125, one
// line on stderr, and the command does not run.
func TestHardenExecBadInput(t *testing.T) {
	t.Parallel()
	h := newStateHome(t)
	name := h.detach(t, sandboxName("execbad"), "--", "sleep", token())
	// The command would show its descriptors, and leave a mark in the
	// sandbox's /tmp.
	cmd := []string{"--", "sh", "-c", `ls -l /proc/$$/fd; echo ran >>/tmp/ran`}
	for _, tc := range []struct {
		name    string
		flags   []string
		extra   int
		mention []string
	}{
		{"--preserve-fds -1", []string{"--preserve-fds", "-1"}, 0, []string{"--preserve-fds"}},
		{"--preserve-fds=-1", []string{"--preserve-fds=-1"}, 0, []string{"--preserve-fds", "-1"}},
		{"--preserve-fds not a number", []string{"--preserve-fds", "x"}, 0, []string{"--preserve-fds"}},
		{"--preserve-fds too many", []string{"--preserve-fds", "70000"}, 0, []string{"--preserve-fds", "70000"}},
		{"--preserve-fds 1 with fd 3 closed", []string{"--preserve-fds", "1"}, 0, []string{"--preserve-fds", "descriptor 3"}},
		{"--preserve-fds 3 with fd 5 closed", []string{"--preserve-fds", "3"}, 2, []string{"--preserve-fds", "descriptor 5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := h.inv(append(append(append([]string{"exec"}, tc.flags...), name), cmd...)...)
			inv.extra = openNumberedFiles(t, tc.extra)
			expectBadInput(t, inv.run(t), tc.mention...)
		})
	}
	if out := h.sbx(t, "exec", name, "--", "sh", "-c", "cat /tmp/ran 2>/dev/null; true").ok(t); out != "" {
		t.Errorf("%d exec(s) refused for bad input ran the command anyway (the sandbox's /tmp/ran has %q)", len(lines(out)), out)
	}
	if st := h.state(t, name); st.Status != "running" {
		t.Errorf("the sandbox did not survive the bad execs: %+v", st)
	}
}

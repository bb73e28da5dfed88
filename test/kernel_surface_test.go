package test

// Less kernel to attack (issues #20 and #11): what a sandbox may not reach
// by default, and the flags that give it back. Nested user namespaces are
// off unless --allow-userns; the seccomp profile refuses what Docker's
// default profile refuses and a sandboxed program does not need, and
// io_uring, AF_VSOCK sockets and fcntl F_SETSIG (--seccomp-allow io_uring
// or vsock gives the first two back). Each refusal is checked next to a
// baseline where the same call works: `unshare -Ur`, and sbx itself
// without the filter.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestKernelSurfaceSyscalls makes each call the profile refuses since
// issues #20 and #11 for real, in sbx (EPERM) and in the baselines (the
// kernel's own answer: ok where the kernel has the feature).
func TestKernelSurfaceSyscalls(t *testing.T) {
	t.Parallel()
	// mustWork are the calls that work in any baseline on the test hosts
	// (Linux 5.12 or newer); the others only must not be refused by
	// anything but the kernel's own checks (no vsock transport, NUMA,
	// io_uring switched off by kernel.io_uring_disabled).
	mustWork := []string{"fcntl_F_SETSIG", "name_to_handle_at", "sysfs", "kcmp", "pidfd_getfd",
		"process_madvise", "get_mempolicy", "set_mempolicy", "mbind", "move_pages"}
	// Before Linux 6.13 the kernel itself refuses process_madvise (even on
	// the caller's own process) without CAP_SYS_NICE in the initial user
	// namespace: EPERM there is the kernel's own answer (seen on 6.1).
	kernelEPERM := []string{"fanotify_init"}
	if !kernelAtLeast(t, 6, 13) {
		mustWork = slices.DeleteFunc(mustWork, func(n string) bool { return n == "process_madvise" })
		kernelEPERM = append(kernelEPERM, "process_madvise")
	}
	ioUring := []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}
	vsock := []string{"socket_vsock", "socketpair_vsock"}
	others := []string{"fanotify_init", "migrate_pages"}
	all := slices.Concat(mustWork, ioUring, vsock, others)
	if !slices.Contains(mustWork, "process_madvise") {
		all = append(all, "process_madvise")
	}
	if v := hostSysctl("kernel.io_uring_disabled"); v == "" || v == "0" {
		mustWork = append(mustWork, "io_uring_setup", "io_uring_enter")
	} else {
		t.Logf("this host's kernel.io_uring_disabled=%s: io_uring is only checked to be refused by sbx", v)
	}
	refused := func(v string) bool { return v == "EPERM" || v == "ENOSYS" }
	checkBaseline := func(t *testing.T, out string) {
		t.Helper()
		for _, name := range all {
			v := lineValue(t, out, name)
			if slices.Contains(mustWork, name) && v != "ok" || refused(v) && !slices.Contains(kernelEPERM, name) {
				t.Errorf("%s: %s in the baseline, want it to work (or the kernel's own answer):\n%s", name, v, out)
			}
		}
	}
	args := append([]string{"syscalls"}, all...)
	t.Run("sbx", func(t *testing.T) {
		t.Parallel()
		out := sbx(t, append([]string{"run"}, toolArgs(t, "escape", args...)...)...).ok(t)
		for _, name := range all {
			wantLines(t, out, name+" EPERM")
		}
	})
	t.Run("sbx --uid 0", func(t *testing.T) {
		t.Parallel()
		out := sbx(t, append([]string{"run", "--uid", "0"}, toolArgs(t, "escape", args...)...)...).ok(t)
		for _, name := range all {
			wantLines(t, out, name+" EPERM")
		}
	})
	// --seccomp-allow gives back what it names, and nothing else.
	for _, tc := range []struct {
		allow string
		back  []string
	}{
		{"io_uring", ioUring},
		{"vsock", vsock},
		{"vsock,io_uring", slices.Concat(ioUring, vsock)},
	} {
		t.Run("sbx --seccomp-allow "+tc.allow, func(t *testing.T) {
			t.Parallel()
			out := sbx(t, append([]string{"run", "--seccomp-allow", tc.allow}, toolArgs(t, "escape", args...)...)...).ok(t)
			for _, name := range all {
				v := lineValue(t, out, name)
				if slices.Contains(tc.back, name) {
					if refused(v) || slices.Contains(mustWork, name) && v != "ok" {
						t.Errorf("%s: %s with --seccomp-allow %s, want it allowed:\n%s", name, v, tc.allow, out)
					}
				} else if v != "EPERM" {
					t.Errorf("%s: %s with --seccomp-allow %s, want EPERM:\n%s", name, v, tc.allow, out)
				}
			}
		})
	}
	t.Run("baseline unshare -Ur", func(t *testing.T) {
		t.Parallel()
		checkBaseline(t, runBaseline(t, baselineCommand(t, unshareRoot, args...), "", nil).ok(t))
	})
	t.Run("baseline sbx --seccomp unconfined", func(t *testing.T) {
		t.Parallel()
		checkBaseline(t, sbx(t, append([]string{"run", "--seccomp", "unconfined"}, toolArgs(t, "escape", args...)...)...).ok(t))
	})
}

// TestKernelSurfaceSeccompAllowExec: sbx exec keeps what --seccomp-allow
// gave the sandbox, and only that.
func TestKernelSurfaceSeccompAllowExec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flags []string
		want  []string
	}{
		{nil, []string{"socket_vsock EPERM", "io_uring_enter EPERM"}},
		{[]string{"--seccomp-allow", "io_uring"}, []string{"socket_vsock EPERM"}},
	} {
		h := newStateHome(t)
		name := h.detach(t, sandboxName("allow"), append(tc.flags, "--", "sleep", token())...)
		out := sbxExecTool(t, h, nil, name, "escape", "syscalls", "socket_vsock", "io_uring_enter").ok(t)
		wantLines(t, out, tc.want...)
		if len(tc.flags) > 0 && lineValue(t, out, "io_uring_enter") == "EPERM" {
			t.Errorf("sbx exec into a sandbox started with %v: io_uring_enter refused:\n%s", tc.flags, out)
		}
	}
}

// TestKernelSurfaceNestedUnshare is issue #20's example: `unshare -Urn`
// inside a sandbox held every capability over a new network namespace
// (nf_tables and friends). By default it is refused; with --allow-userns,
// and in the baseline, it gets them.
func TestKernelSurfaceNestedUnshare(t *testing.T) {
	t.Parallel()
	requireTool(t, "unshare", "install util-linux")
	script := `grep CapEff /proc/self/status`
	full := func(t *testing.T, out string) {
		t.Helper()
		v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "CapEff:"))
		if strings.Trim(v, "0") == "" || !strings.HasSuffix(v, "ffffffff") {
			t.Errorf("want every capability in the nested namespaces, got %q", out)
		}
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{{"default", nil}, {"disable-userns (no-op)", []string{"--disable-userns"}}, {"cap-add ALL", []string{"--uid", "0", "--cap-add", "ALL"}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, cmd := range [][]string{{"unshare", "-U", "true"}, {"unshare", "-Urn", "sh", "-c", script}} {
				r := sbx(t, append(append(append([]string{"run"}, tc.flags...), "--"), cmd...)...)
				if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
					t.Errorf("%v: want it refused with EPERM:\n%s", cmd, r)
				}
			}
		})
	}
	t.Run("allow-userns", func(t *testing.T) {
		t.Parallel()
		sbx(t, "run", "--allow-userns", "--", "unshare", "-U", "true").ok(t)
		full(t, sbx(t, "run", "--allow-userns", "--", "unshare", "-Urn", "sh", "-c", script).ok(t))
	})
	t.Run("baseline", func(t *testing.T) {
		t.Parallel()
		if v := hostSysctl("user.max_user_namespaces"); v == "0" || v == "1" {
			t.Skipf("this host's user.max_user_namespaces=%s leaves no room for a nested namespace", v)
		}
		full(t, runBaseline(t, []string{"unshare", "-Ur", "unshare", "-Urn", "sh", "-c", script}, "", nil).ok(t))
	})
}

// TestKernelSurfaceMaxUserNamespaces: the Go init sets the sandbox's own
// user.max_user_namespaces to 0, unless --allow-userns; without the
// filter, that alone refuses a nested user namespace (ENOSPC).
func TestKernelSurfaceMaxUserNamespaces(t *testing.T) {
	t.Parallel()
	const knob = "/proc/sys/user/max_user_namespaces"
	if out := sbx(t, "run", "--", "cat", knob).ok(t); out != "0\n" {
		t.Errorf("default: %s is %q, want 0", knob, out)
	}
	if out := sbx(t, "run", "--allow-userns", "--", "cat", knob).ok(t); out == "0\n" {
		t.Errorf("--allow-userns: %s is 0", knob)
	}
	r := sbx(t, "run", "--seccomp", "unconfined", "--", "unshare", "-U", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "No space left on device") {
		t.Errorf("--seccomp unconfined: want unshare -U refused with ENOSPC:\n%s", r)
	}
}

// TestKernelSurfaceSetnsUserns: setns(2) into a user namespace. By default
// the filter refuses setns (EPERM; the kernel itself answers EINVAL for the
// sandbox's own namespace, and a sandbox has no other to join: it cannot
// make one, and an ancestor's needs capabilities over it). With
// --allow-userns a process joins a user namespace another one made, as in
// the baseline. nsenter is single-threaded, as setns into a user namespace
// asks.
func TestKernelSurfaceSetnsUserns(t *testing.T) {
	t.Parallel()
	requireTool(t, "nsenter", "install util-linux")
	own := `nsenter --user=/proc/self/ns/user --preserve-credentials true 2>&1; echo "exit $?"`
	if out := sbx(t, "run", "--", "sh", "-c", own).ok(t); !strings.Contains(out, "Operation not permitted") {
		t.Errorf("default: want setns into a user namespace refused with EPERM, got:\n%s", out)
	}
	if out := sbx(t, "run", "--seccomp", "unconfined", "--", "sh", "-c", own).ok(t); !strings.Contains(out, "Invalid argument") {
		t.Errorf("--seccomp unconfined: want the kernel's own EINVAL (its own namespace), got:\n%s", out)
	}
	// A nested user namespace (a sleeping process in it), joined by
	// another process.
	join := `unshare -U sleep 30 & pid=$!
i=0; while [ "$(readlink /proc/$pid/ns/user)" = "$(readlink /proc/self/ns/user)" ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done
nsenter --user=/proc/$pid/ns/user --preserve-credentials sh -c 'readlink /proc/self/ns/user' >joined 2>&1; echo "exit $?"
readlink /proc/$pid/ns/user; cat joined; kill $pid`
	check := func(t *testing.T, out string) {
		t.Helper()
		l := lines(out)
		if len(l) != 3 || l[0] != "exit 0" || l[1] != l[2] {
			t.Errorf("want nsenter to join the nested user namespace, got:\n%s", out)
		}
	}
	t.Run("allow-userns", func(t *testing.T) {
		t.Parallel()
		check(t, sbx(t, "run", "--allow-userns", "--", "sh", "-c", join).ok(t))
	})
	t.Run("baseline", func(t *testing.T) {
		t.Parallel()
		check(t, runBaseline(t, []string{"unshare", "-Ur", "sh", "-c", join}, "", nil).ok(t))
	})
}

// TestKernelSurfaceSetsig is the F_SETSIG attack: a host process owns the
// read end of a pipe it shares with the sandbox and asked for SIGIO on it
// (which it ignores). From inside, fcntl(F_SETSIG, SIGKILL) and one write
// would have the kernel kill it; sbx refuses F_SETSIG. F_SETOWN cannot
// point the signal at another host process: the sandbox names only pids of
// its own PID namespace.
func TestKernelSurfaceSetsig(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	victim := func(t *testing.T, command ...string) (string, *os.ProcessState) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, self, append([]string{"sigio-victim"}, command...)...)
		cmd.Env, cmd.Dir, cmd.WaitDelay = baselineEnv(), testDir(t), waitDelay
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		if ctx.Err() != nil || cmd.ProcessState == nil {
			t.Fatalf("the victim did not end: %v\n%s", ctx.Err(), out.String())
		}
		return out.String(), cmd.ProcessState
	}
	t.Run("sbx", func(t *testing.T) {
		t.Parallel()
		argv := append([]string{sbxBinary(t), "run", "--preserve-fds", "2"}, toolArgs(t, "escape", "setsig", "3", "4")...)
		out, st := victim(t, argv...)
		wantLines(t, out, "F_SETSIG EPERM", "write ok", "victim alive")
		if !st.Success() {
			t.Errorf("the victim ended with %v:\n%s", st, out)
		}
	})
	t.Run("baseline", func(t *testing.T) {
		t.Parallel()
		out, st := victim(t, baselineCommand(t, unshareRoot, "setsig", "3", "4")...)
		ws := st.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL || strings.Contains(out, "victim alive") {
			t.Errorf("want the victim killed by SIGKILL, got %v:\n%s", st, out)
		}
	})
}

// TestKernelSurfaceBadInput: --seccomp-allow with a name it does not know,
// or with a profile other than the built-in one: exit 125, one line.
func TestKernelSurfaceBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		flags   []string
		mention []string
	}{
		{"unknown name", []string{"--seccomp-allow", "iouring"}, []string{"--seccomp-allow", `"iouring"`, "io_uring, vsock"}},
		{"one bad name in a list", []string{"--seccomp-allow", "vsock,ptrace"}, []string{`"ptrace"`, "io_uring, vsock"}},
		{"empty name in a list", []string{"--seccomp-allow", "io_uring,,vsock"}, []string{`""`, "io_uring, vsock"}},
		{"with --seccomp unconfined", []string{"--seccomp-allow", "io_uring", "--seccomp", "unconfined"}, []string{"--seccomp-allow", "built-in"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkBadInput(t, tc.flags, 0, tc.mention)
		})
	}
}

// kernelAtLeast tells whether the running kernel is major.minor or newer.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release[:], err)
	}
	return ma > major || ma == major && mi >= minor
}

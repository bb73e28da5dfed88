//go:build ignore

// vm-systemd-check drives cgroupv2's client of the user's systemd manager
// (cgroupv2/systemd.go) against a real one, as an ordinary user whose own
// cgroup is not its own (a desktop's session-N.scope), the way the
// systemd VM of scripts/vm-test.sh runs its tests. For each way to reach
// the manager (the session bus at $DBUS_SESSION_BUS_ADDRESS, the bus at
// $XDG_RUNTIME_DIR/bus, the manager's private socket) it starts a scope
// around a sleeping process, checks that the scope's cgroup is the user's
// and holds the process, moves a second process into a sub-cgroup made in
// it (Attach), stops the scope and waits for its cgroup to go; then it
// checks the errors. It prints what it did, with times, and exits 1 on the
// first failure.
//
//	go build -o /somewhere/vm-systemd-check scripts/vm-systemd-check.go
//	SBX_VM_INIT=systemd SBX_VM_CMD=/somewhere/vm-systemd-check bash scripts/vm-test.sh
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sbx-sandbox/sbx/cgroupv2"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// cgroupOf returns the cgroup v2 path of pid.
func cgroupOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		fail("%v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	fail("no cgroup v2 line in /proc/%d/cgroup", pid)
	return ""
}

func sleeper() *exec.Cmd {
	c := exec.Command("sleep", "1000")
	if err := c.Start(); err != nil {
		fail("%v", err)
	}
	return c
}

// cycle runs one scope's life through a fresh connection.
func cycle(how string) {
	fmt.Printf("== %s (DBUS_SESSION_BUS_ADDRESS=%q XDG_RUNTIME_DIR=%q)\n", how,
		os.Getenv("DBUS_SESSION_BUS_ADDRESS"), os.Getenv("XDG_RUNTIME_DIR"))
	if !cgroupv2.UserManagerReachable() {
		fail("UserManagerReachable is false")
	}
	t := time.Now()
	m, err := cgroupv2.DialUserManager()
	if err != nil {
		fail("DialUserManager: %v", err)
	}
	defer m.Close()
	fmt.Printf("dialled in %v\n", time.Since(t))

	first := sleeper()
	unit := fmt.Sprintf("sbx-check-%d.scope", first.Process.Pid)
	t = time.Now()
	cg, err := m.StartScope(unit, "sbx: vm-systemd-check", first.Process.Pid)
	if err != nil {
		fail("StartScope: %v", err)
	}
	fmt.Printf("StartScope %s in %v: %s\n", unit, time.Since(t), cg)
	dir := filepath.Join("/sys/fs/cgroup", cg)
	fi, err := os.Stat(dir)
	if err != nil {
		fail("%v", err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
		fail("%s is owned by uid %d, not by %d", dir, uid, os.Getuid())
	}
	for _, f := range []string{"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := syscall.Access(filepath.Join(dir, f), 2); err != nil {
			fail("%s/%s not writable: %v", dir, f, err)
		}
	}
	if got := cgroupOf(first.Process.Pid); got != cg {
		fail("pid %d is in %s, not in %s", first.Process.Pid, got, cg)
	}
	controllers, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	fmt.Printf("scope owned by us, holds pid %d; its controllers: %s\n", first.Process.Pid, strings.TrimSpace(string(controllers)))

	// The second process stays in our own cgroup, the root's: only the
	// managers can move it into the scope.
	second := sleeper()
	if err := os.Mkdir(filepath.Join(dir, "sandbox"), 0o755); err != nil {
		fail("%v", err)
	}
	err = os.WriteFile(filepath.Join(dir, "sandbox", "cgroup.procs"), []byte(strconv.Itoa(second.Process.Pid)), 0)
	fmt.Printf("moving pid %d ourselves: %v (expected: permission denied)\n", second.Process.Pid, err)
	t = time.Now()
	if err := m.Attach(unit, "/sandbox", second.Process.Pid); err != nil {
		fail("Attach: %v", err)
	}
	fmt.Printf("Attach in %v\n", time.Since(t))
	if got, want := cgroupOf(second.Process.Pid), cg+"/sandbox"; got != want {
		fail("pid %d is in %s, not in %s", second.Process.Pid, got, want)
	}
	fmt.Printf("pid %d is in %s/sandbox\n", second.Process.Pid, cg)

	t = time.Now()
	if err := m.StopUnit(unit); err != nil {
		fail("StopUnit: %v", err)
	}
	fmt.Printf("StopUnit returned in %v\n", time.Since(t))
	for _, c := range []*exec.Cmd{first, second} {
		err := c.Wait()
		fmt.Printf("pid %d ended: %v\n", c.Process.Pid, err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			break
		}
		if i == 200 {
			fail("%s still there 10 s after StopUnit", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("scope gone %v after StopUnit\n", time.Since(t))
	if err := m.StopUnit(unit); err != nil {
		fail("StopUnit of a unit gone: %v", err)
	}
}

func main() {
	fmt.Printf("uid %d in %s\n", os.Getuid(), cgroupOf(os.Getpid()))
	run := os.Getenv("XDG_RUNTIME_DIR")
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if run == "" || bus == "" {
		fail("XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS must be set")
	}

	cycle("session bus")

	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	cycle("$XDG_RUNTIME_DIR/bus")

	// A runtime directory with the manager's private socket, no bus.
	tmp, err := os.MkdirTemp("", "sbx-check")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Symlink(filepath.Join(run, "systemd"), filepath.Join(tmp, "systemd")); err != nil {
		fail("%v", err)
	}
	os.Setenv("XDG_RUNTIME_DIR", tmp)
	cycle("private socket")

	fmt.Println("== errors")
	os.Setenv("XDG_RUNTIME_DIR", run)
	m, err := cgroupv2.DialUserManager()
	if err != nil {
		fail("DialUserManager: %v", err)
	}
	_, err = m.StartScope("sbx-check-init.scope", "sbx: vm-systemd-check", 1)
	fmt.Printf("StartScope around pid 1: %v\n", err)
	if err == nil {
		fail("StartScope around pid 1 succeeded")
	}
	err = m.Attach("sbx-check-none.scope", "/sandbox", os.Getpid())
	fmt.Printf("Attach to a unit that does not exist: %v\n", err)
	if err == nil {
		fail("Attach to a unit that does not exist succeeded")
	}
	m.Close()
	os.Setenv("XDG_RUNTIME_DIR", "/nonexistent")
	os.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	if cgroupv2.UserManagerReachable() {
		fail("UserManagerReachable with no socket")
	}
	_, err = cgroupv2.DialUserManager()
	fmt.Printf("DialUserManager with no socket: %v\n", err)
	if err == nil {
		fail("DialUserManager with no socket succeeded")
	}
	fmt.Println("OK")
}

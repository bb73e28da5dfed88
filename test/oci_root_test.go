package test

import (
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestOCIDevicesAsRoot: a container of root with CAP_MKNOD (containerd's
// default set has it) must not reach a host device (the test uses 1:7,
// /dev/full, which every host has; a disk would be the prize) through a
// node it makes, in /dev or in a writable place of its root, nor through a node
// its image ships: runc stops that with a device cgroup, sbx with nodev on
// every mount but the binds of device nodes, which work (the baseline: a
// node bound in is usable). Root on the host is what makes the attack
// possible at all (a user namespace never lets a node be used), hence the
// name: make test runs it as root.
func TestOCIDevicesAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root on the host (make test runs it as root)")
	}
	e := newOCIEnv(t)
	b := e.bundle(t, `
		for n in /dev/l0 /tmp/l0 /shipped; do
			[ -e $n ] || mknod $n c 1 7 || echo "mknod $n failed"
			if (exec 3<$n) 2>/dev/null; then echo "opened $n"; else echo "refused $n"; fi
		done
		if (exec 3</dev/fullbound) 2>/dev/null; then echo "opened bound"; fi`)
	b.setNamespace("user", "", true)
	b.spec.Linux.UIDMappings, b.spec.Linux.GIDMappings = nil, nil
	b.spec.Process.Capabilities.Bounding = append(b.spec.Process.Capabilities.Bounding, "CAP_MKNOD")
	b.spec.Process.Capabilities.Effective = append(b.spec.Process.Capabilities.Effective, "CAP_MKNOD")
	b.spec.Process.Capabilities.Permitted = append(b.spec.Process.Capabilities.Permitted, "CAP_MKNOD")
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/dev/fullbound", Type: "bind", Source: "/dev/full",
		Options: []string{"bind", "rw"}})
	// A node the image ships, as a rootful image may.
	if err := unix.Mknod(b.rootfs+"/shipped", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 7))); err != nil {
		t.Fatal(err)
	}
	r := b.runAttached(t, "devices")
	out := r.stdout
	for _, n := range []string{"/dev/l0", "/tmp/l0", "/shipped"} {
		if strings.Contains(out, "opened "+n) {
			t.Errorf("the container opened a host device (1:7, /dev/full: any other would do) through %s:\n%s", n, r)
		}
		if !strings.Contains(out, "refused "+n) {
			t.Errorf("no attempt on %s:\n%s", n, r)
		}
	}
	if !strings.Contains(out, "opened bound") {
		t.Errorf("a device node bound in by the config is not usable:\n%s", r)
	}
}

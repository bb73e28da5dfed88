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
)

// The OCI section: sbx as podman's OCI runtime (podman --runtime), next to
// runc and crun, on the same image, in podman storage of its own.

// ociImage is the name podman imports the busybox image as.
const ociImage = "localhost/sbx-bench-busybox"

// podmanEnv is a private podman: its storage, run root, temporary files
// and XDG directories under dir, so that the user's own containers,
// images and configuration play no part and the vfs storage (files owned
// by subordinate ids) goes away with the section. dir is in /tmp, not in
// bench's work directory: podman refuses a run root longer than 50
// characters (its sockets' paths), which the latter can exceed.
type podmanEnv struct {
	podman string
	dir    string
	// global flags, before the command
	global []string
	// saved environment, restored by close
	saved map[string]*string
}

func (p *podmanEnv) cmd(args ...string) []string {
	return append(append([]string{p.podman}, p.global...), args...)
}

// run runs a podman command to completion, returning the first line of its
// output in the error.
func (p *podmanEnv) run(args ...string) error {
	argv := p.cmd(args...)
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = "/"
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("podman %s: %v: %s", args[0], err, lastError(string(out)))
	}
	return nil
}

// lastError picks the line podman states its failure on ("Error: ..."),
// or the first line of the output.
func lastError(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "Error: ") {
			return strings.TrimPrefix(lines[i], "Error: ")
		}
	}
	return firstLine(out)
}

// newPodman lays out the private podman under dir and points the
// environment of bench (which the measured commands inherit) at it.
func newPodman(podman, dir string) (*podmanEnv, error) {
	p := &podmanEnv{podman: podman, dir: dir, saved: map[string]*string{}}
	env := map[string]string{
		"XDG_RUNTIME_DIR": filepath.Join(dir, "xdg-run"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "xdg-config"),
		"XDG_DATA_HOME":   filepath.Join(dir, "xdg-data"),
	}
	for _, d := range []string{"root", "runroot", "tmp", "xdg-run", "xdg-config", "xdg-data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	for k, v := range env {
		if old, ok := os.LookupEnv(k); ok {
			p.saved[k] = &old
		} else {
			p.saved[k] = nil
		}
		os.Setenv(k, v)
	}
	p.global = []string{
		"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--tmpdir", filepath.Join(dir, "tmp"),
	}
	return p, nil
}

// close removes the containers, the storage (with podman unshare: the
// vfs layers hold files of subordinate ids), ends the pause process this
// podman started to keep its user namespace, and restores the
// environment.
func (p *podmanEnv) close() {
	p.waitStragglers(10 * time.Second)
	p.run("rm", "-af")
	if err := p.run("unshare", "rm", "-rf", filepath.Join(p.dir, "root"), filepath.Join(p.dir, "runroot")); err != nil {
		fmt.Printf("Cleaning up the podman storage: %v\n\n", err)
	}
	if data, err := os.ReadFile(filepath.Join(p.dir, "tmp", "pause.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "catatonit" || strings.HasPrefix(string(comm), "podman") {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	os.RemoveAll(p.dir)
	for k, v := range p.saved {
		if v == nil {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, *v)
		}
	}
}

// waitStragglers waits (up to limit) for the processes that name dir on
// their command line to end: a conmon and the podman container cleanup it
// runs outlive podman run --rm by a moment, and would make the storage
// anew once it is gone.
func (p *podmanEnv) waitStragglers(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if len(p.stragglers()) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("Still running %s after the runs: %s\n\n", limit, strings.Join(p.stragglers(), ", "))
}

func (p *podmanEnv) stragglers() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		argv, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(argv), p.dir) {
			comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
			out = append(out, e.Name()+" "+strings.TrimSpace(string(comm)))
		}
	}
	return out
}

// image imports a busybox image built from the static busybox of the host
// (no registry needed): /bin/busybox with its applets true, sh and sleep,
// and an /etc/passwd and /etc/group for root.
func (p *podmanEnv) image() error {
	root, err := busyboxRoot(filepath.Join(p.dir, "image-rootfs"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\n"), 0o644); err != nil {
		return err
	}
	tarball := filepath.Join(p.dir, "image.tar")
	if out, err := exec.Command("tar", "-C", root, "--owner=0", "--group=0", "--numeric-owner", "-cf", tarball, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, firstLine(string(out)))
	}
	defer os.Remove(tarball)
	defer os.RemoveAll(root)
	return p.run("import", tarball, ociImage)
}

// oci times `podman run --rm IMAGE true` with sbx, runc and crun as the
// OCI runtime: with --network none (the runtime's share, not that of the
// network helper), and with podman's default network.
func (b *bench) oci() {
	const title = "OCI runtime: `podman --runtime R run --rm IMAGE true`"
	podman, noPodman := lookup("podman", "podman")
	if noPodman != "" {
		fmt.Printf("### %s\n\n%s\n\n", title, noPodman)
		return
	}
	dir, err := os.MkdirTemp("/tmp", "sbx-bench-oci-")
	if err != nil {
		fmt.Printf("### %s\n\n%v\n\n", title, err)
		return
	}
	p, err := newPodman(podman, dir)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Printf("### %s\n\n%v\n\n", title, err)
		return
	}
	defer p.close()
	if err := p.image(); err != nil {
		fmt.Printf("### %s\n\nThe busybox image: %v\n\n", title, err)
		return
	}
	runc, noRunc := lookup("runc", "runc")
	crun, noCrun := lookup("crun", "crun")
	runtimes := []struct {
		name, path, absent string
	}{{"sbx", b.sbx, ""}, {"runc", runc, noRunc}, {"crun", crun, noCrun}}
	var cmds []command
	for _, network := range []string{"none", ""} {
		for _, r := range runtimes {
			args := []string{"--runtime", r.path, "run", "--rm", "--pull", "never"}
			label := "podman --runtime " + r.name + " run --rm"
			if network != "" {
				args = append(args, "--network", network)
				label += " --network " + network
			}
			label += " IMAGE true"
			cmds = append(cmds, command{label: label, argv: p.cmd(append(args, ociImage, "true")...), absent: r.absent})
		}
	}
	// One run of each first: a runtime that fails here (crun on a cgroup
	// v1 or hybrid host) is left out with podman's reason.
	for i := range cmds {
		if cmds[i].absent != "" {
			continue
		}
		c := exec.Command(cmds[i].argv[0], cmds[i].argv[1:]...)
		c.Dir = "/"
		if out, err := c.CombinedOutput(); err != nil {
			cmds[i].absent = fmt.Sprintf("fails here: %v: %s", err, lastError(string(out)))
		}
	}
	meds := b.interleaveN(cmds, max(5, b.rounds/4))
	n := len(runtimes)
	table(title+", --network none", cmds[:n], meds[:n])
	table(title+", podman's default network", cmds[n:], meds[n:])
	fmt.Printf("%d rounds; podman's storage: vfs, private to the bench; its cgroup manager: cgroupfs.\n\n", max(5, b.rounds/4))
	b.podmanSbx, b.podmanRunc = meds[0], meds[1]
}

package sandbox

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sbx-sandbox/sbx/plan"
)

// namespacedSysctls are the sysctls that belong to a namespace, not to the
// host, by key prefix, with the namespace that must be the sandbox's own
// for it to be set. runc and podman also allow kernel.shm*, kernel.msg*,
// kernel.sem, fs.mqueue.* (IPC) and kernel.domainname (UTS), but from a
// user namespace the kernel refuses those writes (EACCES, seen on 6.18):
// they are refused here, with one line, before anything starts.
var namespacedSysctls = []struct {
	prefix string
	ns     uint32
}{
	{"net.", unix.CLONE_NEWNET},
}

// ipcUTSSysctls are namespaced, but not writable from a user namespace.
var ipcUTSSysctls = []string{"kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.", "kernel.domainname"}

// defaultNetSysctls are set in a network namespace of the sandbox's own,
// as docker sets them, unless --sysctl sets them: the command, an
// ordinary uid in there, may listen on any port (a server on port 80,
// published with -p).
var defaultNetSysctls = []string{"net.ipv4.ip_unprivileged_port_start=0"}

// planSysctls checks --sysctl KEY=VALUE settings against the namespaces of
// p (each must belong to one the sandbox has of its own: anything else
// would change the host, or another sandbox) and returns them with the
// defaults of a network namespace of its own. An OCI config (ociConfig)
// gets no defaults, and may set IPC and UTS sysctls: as root of the host
// (containerd) the kernel lets it.
func planSysctls(p *plan.Plan, settings []string, ociConfig bool) ([]string, error) {
	var out []string
	set := map[string]bool{}
	for _, s := range settings {
		key, value, ok := strings.Cut(s, "=")
		key = strings.ReplaceAll(strings.TrimSpace(key), "/", ".")
		if !ok || !validSysctlKey(key) {
			return nil, fmt.Errorf("--sysctl %q: want KEY=VALUE, e.g. --sysctl net.ipv4.ping_group_range=\"0 2147483647\"", s)
		}
		ns, known := sysctlNamespace(key)
		switch {
		case !known && ociConfig && strings.HasPrefix(key, "kernel.domainname"):
			ns, known = unix.CLONE_NEWUTS, true
		case !known && ociConfig && slices.ContainsFunc(ipcUTSSysctls, func(p string) bool { return strings.HasPrefix(key, p) }):
			ns, known = unix.CLONE_NEWIPC, true
		}
		switch {
		case !known && slices.ContainsFunc(ipcUTSSysctls, func(p string) bool { return strings.HasPrefix(key, p) }):
			return nil, fmt.Errorf("--sysctl %s: the kernel lets no user namespace set IPC and UTS sysctls (only net.* can be set in a rootless sandbox)", key)
		case !known:
			return nil, fmt.Errorf("--sysctl %s: not a namespaced sysctl (it would change the host): sbx sets net.* sysctls only", key)
		case p.Stages.CloneFlags&ns == 0:
			return nil, fmt.Errorf("--sysctl %s: the sandbox shares that namespace (with the host, or another sandbox: --net host or sandbox:NAME), so the setting would change it too", key)
		}
		set[key] = true
		out = append(out, key+"="+value)
	}
	if p.Stages.CloneFlags&unix.CLONE_NEWNET != 0 && !ociConfig {
		for _, d := range defaultNetSysctls {
			if key, _, _ := strings.Cut(d, "="); !set[key] {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// sysctlNamespace returns the namespace key belongs to.
func sysctlNamespace(key string) (uint32, bool) {
	for _, n := range namespacedSysctls {
		if strings.HasPrefix(key, n.prefix) {
			return n.ns, true
		}
	}
	return 0, false
}

// validSysctlKey reports whether key is dotted words that name a file
// under /proc/sys (no "..", no empty part).
func validSysctlKey(key string) bool {
	if key == "" {
		return false
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" {
			return false
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

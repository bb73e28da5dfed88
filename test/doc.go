// Package test holds the integration tests of sbx.
//
// The tests run the built sbx binary, as an unprivileged user, and check
// what a sandboxed command sees and how sbx behaves from the outside: id
// maps, exit codes, signals, the filesystem view, /proc, /dev, the network,
// the environment and file descriptors.
//
// Run them with `make test`. As root, scripts/test.sh installs what they
// need, creates the test user sbxtest with subordinate id ranges, and runs
// the compiled test binary as that user. Run directly as root, every test
// fails on purpose: sbx is meant for ordinary users, and root would hide
// permission bugs. The exceptions need root on the host and say so in
// their names (^TestOCI.*AsRoot: containerd runs its runtime as root): the
// run as the test user leaves them out, and scripts/test.sh runs them as
// root afterwards, from a directory of root's own.
//
// The TestOCI tests run sbx as the OCI runtime of the host's real clients:
// rootless podman as the test user, with a storage and configuration
// private to the run, and a private containerd as root, with its runc
// shim pointed at the runtime; both on a busybox image made from the
// host's busybox-static (no registry is reachable). The VMs of
// scripts/vm-test.sh leave them out.
//
// Environment:
//
//   - SBX_BINARY: the sbx binary to test (default: ../bin/sbx, relative to
//     this package's directory, which is where `go test` runs).
//   - SBX_OCI_RUNTIME: the OCI runtime the TestOCI tests hand to podman
//     and containerd instead of sbx (e.g. /usr/sbin/runc, to check the
//     tests themselves).
//   - SBX_TEST_DIR: where the tests create their working directories
//     (default: /var/tmp). It must not be under /tmp, which sbx replaces
//     with an empty tmpfs inside the sandbox.
//   - SBX_TEST_CGROUP: the cgroup backend sbx must choose here (none,
//     cgroupfs, systemd); scripts/test.sh sets it.
//   - SBX_TEST_DNS: the address of the tests' own DNS server
//     (test/dnsstub), the first name server of /etc/resolv.conf, which
//     the network helpers' DNS forwarder asks; scripts/test.sh starts it
//     as root and runs the tests in a private mount namespace whose
//     resolv.conf names it. TestNetDNS fails without it.
//
// The network tests use the real pasta and slirp4netns and talk only to
// addresses of this machine: 127.0.0.0/8, the host's own, the sandboxes'.
package test

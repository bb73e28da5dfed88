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
// permission bugs.
//
// Environment:
//
//   - SBX_BINARY: the sbx binary to test (default: ../bin/sbx, relative to
//     this package's directory, which is where `go test` runs).
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

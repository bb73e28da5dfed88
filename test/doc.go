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
package test

#!/usr/bin/env bash
# Runs every test of sbx: gofmt, go vet, the unit tests, and the integration
# tests in ./test, which must run as an unprivileged user.
#
# As root it first sets up what the tests need, idempotently:
#   - the Debian packages uidmap (newuidmap, newgidmap), busybox-static,
#     passt (pasta) and slirp4netns, podman, conmon and containerd (the
#     tests of sbx as an OCI runtime, TestOCI*), and what building sbx
#     needs (scripts/build-deps.sh), if missing;
#   - the user $SBX_TEST_USER (default sbxtest), with ranges in /etc/subuid
#     and /etc/subgid;
#   - /dev/net/tun usable by every user (mode 0666, as Debian's udev rules
#     make it), which pasta and slirp4netns need;
# then runs the unit tests as root and the integration tests as that user,
# from a fresh directory it owns, with a clean environment and no file
# descriptor but 0, 1 and 2, in a private mount namespace whose
# /etc/resolv.conf names a DNS stub of the tests' own (test/dnsstub, on
# 127.0.0.153:53, stopped afterwards; SBX_TEST_DNS tells the tests its
# address): the upstream of the DNS forwarder of sbx's user-mode networks.
# Then, as root, from a directory of root's own, the few integration tests
# that need root on the host, named so (^TestOCI.*AsRoot: containerd runs
# its runtime as root; see run_root_integration in scripts/lib.sh), which
# the run as the test user leaves out.
#
# As any other user it checks the same prerequisites, fails naming the fix
# when one is missing, and runs everything as that user; the DNS stub needs
# root (port 53), so the test of the DNS forwarder fails, naming
# `sudo make test`, unless SBX_TEST_DNS names a stub of the user's own;
# the tests that need root are not run.
#
# Set SBX_KEEP=1 to keep the scratch directory of the integration tests,
# SBX_TEST_RUN=REGEXP to run only the integration tests it matches, and
# SBX_TEST_SKIP=REGEXP to leave out those it matches (by default, the tests
# the cgroup backend below cannot serve: TestLimits* without one,
# TestSystemd* without a systemd user manager; see cgroup_tests_skipped in
# scripts/lib.sh). SBX_OCI_RUNTIME=PATH makes the TestOCI tests hand podman
# and containerd that OCI runtime instead of sbx (e.g. /usr/sbin/runc, to
# check the tests themselves).
#
# SBX_TEST_CGROUP tells the integration tests which cgroup backend sbx must
# choose (none, cgroupfs or systemd); set, it is passed on as it is.
# Otherwise: on a host without the pure cgroup v2 hierarchy (v1 or hybrid)
# it is none; on a pure cgroup v2 host, as root, the cgroup
# /sys/fs/cgroup/sbx-test-PID is delegated to the test user as
# scripts/vm-test.sh does in its VM (delegate_cgroup in scripts/lib.sh), the
# tests run in its leaf, and it is cgroupfs (the cgroup is removed
# afterwards); as any other user, it is cgroupfs when the user's own cgroup
# is writable (sbx started in a delegated cgroup), else systemd when the
# user's systemd manager has a socket in $XDG_RUNTIME_DIR, else none. Run
# as root, the root's XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS are not
# passed to the test user; as any other user, they are.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=1

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

bash scripts/build-deps.sh
if [ "$(id -u)" -eq 0 ]; then
	install_packages oci
	ensure_user
	ensure_negative_group
	ensure_tun
	ensure_x11_dir
	run_user=$test_user
else
	run_user=$(id -un)
fi
check_prerequisites "$run_user" oci
check_tun "$run_user"
check_x11_dir "$run_user"
if ! as_user "$run_user" unshare --user true </dev/null; then
	die "user $run_user cannot create a user namespace: enable unprivileged user namespaces (\`sudo sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000\`)"
fi

log "gofmt, go vet"
make --no-print-directory vet

log "unit tests"
mapfile -t unit_pkgs < <(go list ./... | grep -v '/test$')
go test "${unit_pkgs[@]}"

log "building bin/sbx and the integration tests"
make --no-print-directory build
work=$(mktemp -d /var/tmp/sbx-test.XXXXXX)
dns_dir=
root_work=
cleanup() {
	stop_dns_stub
	[ -z "${test_cgroup_dir:-}" ] || undelegate_cgroup "$test_cgroup_dir"
	if [ "${SBX_KEEP:-}" = 1 ]; then
		log "kept $work${dns_dir:+, $dns_dir}${root_work:+ and $root_work}"
	else
		rm -rf "$work" ${dns_dir:+"$dns_dir"} ${root_work:+"$root_work"}
	fi
}
trap cleanup EXIT
go test -c -o "$work/integration.test" ./test/
mkdir -p "$work/bin"
install -m 0755 bin/sbx "$work/bin/sbx"
install -m 0644 README.md "$work/README.md"
if [ "$(id -u)" -eq 0 ]; then
	# Root's own directory, out of the test user's reach: root runs the
	# stub from it, and the tests' /etc/resolv.conf is bound from it.
	dns_dir=$(mktemp -d /var/tmp/sbx-dns.XXXXXX)
	chmod 0755 "$dns_dir"
	go build -o "$dns_dir/dnsstub" ./test/dnsstub
	# The tests that need root run from a directory of root's own too.
	root_work=$(mktemp -d /var/tmp/sbx-test-root.XXXXXX)
	mkdir -p "$root_work/bin"
	install -m 0755 "$work/integration.test" "$root_work/integration.test"
	install -m 0755 bin/sbx "$root_work/bin/sbx"
	prepare_root_work "$root_work"
fi

prepare_work "$work" "$run_user"

# The cgroup backend the tests expect (see above).
if [ "$(id -u)" -eq 0 ]; then
	unset XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS
fi
if [ -z "${SBX_TEST_CGROUP:-}" ]; then
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
		SBX_TEST_CGROUP=none
	elif [ "$(id -u)" -eq 0 ]; then
		test_cgroup_dir=/sys/fs/cgroup/sbx-test-$$
		delegate_cgroup "$run_user" "$test_cgroup_dir"
		SBX_TEST_CGROUP=cgroupfs
	else
		own=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
		if [ -w "$own" ] && [ -w "$own/cgroup.procs" ]; then
			SBX_TEST_CGROUP=cgroupfs
		elif [ -n "${XDG_RUNTIME_DIR:-}" ] && { [ -S "$XDG_RUNTIME_DIR/bus" ] || [ -S "$XDG_RUNTIME_DIR/systemd/private" ]; }; then
			SBX_TEST_CGROUP=systemd
		else
			SBX_TEST_CGROUP=none
		fi
	fi
fi
export SBX_TEST_CGROUP

[ -z "$dns_dir" ] || start_dns_stub "$dns_dir/dnsstub" "$dns_dir"
status=0
run_integration "$work" "$run_user" || status=$?
if [ -n "$root_work" ]; then
	run_root_integration "$root_work" || status=$?
else
	log "not run: the integration tests that need root ($root_tests); \`sudo make test\` runs them"
fi
exit "$status"

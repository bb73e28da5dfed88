#!/bin/bash
# The guest side of scripts/vm-test.sh: pid 1 of the VM, started by the
# initramfs (scripts/vm-init.sh) in the host's root filesystem, read-only.
# $1 is the output directory shared with the host (9p): it holds lib.sh,
# guest.env (the variables below), integration.test and sbx; this script
# leaves there integration.log and status (the tests' exit status), then
# powers the VM off. Being pid 1, bash also reaps orphaned processes.
#
# guest.env sets: run_user, cmd (empty: run the integration tests;
# otherwise a command to run as run_user instead), SBX_TEST_RUN,
# SBX_TEST_TIMEOUT, SBX_TEST_TIME_SCALE.
#
# The tests (or cmd) run in a cgroup subtree delegated to run_user,
# /sys/fs/cgroup/sbx-test (see delegate_cgroup in lib.sh), in its leaf
# sbx-test/tests, with SBX_TEST_CGROUP=cgroupfs: the backend they expect
# sbx to choose.
out=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
status=125
finish() {
	echo "$status" >"$out/status"
	sync
	/bin/busybox poweroff -f
}
trap finish EXIT

# shellcheck source=/dev/null
. "$out/guest.env"
# shellcheck source=scripts/lib.sh
. "$out/lib.sh"

log "guest: Linux $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo), up $(cut -d' ' -f1 /proc/uptime) s"

delegate_cgroup "$run_user" /sys/fs/cgroup/sbx-test
export SBX_TEST_CGROUP=cgroupfs
log "/sys/fs/cgroup/sbx-test delegated to $run_user at $(cut -d' ' -f1 /proc/uptime) s"

if [ -n "${cmd:-}" ]; then
	status=0
	run_as_test_user "$run_user" bash -c "$cmd" </dev/null 2>&1 | tee "$out/output.log"
	status=${PIPESTATUS[0]}
	exit
fi

work=$(mktemp -d /var/tmp/sbx-test.XXXXXX)
mkdir -p "$work/bin"
install -m 0755 "$out/sbx" "$work/bin/sbx"
install -m 0755 "$out/integration.test" "$work/integration.test"
prepare_work "$work" "$run_user"
status=0
run_integration "$work" "$run_user" || status=$?
cp "$work/integration.log" "$out/integration.log"

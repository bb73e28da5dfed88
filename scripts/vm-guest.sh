#!/bin/bash
# The guest side of scripts/vm-test.sh, started as root in the host's root
# filesystem: pid 1 of the VM, started by the initramfs
# (scripts/vm-init.sh), or with SBX_VM_INIT=systemd the main process of
# the service sbx-vm.service of the systemd that the initramfs started.
# $1 is the output directory shared with the host (9p): it holds lib.sh,
# guest.env (the variables below), integration.test and sbx; this script
# leaves there integration.log and status (the tests' exit status), then
# powers the VM off. As pid 1, bash also reaps orphaned processes.
#
# Both set up the network the tests need (see setup_network): lo, a
# default route on a dummy interface, /dev/net/tun, the DNS stub.
#
# guest.env sets: run_user, init (busybox or systemd), cmd (empty: run the
# integration tests; otherwise a command to run as run_user instead),
# SBX_TEST_RUN, SBX_TEST_SKIP (when set), SBX_TEST_TIMEOUT, SBX_TEST_TIME_SCALE.
#
# The cgroups the tests (or cmd) run in, and SBX_TEST_CGROUP, the backend
# they expect sbx to choose:
#   busybox  cgroupfs: a subtree delegated to run_user, /sys/fs/cgroup/sbx-test
#            (see delegate_cgroup in lib.sh), the tests in its leaf
#            sbx-test/tests;
#   systemd  systemd: run_user's systemd manager is started
#            (user@UID.service, as for a lingering user) and the tests run
#            from the cgroup of this service, which run_user does not own
#            (as a desktop session's session-N.scope), with
#            XDG_RUNTIME_DIR=/run/user/UID and
#            DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/UID/bus.
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

log "guest: Linux $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo), ${init:-busybox} init, up $(cut -d' ' -f1 /proc/uptime) s"

# start_user_manager USER starts USER's systemd manager and waits (at most
# 60 s) for its bus socket.
start_user_manager() {
	local user=$1 uid i
	uid=$(id -u "$user")
	systemctl start "user@$uid.service" || die "cannot start user@$uid.service (see the console above)"
	for ((i = 0; i < 600; i++)); do
		[ -S "/run/user/$uid/bus" ] && break
		sleep 0.1
	done
	[ -S "/run/user/$uid/bus" ] || die "no session bus /run/user/$uid/bus after 60 s (dbus-user-session installed?)"
	export XDG_RUNTIME_DIR=/run/user/$uid DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus
	log "user manager of $user up at $(cut -d' ' -f1 /proc/uptime) s; tests run from $(cut -d: -f3 /proc/self/cgroup)"
}

# setup_network gives the guest what the network tests need: lo up (the
# busybox init leaves it down); a default route, which pasta derives its
# setup from, on dummy0 (the module dummy, loaded by the initramfs): the
# VM has no network card, so nothing sent there leaves the guest;
# /dev/net/tun usable by the test user (no udev here: devtmpfs makes it
# 0600); and the DNS stub, named by the tests' /etc/resolv.conf.
ip_cmd=ip
have ip || ip_cmd="busybox ip"
setup_network() {
	local ip=$ip_cmd
	$ip link set lo up || die "cannot bring lo up"
	if [ -z "$($ip route show default)" ]; then
		$ip link show dummy0 >/dev/null 2>&1 || $ip link add dummy0 type dummy ||
			die "no interface dummy0 (module dummy not loaded?)"
		$ip link set dummy0 up &&
			$ip addr add 198.51.100.2/24 dev dummy0 &&
			$ip route add default via 198.51.100.1 dev dummy0 ||
			die "cannot give dummy0 an address and the default route"
	fi
	ensure_tun
	mkdir -p /run/sbx-dns
	start_dns_stub "$out/dnsstub" /run/sbx-dns
}

if [ "${init:-busybox}" = systemd ]; then
	start_user_manager "$run_user"
	export SBX_TEST_CGROUP=systemd
else
	delegate_cgroup "$run_user" /sys/fs/cgroup/sbx-test
	export SBX_TEST_CGROUP=cgroupfs
	log "/sys/fs/cgroup/sbx-test delegated to $run_user at $(cut -d' ' -f1 /proc/uptime) s"
fi
setup_network
ensure_x11_dir
log "network: $($ip_cmd -o -4 addr show | awk '{ printf "%s %s, ", $2, $4 }')$($ip_cmd route show default)"

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
install -m 0644 "$out/README.md" "$work/README.md"
prepare_work "$work" "$run_user"
# Leaves out the tests of sbx as an OCI runtime (see default_tests_skipped
# in lib.sh).
sbx_in_vm=1
status=0
run_integration "$work" "$run_user" || status=$?
cp "$work/integration.log" "$out/integration.log"

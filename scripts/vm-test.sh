#!/usr/bin/env bash
# Runs the integration tests of sbx on another kernel, by default Debian
# 12's (the package linux-image-amd64 depends on, 6.1), in a qemu VM (TCG:
# no /dev/kvm needed), as the unprivileged test user, the way
# scripts/test.sh runs them natively (the same code: run_integration in
# scripts/lib.sh).
#
# The kernel package is fetched with `apt-get download` and unpacked into a
# cache, never installed on the host. The VM boots it with a small
# initramfs (busybox-static, the modules that mounting the root needs:
# virtio_pci, 9p, overlay; and tun and dummy, for the network tests) and
# uses the host's root filesystem, read-only over virtio-9p, as its own,
# with tmpfs on /tmp, /var/tmp, /run, /root and the test user's home; so
# the guest has the host's users, /etc/subuid, setuid newuidmap, busybox,
# pasta and slirp4netns. The guest has no network card: its network is lo
# and a dummy interface with the default route, and the network tests' DNS
# stub (test/dnsstub, built here) runs there (see scripts/vm-guest.sh).
# The output directory (the binaries under test going in, the log and the
# exit status coming out) is a second, writable 9p share.
#
# Two kinds of VM (SBX_VM_INIT):
#   busybox  (default) the initramfs hands over to scripts/vm-guest.sh as
#            pid 1; it delegates the cgroup /sys/fs/cgroup/sbx-test to the
#            test user (delegate_cgroup in scripts/lib.sh) and runs the
#            tests in its leaf sbx-test/tests, with SBX_TEST_CGROUP=cgroupfs;
#   systemd  the host's root, made writable by an overlayfs over a tmpfs,
#            boots Debian's systemd as pid 1 (the host's packages systemd,
#            dbus, dbus-user-session, libpam-systemd; installed as root when
#            missing) into the target sbx-vm.target, whose service
#            sbx-vm.service runs scripts/vm-guest.sh: it starts the test
#            user's systemd manager (user@UID.service, as for a lingering
#            user) and runs the tests as that user from the service's own
#            cgroup, which the user does not own (as a desktop session's
#            session-N.scope), with XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS
#            and SBX_TEST_CGROUP=systemd; only the tests SBX_VM_SYSTEMD_RUN
#            matches (default: the cgroup tests, ^Test(Cgroup|Limits|Systemd)).
#            Units that cannot work in the VM or slow its boot are masked
#            (see systemd_units below).
#
# In the busybox VM, the tests that need a systemd user manager
# (TestSystemd*) are not run (see cgroup_tests_skipped in scripts/lib.sh),
# nor, in either VM, the tests of sbx as the OCI runtime of podman and
# containerd (TestOCI*: too slow under TCG, and the guest lacks podman's
# runtime setup; see default_tests_skipped) or those that need root on the
# host (scripts/test.sh runs them natively); SBX_TEST_SKIP=REGEXP chooses
# others than the first two, in both VMs.
#
# As root it installs what is missing (qemu-system-x86, uidmap,
# busybox-static, attr, and for the systemd VM what it needs) and sets up
# the test user as scripts/test.sh does; as any other user it fails naming
# the fix, and runs the tests as that user.
#
# Variables:
#   SBX_TEST_USER     the test user (default sbxtest), as in scripts/test.sh
#   SBX_VM_INIT       busybox (default) or systemd: the kind of VM, above
#   SBX_VM_RUN        REGEXP: only the integration tests it matches, in the
#                     busybox VM (default: $SBX_TEST_RUN, or all of them)
#   SBX_VM_SYSTEMD_RUN REGEXP: only the integration tests it matches, in
#                     the systemd VM (default: ^Test(Cgroup|Limits|Systemd))
#   SBX_VM_CMD        run this shell command as the test user instead of the
#                     tests, in either VM, in the cgroup and with the
#                     environment the tests would have (its output and
#                     status are the script's)
#   SBX_VM_APPEND     more of the kernel's command line (for example
#                     systemd.log_level=debug)
#   SBX_VM_USER_DELEGATE the controllers the systemd VM delegates to the
#                     user's manager besides Debian's own (user@.service has
#                     Delegate=pids memory cpu), with a drop-in, as the README
#                     tells users to (default "cpuset io", so that every
#                     limit flag works; empty: Debian's own alone)
#   SBX_VM_KERNEL_PKG the kernel package (default: what linux-image-amd64
#                     depends on)
#   SBX_VM_CACHE      the cache of kernels and initramfs (default
#                     /var/cache/sbx-vm as root, ~/.cache/sbx-vm otherwise)
#   SBX_VM_MEM        the guest's memory (default 4G)
#   SBX_VM_TIMEOUT    the limit of the whole VM run (default 80m)
#   SBX_KEEP=1        keep the output directory
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=1

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# The modules the initramfs loads, in this order, with what they need:
# virtio-9p for the root and the output directory, overlayfs; tun for
# /dev/net/tun (pasta, slirp4netns) and dummy for an interface to hold the
# default route pasta derives its setup from (see scripts/vm-guest.sh).
vm_modules=(virtio_pci 9pnet_virtio 9p overlay tun dummy)

if [ "$(id -u)" -eq 0 ]; then
	root=1
	cache=${SBX_VM_CACHE:-/var/cache/sbx-vm}
else
	root=
	cache=${SBX_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx-vm}
fi

# Prerequisites.
if ! have qemu-system-x86_64; then
	if [ -n "$root" ]; then
		log "installing qemu-system-x86"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends qemu-system-x86 </dev/null ||
			{ apt-get update </dev/null && apt-get install -y --no-install-recommends qemu-system-x86 </dev/null; }
	else
		die "the VM tests need qemu: run \`sudo apt-get install qemu-system-x86\`, or \`sudo make test-vm\`, which installs it"
	fi
fi
init=${SBX_VM_INIT:-busybox}
case $init in
busybox) pkg_set= ;;
systemd) pkg_set=systemd ;;
*) die "SBX_VM_INIT=$init: busybox or systemd" ;;
esac

bash scripts/build-deps.sh
if [ -n "$root" ]; then
	install_packages $pkg_set
	ensure_user
	ensure_negative_group
	run_user=$test_user
else
	run_user=$(id -un)
fi
check_prerequisites "$run_user" $pkg_set
have dpkg-deb && have apt-get || die "fetching the guest's kernel needs apt-get and dpkg-deb (a Debian system)"

# kernel_pkg prints the kernel package to boot.
kernel_pkg() {
	if [ -n "${SBX_VM_KERNEL_PKG:-}" ]; then
		echo "$SBX_VM_KERNEL_PKG"
		return
	fi
	apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 ~ /Depends:/ && $2 ~ /^linux-image-/ { print $2; exit }'
}
pkg=$(kernel_pkg)
if [ -z "$pkg" ] && [ -n "$root" ]; then
	log "updating the package lists to find linux-image-amd64"
	apt-get update </dev/null
	pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on: run \`sudo apt-get update\`, or set SBX_VM_KERNEL_PKG"
kver=${pkg#linux-image-}
kdir=$cache/$kver

# modules_closure DIR MOD... prints the module files (relative to DIR,
# the modules directory) that loading MOD... needs, dependencies included.
modules_closure() {
	local dir=$1
	shift
	awk -v want="$*" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) todo[w[i]] = 1 }
		{
			f = $1; sub(/:$/, "", f)
			m = f; sub(/.*\//, "", m); sub(/\.ko(\.[a-z]+)?$/, "", m); gsub(/-/, "_", m)
			file[m] = f; deps[m] = ""
			for (i = 2; i <= NF; i++) deps[m] = deps[m] " " $i
		}
		END {
			for (m in todo) if (!(m in file)) { print "missing module " m > "/dev/stderr"; exit 1 }
			for (m in todo) {
				print file[m]
				n = split(deps[m], d, " ")
				for (i = 1; i <= n; i++) print d[i]
			}
		}' "$dir/modules.dep" | sort -u
}

# cached_modules_complete tells whether the modules unpacked in $kdir hold
# every module of vm_modules (a cache made before one was added does not).
cached_modules_complete() {
	local dep=$kdir/modules/lib/modules/$kver/modules.dep m
	[ -s "$dep" ] || return 1
	for m in "${vm_modules[@]}"; do
		awk -F: -v m="$m" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.[a-z]+)?$/, "", f); gsub(/-/, "_", f); if (f == m) found = 1 }
			END { exit !found }' "$dep" || return 1
	done
}

# fetch_kernel unpacks the kernel and the modules the initramfs needs into
# $kdir, once.
fetch_kernel() {
	[ -s "$kdir/vmlinuz" ] && cached_modules_complete && return 0
	log "fetching $pkg into $kdir (apt-get download, not installed)"
	mkdir -p "$cache"
	local tmp deb mods
	tmp=$(mktemp -d "$cache/fetch.XXXXXX")
	# As root, apt's sandbox user _apt could not write into $tmp.
	(cd "$tmp" && apt-get download -o APT::Sandbox::User="$(id -un)" "$pkg" </dev/null) ||
		die "apt-get download $pkg failed (run \`sudo apt-get update\`?)"
	deb=$(echo "$tmp"/*.deb)
	dpkg-deb -x "$deb" "$tmp/x"
	mods=$tmp/x/lib/modules/$kver
	[ -d "$mods" ] || die "$deb has no lib/modules/$kver"
	busybox depmod -b "$tmp/x" "$kver"
	rm -rf "$kdir"
	mkdir -p "$kdir/modules/lib/modules/$kver"
	modules_closure "$mods" "${vm_modules[@]}" >"$tmp/closure"
	(cd "$mods" && tar -cf - -T "$tmp/closure") | tar -xf - -C "$kdir/modules/lib/modules/$kver"
	(cd "$mods" && grep -F -f <(sed 's/$/:/' "$tmp/closure") modules.dep) >"$kdir/modules/lib/modules/$kver/modules.dep"
	cp "$tmp"/x/boot/vmlinuz-"$kver" "$kdir/vmlinuz.new"
	mv "$kdir/vmlinuz.new" "$kdir/vmlinuz"
	rm -rf "$tmp"
}

# build_initrd makes (once per content of scripts/vm-init.sh and the
# module list) the initramfs and prints its path.
build_initrd() {
	local key img tmp
	key=$({
		cat scripts/vm-init.sh
		echo "${vm_modules[*]}"
		sha256sum /bin/busybox
	} | sha256sum | cut -c1-16)
	img=$kdir/initrd-$key.img
	if [ ! -s "$img" ]; then
		log "building $img" >&2
		tmp=$(mktemp -d "$cache/initrd.XXXXXX")
		mkdir -p "$tmp"/{bin,dev,proc,sys,newroot}
		cp /bin/busybox "$tmp/bin/busybox"
		cp -a "$kdir/modules/lib" "$tmp/lib"
		install -m 0755 scripts/vm-init.sh "$tmp/init"
		printf '%s\n' "${vm_modules[@]}" >"$tmp/modules"
		# A 0700 root would lock the test user out of the guest's /.
		chmod 0755 "$tmp"
		(cd "$tmp" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$img.new"
		mv "$img.new" "$img"
		rm -rf "$tmp"
		find "$kdir" -name 'initrd-*.img' ! -name "${img##*/}" -delete
	fi
	echo "$img"
}

# systemd_units DIR OUT writes the units of the systemd VM into DIR, and in
# DIR/mask what is masked there (paths under /etc/systemd: units in
# system/, generators in system-generators/ and user-generators/); the
# initramfs installs the units (and drop-in directories) in
# /etc/systemd/system and links what is masked to /dev/null. OUT is the
# output directory.
systemd_units() {
	local dir=$1 out=$2
	mkdir -p "$dir"
	cat >"$dir/sbx-vm.target" <<-EOF
		[Unit]
		Description=sbx VM: the integration tests
		Requires=basic.target sbx-vm.service
		After=basic.target
		AllowIsolate=yes
		# Never a VM waiting for nothing until SBX_VM_TIMEOUT.
		JobTimeoutSec=10min
		JobTimeoutAction=poweroff-force
	EOF
	# The system bus is up before the user's manager starts: that manager
	# moves a process out of a cgroup the user does not own by asking the
	# system's manager (AttachProcessesToUnit on the system bus).
	cat >"$dir/sbx-vm.service" <<-EOF
		[Unit]
		Description=sbx VM: the integration tests as $run_user (scripts/vm-guest.sh)
		Requires=dbus.socket dbus.service
		After=basic.target dbus.socket dbus.service

		[Service]
		Type=exec
		ExecStart=/bin/bash $out/vm-guest.sh $out
		StandardInput=null
		StandardOutput=journal+console
		StandardError=inherit
		TimeoutStartSec=infinity
		# vm-guest.sh powers off itself; if it cannot even start:
		FailureAction=poweroff-force
	EOF
	if [ -n "${SBX_VM_USER_DELEGATE-cpuset io}" ]; then
		mkdir -p "$dir/user@.service.d"
		printf '[Service]\nDelegate=%s\n' "${SBX_VM_USER_DELEGATE-cpuset io}" >"$dir/user@.service.d/sbx-delegate.conf"
	fi
	# Masked, to boot faster under TCG: what needs a network, a real
	# machine or kernel modules (the host's /lib/modules has none for the
	# guest's kernel), what runs from timers (apt, man-db, fstrim...), what
	# would only rewrite the host's root (users, utmp, the journal's flush,
	# the random seed), and the generators (fstab, getty, SysV scripts,
	# disks; but systemd-debug-generator, which systemd.mask= and
	# systemd.wants= in SBX_VM_APPEND need): none of it is for the tests.
	# Kept: journald, tmpfiles, dbus, logind, the user's manager.
	local g d
	for g in /lib/systemd/system-generators/* /lib/systemd/user-generators/*; do
		d=${g%/*}
		[ "${g##*/}" = systemd-debug-generator ] || echo "${d##*/}/${g##*/}"
	done >"$dir/mask"
	printf 'system/%s\n' timers.target systemd-timesyncd.service systemd-pstore.service \
		systemd-firstboot.service systemd-repart.service \
		systemd-pcrphase.service systemd-pcrphase-sysinit.service \
		systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
		systemd-modules-load.service kmod-static-nodes.service \
		modprobe@configfs.service modprobe@fuse.service modprobe@drm.service \
		modprobe@dm_mod.service modprobe@efi_pstore.service modprobe@loop.service \
		sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
		sys-fs-fuse-connections.mount dev-hugepages.mount \
		systemd-remount-fs.service systemd-sysusers.service \
		systemd-update-utmp.service systemd-update-utmp-runlevel.service \
		systemd-journal-flush.service systemd-random-seed.service \
		systemd-machine-id-commit.service systemd-hwdb-update.service \
		ldconfig.service e2scrub_reap.service \
		>>"$dir/mask"
}

started=$SECONDS
fetch_kernel
initrd=$(build_initrd)
log "kernel and initramfs ready in $((SECONDS - started)) s"

out=$(mktemp -d /var/tmp/sbx-vm.XXXXXX)
cleanup() {
	if [ "${SBX_KEEP:-}" = 1 ]; then
		log "kept $out"
	else
		rm -rf "$out"
	fi
}
trap cleanup EXIT
chmod 0755 "$out"

if [ -z "${SBX_VM_CMD:-}" ]; then
	log "building bin/sbx and the integration tests"
	make --no-print-directory build
	go test -c -o "$out/integration.test" ./test/
	install -m 0755 bin/sbx "$out/sbx"
	install -m 0644 README.md "$out/README.md"
fi
# The DNS stub of the network tests, which the guest starts as root (see
# start_dns_stub in scripts/lib.sh).
go build -o "$out/dnsstub" ./test/dnsstub
cp scripts/lib.sh scripts/vm-guest.sh "$out/"
append="console=ttyS0 panic=-1 quiet loglevel=4 sbx.out=$out sbx.run=$out/vm-guest.sh sbx.user=$run_user"
if [ "$init" = systemd ]; then
	systemd_units "$out/units" "$out"
	append+=" sbx.init=systemd systemd.unit=sbx-vm.target"
	run=${SBX_VM_SYSTEMD_RUN:-^Test(Cgroup|Limits|Systemd)}
else
	run=${SBX_VM_RUN:-${SBX_TEST_RUN:-}}
fi
append+=${SBX_VM_APPEND:+ $SBX_VM_APPEND}
{
	printf 'run_user=%q\n' "$run_user"
	printf 'init=%q\n' "$init"
	printf 'cmd=%q\n' "${SBX_VM_CMD:-}"
	printf 'SBX_TEST_RUN=%q\n' "$run"
	[ -z "${SBX_TEST_SKIP+set}" ] || printf 'SBX_TEST_SKIP=%q\nexport SBX_TEST_SKIP\n' "$SBX_TEST_SKIP"
	# TCG runs everything several times slower than the host.
	printf 'SBX_TEST_TIMEOUT=%q\n' "${SBX_TEST_TIMEOUT:-70m}"
	printf 'SBX_TEST_TIME_SCALE=%q\n' "${SBX_TEST_TIME_SCALE:-5}"
	printf 'export SBX_TEST_RUN SBX_TEST_TIMEOUT SBX_TEST_TIME_SCALE\n'
} >"$out/guest.env"

log "booting Linux $kver under qemu (TCG) with the $init init, the tests as $run_user"
booted=$SECONDS
set +e
timeout -k 30 "${SBX_VM_TIMEOUT:-80m}" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -smp 2 -m "${SBX_VM_MEM:-4G}" \
	-nographic -no-reboot -nic none \
	-kernel "$kdir/vmlinuz" -initrd "$initrd" \
	-append "$append" \
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=root,mount_tag=root \
	-fsdev local,id=out,path="$out",security_model=none,multidevs=remap \
	-device virtio-9p-pci,fsdev=out,mount_tag=out \
	</dev/null
qemu_status=$?
set -e
log "VM ran for $((SECONDS - booted)) s"

if [ ! -s "$out/status" ]; then
	die "the VM stopped without reporting a status (qemu exited with $qemu_status; see its console above)"
fi
status=$(cat "$out/status")
if [ "$status" -ne 0 ]; then
	log "failed on Linux $kver with the $init init (status $status)"
fi
exit "$status"

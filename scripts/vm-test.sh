#!/usr/bin/env bash
# Runs the integration tests of sbx on another kernel, by default Debian
# 12's (the package linux-image-amd64 depends on, 6.1), in a qemu VM (TCG:
# no /dev/kvm needed), as the unprivileged test user, the way
# scripts/test.sh runs them natively (the same code: run_integration in
# scripts/lib.sh).
#
# The kernel package is fetched with `apt-get download` and unpacked into a
# cache, never installed on the host. The VM boots it with a small
# initramfs (busybox-static and the modules that mounting the root needs:
# virtio_pci, 9p, overlay) and uses the host's root filesystem, read-only
# over virtio-9p, as its own, with tmpfs on /tmp, /var/tmp, /run, /root and
# the test user's home; so the guest has the host's users, /etc/subuid,
# setuid newuidmap and busybox. The output directory (the binaries under
# test going in, the log and the exit status coming out) is a second,
# writable 9p share. The guest delegates the cgroup /sys/fs/cgroup/sbx-test
# to the test user (delegate_cgroup in scripts/lib.sh) and runs the tests
# in its leaf sbx-test/tests, with SBX_TEST_CGROUP=cgroupfs.
#
# As root it installs what is missing (qemu-system-x86, uidmap,
# busybox-static, attr) and sets up the test user as scripts/test.sh does; as
# any other user it fails naming the fix, and runs the tests as that user.
#
# Variables:
#   SBX_TEST_USER     the test user (default sbxtest), as in scripts/test.sh
#   SBX_VM_RUN        REGEXP: only the integration tests it matches
#                     (default: $SBX_TEST_RUN, or all of them)
#   SBX_VM_CMD        run this shell command as the test user instead of the
#                     tests, in the cgroup and with the environment the
#                     tests would have (its output and status are the
#                     script's)
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

# The modules the initramfs loads, in this order, with what they need.
vm_modules=(virtio_pci 9pnet_virtio 9p overlay)

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
bash scripts/build-deps.sh
if [ -n "$root" ]; then
	install_packages
	ensure_user
	ensure_negative_group
	run_user=$test_user
else
	run_user=$(id -un)
fi
check_prerequisites "$run_user"
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

# fetch_kernel unpacks the kernel and the modules the initramfs needs into
# $kdir, once.
fetch_kernel() {
	[ -s "$kdir/vmlinuz" ] && [ -s "$kdir/modules/lib/modules/$kver/modules.dep" ] && return 0
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
fi
cp scripts/lib.sh scripts/vm-guest.sh "$out/"
{
	printf 'run_user=%q\n' "$run_user"
	printf 'cmd=%q\n' "${SBX_VM_CMD:-}"
	printf 'SBX_TEST_RUN=%q\n' "${SBX_VM_RUN:-${SBX_TEST_RUN:-}}"
	# TCG runs everything several times slower than the host.
	printf 'SBX_TEST_TIMEOUT=%q\n' "${SBX_TEST_TIMEOUT:-70m}"
	printf 'SBX_TEST_TIME_SCALE=%q\n' "${SBX_TEST_TIME_SCALE:-5}"
	printf 'export SBX_TEST_RUN SBX_TEST_TIMEOUT SBX_TEST_TIME_SCALE\n'
} >"$out/guest.env"

log "booting Linux $kver under qemu (TCG) as $run_user"
booted=$SECONDS
set +e
timeout -k 30 "${SBX_VM_TIMEOUT:-80m}" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -smp 2 -m "${SBX_VM_MEM:-4G}" \
	-nographic -no-reboot -nic none \
	-kernel "$kdir/vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 sbx.out=$out sbx.run=$out/vm-guest.sh sbx.user=$run_user" \
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
	log "failed on Linux $kver (status $status)"
fi
exit "$status"

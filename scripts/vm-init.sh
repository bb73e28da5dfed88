#!/bin/busybox sh
# /init of the initramfs that scripts/vm-test.sh builds: busybox and the
# modules that mounting the root needs. It mounts the host's root
# filesystem (virtio-9p tag "root") read-only as the guest's root, with
# tmpfs where the tests write, the 9p share "out" (read-write) at the path
# named by sbx.out= on the kernel command line, and hands over to
# sbx.run= (a script in the root, run by the root's bash as pid 1) with
# switch_root: pivot_root, which sbx needs, fails while / is the initial
# ramfs. It mounts cgroup2 at /sys/fs/cgroup with the options systemd
# uses (nsdelegate, memory_recursiveprot).
#
# With sbx.init=systemd on the kernel command line it boots systemd
# instead: the read-only root becomes the lower layer of an overlayfs
# whose upper layer is a tmpfs (systemd writes in /etc and /var), the
# units and drop-ins in the share "out" (units/*, made by vm-test.sh) are
# put in the overlay's /etc/systemd/system, what units/mask lists (paths
# under /etc/systemd) is masked (linked to /dev/null), and switch_root
# starts /lib/systemd/systemd, which mounts cgroup2 itself; the kernel
# command line names the unit to start (systemd.unit=). A /.dockerenv in
# the root (the host is a container's image) is removed from the overlay.
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
	echo "vm-init: $*" >/dev/console
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

out= run= user= init=busybox
for a in $(cat /proc/cmdline); do
	case $a in
	sbx.out=*) out=${a#sbx.out=} ;;
	sbx.run=*) run=${a#sbx.run=} ;;
	sbx.user=*) user=${a#sbx.user=} ;;
	sbx.init=*) init=${a#sbx.init=} ;;
	esac
done
[ -n "$out" ] && [ -n "$run" ] || fail "sbx.out= and sbx.run= are needed on the kernel command line"

for m in $(cat /modules); do
	modprobe "$m" || fail "modprobe $m failed"
done

r=/newroot
mkdir -p $r
case $init in
busybox)
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose root $r ||
		fail "cannot mount the root (9p tag root)"
	;;
systemd)
	mkdir -p /lower /rw
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose root /lower ||
		fail "cannot mount the root (9p tag root)"
	mount -t tmpfs -o mode=0755,size=50% tmpfs /rw || fail "tmpfs for the overlay's upper layer"
	mkdir -p /rw/upper /rw/work
	mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay $r ||
		fail "cannot mount the overlay of the root (see the kernel's messages above)"
	[ -x $r/lib/systemd/systemd ] || fail "no /lib/systemd/systemd in the root: install systemd"
	# A root that is a container's image marks itself as one: systemd
	# would believe it runs in a container (docker), ignore the kernel's
	# command line (systemd.unit=) and boot the default target.
	rm -f $r/.dockerenv $r/run/.containerenv $r/run/systemd/container
	;;
*)
	fail "sbx.init=$init: busybox or systemd"
	;;
esac
for d in tmp var/tmp run root; do
	mount -t tmpfs -o mode=0755,size=50% tmpfs "$r/$d" || fail "tmpfs on /$d"
done
chmod 1777 $r/tmp $r/var/tmp
# A /run like a system's, not empty: the tests check that none of its
# entries shows in a sandbox.
mkdir -p $r/run/lock $r/run/user $r/run/sbx-vm
chmod 1777 $r/run/lock
if [ -n "$user" ]; then
	# The test user's home: empty, writable, its own.
	home=$(awk -F: -v u="$user" '$1 == u { print $6 }' $r/etc/passwd)
	if [ -n "$home" ] && [ -d "$r$home" ]; then
		mount -t tmpfs -o mode=0755,size=1g tmpfs "$r$home" || fail "tmpfs on $home"
		chown "$(awk -F: -v u="$user" '$1 == u { print $3 ":" $4 }' $r/etc/passwd)" "$r$home"
	fi
fi
mkdir -p "$r$out"
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=512000 out "$r$out" ||
	fail "cannot mount the output directory (9p tag out)"

mount --move /dev $r/dev
mount --move /proc $r/proc
mount --move /sys $r/sys
hostname sbx-vm

if [ "$init" = systemd ]; then
	# systemd mounts /dev/pts, /dev/shm and cgroup2 itself.
	units=$r$out/units
	[ -d "$units" ] || fail "no $out/units in the share out"
	for f in "$units"/*; do
		case ${f##*/} in
		mask) ;;
		*) cp -r "$f" $r/etc/systemd/system/ || fail "cannot install the unit $f" ;;
		esac
	done
	if [ -e "$units/mask" ]; then
		for u in $(cat "$units/mask"); do
			mkdir -p "$r/etc/systemd/${u%/*}" &&
				ln -sf /dev/null "$r/etc/systemd/$u" || fail "cannot mask $u"
		done
	fi
	exec switch_root $r /lib/systemd/systemd
fi

mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $r/dev/shm
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $r/sys/fs/cgroup ||
	fail "cannot mount cgroup2"

exec switch_root $r /bin/bash "$run" "$out"

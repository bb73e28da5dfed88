# Shell functions shared by scripts/test.sh, scripts/vm-test.sh (and the
# guest side of it, scripts/vm-guest.sh) and scripts/bench.sh: setting up
# the unprivileged user sbx is tested and measured as, and running commands
# (the integration tests) as that user. Source it; it sets nothing else.

test_user=${SBX_TEST_USER:-sbxtest}
sub_count=65536
sub_floor=200000
user_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '==> %s\n' "$*"; }
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

# sub_total FILE USER UID prints how many subordinate ids USER has in FILE.
sub_total() {
	[ -e "$1" ] || {
		echo 0
		return
	}
	awk -F: -v u="$2" -v id="$3" '($1 == u || $1 == id) && NF == 3 { n += $3 } END { print n + 0 }' "$1"
}

# free_sub_start prints the start of a subordinate range that overlaps no
# line of /etc/subuid or /etc/subgid, nor any existing uid or gid.
free_sub_start() {
	local files=() f
	for f in /etc/subuid /etc/subgid; do [ -e "$f" ] && files+=("$f"); done
	{
		[ "${#files[@]}" -eq 0 ] || awk -F: 'NF == 3 { print $2 + $3 }' "${files[@]}"
		getent passwd | awk -F: '{ print $3 + 1 }'
		getent group | awk -F: '{ print $3 + 1 }'
	} | awk -v floor="$sub_floor" -v count="$sub_count" '
		$1 > 65535 && $1 < 4000000000 && $1 > max { max = $1 }
		END {
			start = max > floor ? max : floor
			# round up to a multiple of the range size
			print int((start + count - 1) / count) * count
		}'
}

ensure_user() {
	if ! id -u "$test_user" >/dev/null 2>&1; then
		log "creating user $test_user"
		if getent group "$test_user" >/dev/null; then
			useradd -m -s /bin/sh -g "$test_user" "$test_user"
		else
			useradd -m -s /bin/sh -U "$test_user"
		fi
	fi
	local uid start="" f
	uid=$(id -u "$test_user")
	for f in /etc/subuid /etc/subgid; do
		if [ "$(sub_total "$f" "$test_user" "$uid")" -lt "$sub_count" ]; then
			[ -n "$start" ] || start=$(free_sub_start)
			log "adding $test_user:$start:$sub_count to $f"
			echo "$test_user:$start:$sub_count" >>"$f"
		fi
	done
}

# close_extra_fds closes every descriptor of the calling (sub)shell but 0,
# 1 and 2.
close_extra_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if [ "$fd" -gt 2 ]; then
			eval "exec $fd>&-" 2>/dev/null || true
		fi
	done
}

# as_user USER CMD... runs CMD as USER (or as is, when USER is the current
# user), with no file descriptor open but 0, 1 and 2, in the cgroup
# $test_cgroup once delegate_cgroup set it, and, run by root once
# start_dns_stub set test_resolv_conf, in a private mount namespace whose
# /etc/resolv.conf is that file. Only CMD's process moves there,
# never a shell of root's: a process with more capabilities than USER in
# the leaf would keep USER from enabling cpuset in its parent (moving the
# leaf's processes to the new cpuset asks for the right to change their
# scheduling: EPERM).
as_user() {
	local user=$1
	shift
	(
		close_extra_fds
		enter_test_cgroup
		if [ "$(id -un)" = "$user" ]; then
			exec "$@"
		fi
		if [ -n "${test_resolv_conf:-}" ]; then
			# In a private mount namespace where /etc/resolv.conf names
			# the DNS stub (see start_dns_stub): the mount goes away with
			# the last process in it.
			exec unshare --mount --propagation private -- /bin/sh -c '
				f=$1 u=$2
				shift 2
				mount --bind "$f" "$(readlink -f /etc/resolv.conf)" || exit 125
				exec setpriv --reuid="$u" --regid="$u" --init-groups "$@"' \
				sh "$test_resolv_conf" "$user" "$@"
		fi
		exec setpriv --reuid="$user" --regid="$user" --init-groups "$@"
	)
}

user_home() { getent passwd "$1" | cut -d: -f6; }

# missing_packages [SET...] prints the Debian packages that provide
# missing tools. The sets: "oci", also those the tests of sbx as an OCI
# runtime need (TestOCI*: podman and conmon, containerd and its runc shim;
# uidmap, slirp4netns and busybox-static are needed anyway); "systemd",
# also those the VM that boots systemd (scripts/vm-test.sh with
# SBX_VM_INIT=systemd) needs in the host's root: systemd, the system and
# session buses, pam_systemd.
missing_packages() {
	local pkgs=() set oci= systemd=
	for set in "$@"; do
		case $set in
		oci) oci=1 ;;
		systemd) systemd=1 ;;
		'') ;;
		*)
			echo "missing_packages: unknown set $set" >&2
			return 1
			;;
		esac
	done
	{ have newuidmap && have newgidmap; } || pkgs+=(uidmap)
	have busybox || pkgs+=(busybox-static)
	have gcc || pkgs+=(gcc libc6-dev)
	have setpriv || pkgs+=(util-linux)
	have setfattr || pkgs+=(attr)
	# The user-mode networks of sbx run --net (the network tests).
	have pasta || pkgs+=(passt)
	have slirp4netns || pkgs+=(slirp4netns)
	# The shells whose completion scripts sbx writes (TestCompletion).
	have zsh || pkgs+=(zsh)
	have fish || pkgs+=(fish)
	# What the README's examples run (TestREADMEExamples): make, ps, bash,
	# ip, curl and wget.
	have make || pkgs+=(make)
	have ps || pkgs+=(procps)
	have bash || pkgs+=(bash)
	have ip || pkgs+=(iproute2)
	have curl || pkgs+=(curl)
	have wget || pkgs+=(wget)
	# --share session-bus: the proxy, and a private session bus with
	# dbus-send inside (TestSessionBus*).
	have xdg-dbus-proxy || pkgs+=(xdg-dbus-proxy)
	{ have dbus-daemon && have dbus-send; } || pkgs+=(dbus)
	# The desktop servers and clients of the --share tests
	# (test/desktop_test.go), run everywhere the tests run.
	have Xvfb || pkgs+=(xvfb)
	have xdpyinfo || pkgs+=(x11-utils)
	have weston || pkgs+=(weston)
	have wayland-info || pkgs+=(wayland-utils)
	have pulseaudio || pkgs+=(pulseaudio)
	have pactl || pkgs+=(pulseaudio-utils)
	{ have pipewire && have pw-cli; } || pkgs+=(pipewire-bin)
	if [ -n "$oci" ]; then
		have podman || pkgs+=(podman)
		have conmon || pkgs+=(conmon)
		{ have containerd && have ctr && have containerd-shim-runc-v2; } || pkgs+=(containerd)
	fi
	if [ -n "$systemd" ]; then
		[ -x /lib/systemd/systemd ] && have systemd-run || pkgs+=(systemd)
		have dbus-daemon || pkgs+=(dbus)
		[ -e /usr/lib/systemd/user/dbus.socket ] || pkgs+=(dbus-user-session)
		[ -n "$(find /lib/*/security /usr/lib/*/security -maxdepth 1 -name pam_systemd.so 2>/dev/null)" ] || pkgs+=(libpam-systemd)
	fi
	printf '%s\n' "${pkgs[@]}"
}

# install_packages [SET...] installs what missing_packages prints.
install_packages() {
	local pkgs
	mapfile -t pkgs < <(missing_packages "$@")
	[ "${#pkgs[@]}" -gt 0 ] && [ -n "${pkgs[0]}" ] || return 0
	log "installing ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y --no-install-recommends "${pkgs[@]}" </dev/null; then
		log "install failed: updating the package lists and trying again"
		apt-get update </dev/null
		apt-get install -y --no-install-recommends "${pkgs[@]}" </dev/null
	fi
}

# A file the test user may not read because of a group it is in, though
# everybody else may (mode 0604, group sbxneg): the escape tests check that
# no sandbox lets it drop that group (setgroups).
neg_group=sbxneg
neg_file=/var/lib/sbx-test/negative-group
ensure_negative_group() {
	getent group "$neg_group" >/dev/null || groupadd "$neg_group"
	id -nG "$test_user" | tr ' ' '\n' | grep -qx "$neg_group" || usermod -aG "$neg_group" "$test_user"
	mkdir -p "${neg_file%/*}"
	chmod 0755 "${neg_file%/*}"
	echo "only those outside group $neg_group may read this" >"$neg_file"
	chown "root:$neg_group" "$neg_file"
	chmod 0604 "$neg_file"
}

# ensure_tun (as root) makes /dev/net/tun usable by every user, as Debian's
# udev rules do (mode 0666): pasta and slirp4netns, started by sbx as the
# test user, open it in the sandbox's namespaces. A system without udev (a
# container, a minimal VM, the busybox VM of scripts/vm-test.sh) has it
# 0600, or not at all until the module tun is loaded.
ensure_tun() {
	[ -c /dev/net/tun ] || modprobe tun 2>/dev/null || true
	if [ ! -c /dev/net/tun ]; then
		log "creating /dev/net/tun"
		mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200 ||
			die "cannot create /dev/net/tun (no module tun?)"
	fi
	if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
		log "making /dev/net/tun usable by every user (mode 0666, as udev does)"
		chmod 0666 /dev/net/tun || die "cannot chmod /dev/net/tun"
	fi
}

# ensure_x11_dir (as root) makes /tmp/.X11-unix, where X servers put
# their sockets, as systemd-tmpfiles does on a desktop (x11.conf: mode
# 1777, root's): Xvfb, which the --share x11 tests run as the test user,
# will not make it ("euid != 0").
ensure_x11_dir() {
	if [ ! -d /tmp/.X11-unix ]; then
		log "making /tmp/.X11-unix (mode 1777, as systemd-tmpfiles does)"
		install -d -m 1777 -o root -g root /tmp/.X11-unix || die "cannot make /tmp/.X11-unix"
	fi
}

# check_x11_dir USER fails, naming the fix, unless USER's X servers can put
# their sockets in /tmp/.X11-unix (see ensure_x11_dir).
check_x11_dir() {
	local user=$1
	if ! as_user "$user" test -d /tmp/.X11-unix -a -w /tmp/.X11-unix </dev/null; then
		die "the --share x11 tests run Xvfb as $user, which needs /tmp/.X11-unix writable: run \`sudo install -d -m 1777 /tmp/.X11-unix\`, or \`sudo make test\`, which makes it"
	fi
}

# check_tun USER fails, naming the fix, unless USER may open /dev/net/tun
# (see ensure_tun). The VMs of scripts/vm-test.sh see their own.
check_tun() {
	local user=$1
	as_user "$user" sh -c '[ -c /dev/net/tun ] && [ -r /dev/net/tun ] && [ -w /dev/net/tun ]' </dev/null && return 0
	if [ -c /dev/net/tun ]; then
		die "user $user cannot open /dev/net/tun ($(stat -c '%A %U' /dev/net/tun)), which pasta and slirp4netns need for the network tests: run \`sudo chmod 0666 /dev/net/tun\` (as Debian's udev rules do), or \`sudo make test\`, which does it"
	fi
	die "there is no /dev/net/tun, which pasta and slirp4netns need for the network tests: run \`sudo modprobe tun && sudo chmod 0666 /dev/net/tun\`, or \`sudo make test\`, which does it"
}

# The DNS stub of the network tests (test/dnsstub): the upstream of the DNS
# forwarder (10.0.2.3) that pasta and slirp4netns give a sandbox. Both read
# the first nameserver of /etc/resolv.conf and send to its port 53, so the
# stub listens on a loopback address of its own, on port 53 (root only),
# and the integration tests run in a private mount namespace where
# /etc/resolv.conf names it (see as_user); they learn its address from
# SBX_TEST_DNS, and fail without it.
dns_stub_addr=127.0.0.153

# start_dns_stub BIN DIR starts, as root, the DNS stub BIN on
# $dns_stub_addr:53 (UDP), logging to DIR/dnsstub.log, writes
# DIR/resolv.conf (nameserver $dns_stub_addr), sets test_resolv_conf to it
# and exports SBX_TEST_DNS. The stub dies with the calling shell;
# stop_dns_stub stops it before.
start_dns_stub() {
	local bin=$1 dir=$2 i
	[ "$(id -u)" -eq 0 ] || die "start_dns_stub: only root may listen on port 53"
	printf 'nameserver %s\n' "$dns_stub_addr" >"$dir/resolv.conf"
	chmod 0644 "$dir/resolv.conf"
	"$bin" -addr "$dns_stub_addr:53" -die-with-parent </dev/null >"$dir/dnsstub.log" 2>&1 &
	dns_stub_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q '^listening on ' "$dir/dnsstub.log" && break
		kill -0 "$dns_stub_pid" 2>/dev/null || {
			dns_stub_pid=
			die "the DNS stub did not start: $(cat "$dir/dnsstub.log")"
		}
		sleep 0.1
	done
	grep -q '^listening on ' "$dir/dnsstub.log" || die "the DNS stub did not listen within 10 s: $(cat "$dir/dnsstub.log")"
	test_resolv_conf=$dir/resolv.conf
	export SBX_TEST_DNS=$dns_stub_addr
	log "DNS stub on $dns_stub_addr:53 (log: $dir/dnsstub.log); the tests' /etc/resolv.conf names it"
}

# stop_dns_stub stops the stub start_dns_stub started, if it runs.
stop_dns_stub() {
	[ -n "${dns_stub_pid:-}" ] || return 0
	kill "$dns_stub_pid" 2>/dev/null || true
	wait "$dns_stub_pid" 2>/dev/null || true
	dns_stub_pid=
}

# check_prerequisites fails, naming the fix, when something the tests need
# is missing. $1 is the user the integration tests run as; the other
# arguments are sets of missing_packages ("oci", "systemd").
check_prerequisites() {
	local user=$1 pkgs uid f
	mapfile -t pkgs < <(missing_packages "${@:2}")
	if [ "${#pkgs[@]}" -gt 0 ] && [ -n "${pkgs[0]}" ]; then
		die "the tests need the Debian packages ${pkgs[*]}: run \`sudo apt-get install ${pkgs[*]}\`, or \`sudo make test\`, which installs them"
	fi
	have go || die "go is not installed (looked in PATH and /usr/local/go/bin)"
	uid=$(id -u "$user")
	for f in /etc/subuid /etc/subgid; do
		if [ "$(sub_total "$f" "$user" "$uid")" -lt 65535 ]; then
			die "user $user has no range of 65536 ids in $f, which the auto id map needs: run \`sudo usermod --add-subuids 200000-265535 --add-subgids 200000-265535 $user\` (pick a free range), or \`sudo make test\`, which runs the tests as the user $test_user it sets up"
		fi
	done
}


# prepare_work WORK USER lays out the scratch directory of the integration
# tests, owned by USER, around the binaries the caller put in it
# (WORK/integration.test and WORK/bin/sbx, the sbx under test, and
# WORK/README.md, whose examples TestREADMEExamples runs): the working
# directory of the tests and the base of their own directories (not under
# /tmp, which sbx hides behind a fresh tmpfs).
prepare_work() {
	local work=$1 user=$2
	mkdir -p "$work/bin" "$work/cwd" "$work/tmp"
	chmod 0755 "$work" "$work/bin" "$work/bin/sbx" "$work/integration.test"
	if [ "$(id -u)" -eq 0 ] && [ "$user" != root ]; then
		chown -R "$user:$(id -gn "$user")" "$work"
	fi
}

# delegate_cgroup USER DIR delegates the cgroup v2 subtree DIR (a new
# directory on a cgroup2 mount, e.g. /sys/fs/cgroup/sbx-test, whose parent
# holds no process or is the root) to USER, the way systemd does for a
# unit with Delegate=yes or a CI runner for a job: the controllers cpu
# cpuset io memory pids enabled in the parent's cgroup.subtree_control (so
# that DIR has them to enable below itself), DIR and its cgroup.procs,
# cgroup.threads and cgroup.subtree_control owned by USER, and the xattr
# trusted.delegate=1 on DIR (as systemd 251 and later mark a delegation).
# Then it makes, as USER, the leaf DIR/tests, and sets test_cgroup to it:
# run_integration and run_as_test_user start their command there, as a
# delegated service that moved itself into a leaf so that DIR may enable
# controllers for its children (the no-internal-process rule).
delegate_cgroup() {
	local user=$1 dir=$2 parent c available enabled
	parent=${dir%/*}
	[ "$(stat -fc %T "$parent" 2>/dev/null)" = cgroup2fs ] ||
		die "cannot delegate $dir: $parent is not on a cgroup2 filesystem (a cgroup v1 or hybrid host)"
	have setfattr || die "delegating a cgroup needs setfattr: run \`sudo apt-get install attr\`"
	mkdir -p "$dir" || die "cannot create the cgroup $dir"
	available=" $(<"$parent/cgroup.controllers") "
	enabled=" $(<"$parent/cgroup.subtree_control") "
	for c in cpu cpuset io memory pids; do
		[[ $available == *" $c "* ]] ||
			die "cannot delegate $dir: the controller $c is not available in $parent"
		[[ $enabled == *" $c "* ]] || echo "+$c" >"$parent/cgroup.subtree_control" ||
			die "cannot enable the controller $c in $parent/cgroup.subtree_control"
	done
	chown "$user:$(id -gn "$user")" "$dir" "$dir/cgroup.procs" "$dir/cgroup.threads" "$dir/cgroup.subtree_control" ||
		die "cannot hand $dir over to $user"
	setfattr -n trusted.delegate -v 1 "$dir" || die "cannot set the xattr trusted.delegate on $dir"
	[ -d "$dir/tests" ] || as_user "$user" mkdir "$dir/tests" </dev/null ||
		die "$user cannot create a cgroup in $dir (the delegation failed)"
	test_cgroup=$dir/tests
}

# undelegate_cgroup DIR removes the cgroup DIR and what was made below it
# (the cgroups must be empty of processes: a sandbox left running is
# reported).
undelegate_cgroup() {
	local dir=$1 d
	[ -d "$dir" ] || return 0
	while IFS= read -r d; do
		rmdir "$d" 2>/dev/null || log "cannot remove the cgroup $d (processes in it: $(tr '\n' ' ' <"$d/cgroup.procs"))"
	done < <(find "$dir" -depth -type d)
}

# enter_test_cgroup moves the calling (sub)shell into $test_cgroup, when
# delegate_cgroup set it (see as_user).
enter_test_cgroup() {
	[ -z "${test_cgroup:-}" ] || echo "$BASHPID" >"$test_cgroup/cgroup.procs" ||
		die "cannot move into the cgroup $test_cgroup"
}

# test_env USER sets the array test_env_vars to the environment commands
# run with as USER: only PATH, HOME, USER, LOGNAME and, when set,
# SBX_TEST_CGROUP (the cgroup backend the tests expect sbx to pick: none,
# cgroupfs or systemd), XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS (the
# way to USER's systemd manager), SBX_TEST_TIME_SCALE, SBX_TEST_DNS (the
# address of the DNS stub, see start_dns_stub) and SBX_OCI_RUNTIME (the
# OCI runtime the TestOCI tests use in place of sbx, e.g. /usr/sbin/runc
# to check the tests themselves).
test_env() {
	local user=$1 v
	test_env_vars=(PATH="$user_path" HOME="$(user_home "$user")" USER="$user" LOGNAME="$user")
	for v in SBX_TEST_CGROUP XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS SBX_TEST_TIME_SCALE SBX_TEST_DNS SBX_OCI_RUNTIME; do
		[ -z "${!v:-}" ] || test_env_vars+=("$v=${!v}")
	done
}

# run_as_test_user USER CMD... runs CMD as USER with the environment of
# test_env only (see as_user), from the current directory.
run_as_test_user() {
	local user=$1 test_env_vars
	shift
	test_env "$user"
	as_user "$user" env -i "${test_env_vars[@]}" "$@"
}

# cgroup_tests_skipped prints the regexp of the integration tests that
# need more than the cgroup backend $SBX_TEST_CGROUP provides, which
# run_integration leaves out: TestLimits* need a backend, TestSystemd* a
# systemd user manager (see test/cgroup_test.go; `make test` runs them in
# its VMs).
cgroup_tests_skipped() {
	case ${SBX_TEST_CGROUP:-} in
	none) echo '^Test(Limits|Systemd)' ;;
	cgroupfs) echo '^TestSystemd' ;;
	esac
}

# oci_tests matches the tests of sbx as the OCI runtime of podman and
# containerd (test/oci_podman_test.go, oci_containerd_test.go). The VMs of
# scripts/vm-test.sh leave them out (see default_tests_skipped): podman and
# containerd are too slow under TCG, and the guest lacks podman's runtime
# setup. The bundle tests (TestOCIBundle*) run there, on the VM's kernel.
oci_tests='^TestOCI(Podman|Containerd)'

# root_tests matches the integration tests that need root on the host, as
# their names say (TestOCIContainerdAsRoot: containerd runs its runtime as
# root). run_integration always leaves them out; run_root_integration runs
# them, as root.
root_tests='^TestOCI.*AsRoot'

# default_tests_skipped prints the regexp of the integration tests that
# run_integration leaves out when SBX_TEST_SKIP is unset: those of
# cgroup_tests_skipped, and in the VMs of scripts/vm-test.sh (sbx_in_vm=1,
# set by scripts/vm-guest.sh) the OCI tests ($oci_tests).
default_tests_skipped() {
	local res=() c
	c=$(cgroup_tests_skipped)
	[ -z "$c" ] || res+=("$c")
	[ -z "${sbx_in_vm:-}" ] || res+=("$oci_tests")
	(
		IFS='|'
		echo "${res[*]}"
	)
}

# integration_summary LOG STATUS LABEL prints the summary of the test run
# logged in LOG, which exited with STATUS, and its failures.
integration_summary() {
	local log=$1 status=$2 label=$3 passed failed skipped
	passed=$(grep -c -- '--- PASS:' "$log" || true)
	failed=$(grep -c -- '--- FAIL:' "$log" || true)
	skipped=$(grep -c -- '--- SKIP:' "$log" || true)
	if [ "$status" -ne 0 ]; then
		grep -- '--- FAIL:' "$log" >&2 || true
		[ "$failed" -gt 0 ] || failed=1 # it died before reporting
	fi
	echo "$label: $passed passed, $failed failed, $skipped skipped"
}

# run_integration WORK USER runs the integration tests of WORK (see
# prepare_work) as USER, from WORK/cwd, with a clean environment (see
# test_env) and no descriptor but 0, 1 and 2, in the cgroup $test_cgroup
# when set (see delegate_cgroup), logs them to WORK/integration.log as
# well, prints a summary and returns their exit status. SBX_TEST_RUN=REGEXP
# selects tests, SBX_TEST_SKIP=REGEXP leaves tests out (default: see
# default_tests_skipped; set empty, none), SBX_TEST_TIMEOUT (default 20m)
# is the test binary's limit, SBX_TEST_TIME_SCALE=N (passed on) stretches
# the few tests that count what is done within a time, on a machine N
# times slower (a VM under TCG). The tests that need root ($root_tests)
# are always left out: see run_root_integration.
run_integration() {
	local work=$1 user=$2 status errexit= skip
	case $- in *e*) errexit=1 ;; esac
	skip=${SBX_TEST_SKIP-$(default_tests_skipped)}
	skip=${skip:+$skip|}$root_tests
	log "integration tests as $user ($work)${test_cgroup:+ in the cgroup $test_cgroup}${SBX_TEST_CGROUP:+, cgroup backend expected: $SBX_TEST_CGROUP}, not run: $skip"
	set +e
	(
		cd "$work/cwd" &&
			run_as_test_user "$user" \
				SBX_BINARY="$work/bin/sbx" SBX_TEST_DIR="$work/tmp" SBX_README="$work/README.md" \
				"$work/integration.test" -test.v -test.timeout="${SBX_TEST_TIMEOUT:-20m}" \
				${SBX_TEST_RUN:+-test.run="$SBX_TEST_RUN"} -test.skip="$skip"
	) </dev/null 2>&1 | tee "$work/integration.log"
	status=${PIPESTATUS[0]}
	[ -z "$errexit" ] || set -e
	integration_summary "$work/integration.log" "$status" integration
	return "$status"
}

# prepare_root_work WORK lays out, as root, the scratch directory of the
# integration tests that need root (see run_root_integration) around the
# binaries the caller put in it (WORK/integration.test and WORK/bin/sbx):
# WORK is a directory of root's own, out of the test user's reach (not in
# the test user's scratch directory, whose entries that user could
# replace), with the working directory of the tests and the base of their
# own directories.
prepare_root_work() {
	local work=$1
	[ "$(id -u)" -eq 0 ] || die "prepare_root_work: only root"
	mkdir -p "$work/bin" "$work/cwd" "$work/tmp"
	chown -R root:root "$work"
	chmod 0700 "$work"
	chmod 0755 "$work/bin/sbx" "$work/integration.test"
}

# run_root_integration WORK runs, as root, the integration tests of WORK
# (see prepare_root_work) that need root ($root_tests; of those, only the
# ones SBX_TEST_RUN selects when set, and not those SBX_TEST_SKIP leaves
# out), from WORK/cwd, with a clean environment (PATH, HOME, USER,
# LOGNAME, SBX_TEST_TIME_SCALE, SBX_OCI_RUNTIME), no descriptor but 0, 1
# and 2, and neither in the test user's cgroup nor in the mount namespace
# of the DNS stub. It logs them to WORK/integration.log as well, prints a
# summary and returns their exit status (0 when SBX_TEST_RUN selects none
# of them).
run_root_integration() {
	local work=$1 status errexit= run=${SBX_TEST_RUN:-} top rest tests v vars
	[ "$(id -u)" -eq 0 ] || die "run_root_integration: only root may run the tests that need root"
	# The top-level tests both $root_tests and SBX_TEST_RUN select; the
	# part of SBX_TEST_RUN after its first / (subtests) is kept.
	top=${run:-.}
	top=${top%%/*}
	rest=${run#"$top"}
	tests=$(comm -12 <("$work/integration.test" -test.list "$root_tests" </dev/null | grep '^Test' | sort) \
		<("$work/integration.test" -test.list "$top" </dev/null | grep '^Test' | sort) | paste -sd '|')
	if [ -z "$tests" ]; then
		log "no integration test that needs root selected (${SBX_TEST_RUN:+SBX_TEST_RUN=$SBX_TEST_RUN, }$root_tests)"
		return 0
	fi
	vars=(PATH="$user_path" HOME=/root USER=root LOGNAME=root
		SBX_BINARY="$work/bin/sbx" SBX_TEST_DIR="$work/tmp")
	for v in SBX_TEST_TIME_SCALE SBX_OCI_RUNTIME; do
		[ -z "${!v:-}" ] || vars+=("$v=${!v}")
	done
	log "integration tests that need root, as root ($work): ^($tests)\$$rest"
	case $- in *e*) errexit=1 ;; esac
	set +e
	(
		close_extra_fds
		cd "$work/cwd" &&
			exec env -i "${vars[@]}" \
				"$work/integration.test" -test.v -test.timeout="${SBX_TEST_TIMEOUT:-20m}" \
				-test.run="^($tests)\$$rest" ${SBX_TEST_SKIP:+-test.skip="$SBX_TEST_SKIP"}
	) </dev/null 2>&1 | tee "$work/integration.log"
	status=${PIPESTATUS[0]}
	[ -z "$errexit" ] || set -e
	integration_summary "$work/integration.log" "$status" "integration (root)"
	return "$status"
}

#!/usr/bin/env bash
# Measures sbx next to bubblewrap, unshare/nsenter, runc, for --net
# rootlesskit, and as podman's OCI runtime next to runc and crun
# (bench/main.go, bench/net.go, bench/oci.go) and runs the Go benchmarks of
# the hot paths. A benchmark, not a test: it fails only when it cannot run,
# never on a figure.
#
# As root it first installs the peers that are missing (bubblewrap, runc,
# busybox-static for runc's bundle and podman's image, uidmap, passt and
# slirp4netns, podman with crun and catatonit, its pause process) and sets
# up the unprivileged user $SBX_TEST_USER (default sbxtest), then measures
# as that user. As any other user it measures as that user, with whatever
# peers are installed. rootlesskit is built with go install
# ($SBX_BENCH_ROOTLESSKIT, a module path@version); without it, the network
# sections say so.
#
# SBX_BENCH_ONLY=SECTION,... runs only those sections of bench/main.go (see
# its -only; "net" is the four network ones) and skips the Go benchmarks;
# SBX_BENCH_ROUNDS sets its rounds.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=1
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

if [ "$(id -u)" -eq 0 ]; then
	pkgs=()
	have bwrap || pkgs+=(bubblewrap)
	have runc || pkgs+=(runc)
	have busybox || pkgs+=(busybox-static)
	{ have newuidmap && have newgidmap; } || pkgs+=(uidmap)
	have setpriv || pkgs+=(util-linux)
	have pasta || pkgs+=(passt)
	have slirp4netns || pkgs+=(slirp4netns)
	have podman || pkgs+=(podman)
	have crun || pkgs+=(crun)
	have catatonit || [ -x /usr/libexec/podman/catatonit ] || pkgs+=(catatonit)
	if [ "${#pkgs[@]}" -gt 0 ]; then
		log "installing ${pkgs[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends "${pkgs[@]}" </dev/null ||
			{ apt-get update </dev/null && apt-get install -y --no-install-recommends "${pkgs[@]}" </dev/null; }
	fi
	ensure_user
	run_user=$test_user
else
	run_user=$(id -un)
fi

only=${SBX_BENCH_ONLY:-}
if [ -z "$only" ]; then
	log "Go benchmarks of the hot paths"
	go test -run '^$' -bench . -benchmem ./sandbox ./plan ./usermap ./seccomp
fi

make --no-print-directory build
work=$(mktemp -d /var/tmp/sbx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/bench" ./bench
# The start of sbx version is measured next to that of an empty static Go
# program (bench runs as a user who may have no go on its PATH).
CGO_ENABLED=0 go build -o "$work/empty" ./bench/empty
install -m 0755 bin/sbx "$work/sbx"
# rootlesskit, the peer of the network sections: what Docker's and
# Podman's rootless modes start their slirp4netns or pasta with.
rootlesskit=()
if [ -z "$only" ] || [[ ",$only," == *,net* ]]; then
	rk_pkg=${SBX_BENCH_ROOTLESSKIT:-github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit@latest}
	log "go install $rk_pkg"
	if GOBIN="$work" go install "$rk_pkg" </dev/null && [ -x "$work/rootlesskit" ]; then
		rootlesskit=(-rootlesskit "$work/rootlesskit")
	else
		log "rootlesskit could not be built: the network sections go without it"
	fi
fi
chmod 0755 "$work"
[ "$(id -u)" -ne 0 ] || chown -R "$test_user" "$work"

log "sbx and its peers, as $run_user"
(
	cd "$work" &&
		as_user "$run_user" env -i PATH="$user_path" HOME="$(user_home "$run_user")" TMPDIR="$work" \
			"$work/bench" -sbx "$work/sbx" -empty "$work/empty" "${rootlesskit[@]}" \
			${SBX_BENCH_ROUNDS:+-rounds "$SBX_BENCH_ROUNDS"} ${only:+-only "$only"}
) </dev/null

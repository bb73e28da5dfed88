#!/usr/bin/env bash
# Runs every test of sbx: gofmt, go vet, the unit tests, and the integration
# tests in ./test, which must run as an unprivileged user.
#
# As root it first sets up what the tests need, idempotently:
#   - the Debian packages uidmap (newuidmap, newgidmap) and busybox-static,
#     and what building sbx needs (scripts/build-deps.sh), if missing;
#   - the user $SBX_TEST_USER (default sbxtest), with ranges in /etc/subuid
#     and /etc/subgid;
# then runs the unit tests as root and the integration tests as that user,
# from a fresh directory it owns, with a clean environment and no file
# descriptor but 0, 1 and 2.
#
# As any other user it checks the same prerequisites, fails naming the fix
# when one is missing, and runs everything as that user.
#
# Set SBX_KEEP=1 to keep the scratch directory of the integration tests, and
# SBX_TEST_RUN=REGEXP to run only the integration tests it matches.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=1

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# missing_packages prints the Debian packages that provide missing tools.
missing_packages() {
	local pkgs=()
	{ have newuidmap && have newgidmap; } || pkgs+=(uidmap)
	have busybox || pkgs+=(busybox-static)
	have gcc || pkgs+=(gcc libc6-dev)
	have setpriv || pkgs+=(util-linux)
	printf '%s\n' "${pkgs[@]}"
}

install_packages() {
	local pkgs
	mapfile -t pkgs < <(missing_packages)
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

# check_prerequisites fails, naming the fix, when something the tests need
# is missing. $1 is the user the integration tests run as.
check_prerequisites() {
	local user=$1 pkgs uid f
	mapfile -t pkgs < <(missing_packages)
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


bash scripts/build-deps.sh
if [ "$(id -u)" -eq 0 ]; then
	install_packages
	ensure_user
	ensure_negative_group
	run_user=$test_user
else
	run_user=$(id -un)
fi
check_prerequisites "$run_user"
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
cleanup() {
	if [ "${SBX_KEEP:-}" = 1 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
go test -c -o "$work/integration.test" ./test/

# The scratch directory, owned by the test user: the sbx binary under test,
# the working directory of the tests, and the base of their own directories
# (not under /tmp, which sbx hides behind a fresh tmpfs).
mkdir -p "$work/bin" "$work/cwd" "$work/tmp"
install -m 0755 bin/sbx "$work/bin/sbx"
chmod 0755 "$work" "$work/integration.test"
if [ "$(id -u)" -eq 0 ]; then
	chown -R "$test_user:$(id -gn "$test_user")" "$work"
fi

home=$(user_home "$run_user")
log "integration tests as $run_user ($work)"
set +e
(
	cd "$work/cwd" &&
		as_user "$run_user" env -i \
			PATH="$user_path" HOME="$home" USER="$run_user" LOGNAME="$run_user" \
			SBX_BINARY="$work/bin/sbx" SBX_TEST_DIR="$work/tmp" \
			"$work/integration.test" -test.v -test.timeout=20m ${SBX_TEST_RUN:+-test.run="$SBX_TEST_RUN"}
) </dev/null 2>&1 | tee "$work/integration.log"
status=${PIPESTATUS[0]}
set -e

passed=$(grep -c -- '--- PASS:' "$work/integration.log" || true)
failed=$(grep -c -- '--- FAIL:' "$work/integration.log" || true)
skipped=$(grep -c -- '--- SKIP:' "$work/integration.log" || true)
if [ "$status" -ne 0 ]; then
	grep -- '--- FAIL:' "$work/integration.log" >&2 || true
	[ "$failed" -gt 0 ] || failed=1 # it died before reporting
fi
echo "integration: $passed passed, $failed failed, $skipped skipped"
exit "$status"

#!/usr/bin/env bash
# Makes sure what building sbx needs is there: gcc and the C library
# headers for cgo, pkg-config and libseccomp's headers and static archive
# (Debian: libseccomp-dev). As root it installs what is missing; as any other
# user it fails, naming the command that fixes it.
set -euo pipefail

missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! pkg-config --exists libseccomp 2>/dev/null ||
	[ ! -e "$(pkg-config --variable=libdir libseccomp 2>/dev/null)/libseccomp.a" ]; then
	missing+=(libseccomp-dev)
fi
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "building sbx needs the Debian packages ${missing[*]}: run \`sudo apt-get install ${missing[*]}\`" >&2
	exit 1
fi
echo "==> installing ${missing[*]} (needed to build sbx)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" </dev/null; then
	apt-get update </dev/null
	apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi

# Shell functions shared by scripts/test.sh and scripts/bench.sh: setting
# up the unprivileged user sbx is tested and measured as, and running
# commands as that user. Source it; it sets nothing else.

test_user=${SBX_TEST_USER:-sbxtest}
sub_count=65536
sub_floor=200000
user_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '==> %s\n' "$*"; }
die() {
	printf '${0##*/}: error: %s\n' "$*" >&2
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

# as_user USER CMD... runs CMD as USER (or as is, when USER is the current
# user), with no file descriptor open but 0, 1 and 2.
as_user() {
	local user=$1
	shift
	(
		for fd in /proc/"$BASHPID"/fd/*; do
			fd=${fd##*/}
			if [ "$fd" -gt 2 ]; then
				eval "exec $fd>&-" 2>/dev/null || true
			fi
		done
		if [ "$(id -un)" = "$user" ]; then
			exec "$@"
		fi
		exec setpriv --reuid="$user" --regid="$user" --init-groups "$@"
	)
}

user_home() { getent passwd "$1" | cut -d: -f6; }

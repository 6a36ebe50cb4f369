#!/usr/bin/env bash
# Fetches Debian's Go toolchains into a cache outside the repository, never
# installing them into the system: a private apt configuration that reuses the
# machine's own Debian mirror (the first URIs: line of
# /etc/apt/sources.list.d/debian.sources) with the suites that package each
# version, `apt-get download` of golang-1.NN-go and golang-1.NN-src, and
# `dpkg -x` of both. A version already in the cache is not fetched again.
#
#   fetch-go.sh CACHE_DIR 1.21 1.22 ...      -> CACHE_DIR/go1.NN/usr/lib/go-1.NN
#
# Suites (checked on these machines): bookworm-backports has 1.21-1.23,
# trixie 1.24, sid 1.26 and 1.27. Go 1.20 and 1.25 are packaged in none.
set -euo pipefail
cache=$1; shift
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

suite_of() {
	case $1 in
		1.21|1.22|1.23) echo bookworm-backports ;;
		1.24) echo trixie ;;
		1.26|1.27) echo sid ;;
		*) echo "fetch-go.sh: Debian packages no Go $1 toolchain (known: 1.21-1.24, 1.26, 1.27)" >&2; return 1 ;;
	esac
}

missing=()
for v in "$@"; do
	suite_of "$v" >/dev/null
	[ -x "$cache/go$v/usr/lib/go-$v/bin/go" ] || missing+=("$v")
done
[ ${#missing[@]} -eq 0 ] && exit 0

. "$(dirname "$0")/private-apt.sh"
private_apt "$cache"
echo "  APT    Go toolchains ${missing[*]} (private sources list, the machine's own Debian mirror)"
apt-get "${apt_opts[@]}" update

for v in "${missing[@]}"; do
	work="$cache/.dl-$v"
	rm -rf "$work" && mkdir -p "$work"
	(cd "$work" && apt-get "${apt_opts[@]}" download "golang-$v-go/$(suite_of "$v")" "golang-$v-src/$(suite_of "$v")")
	rm -rf "$cache/go$v.tmp" && mkdir -p "$cache/go$v.tmp"
	for deb in "$work"/*.deb; do dpkg -x "$deb" "$cache/go$v.tmp"; done
	"$cache/go$v.tmp/usr/lib/go-$v/bin/go" version >/dev/null
	rm -rf "$cache/go$v" && mv "$cache/go$v.tmp" "$cache/go$v"
	rm -rf "$work"
	echo "  GO     $("$cache/go$v/usr/lib/go-$v/bin/go" version) in $cache/go$v"
done

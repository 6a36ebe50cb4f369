#!/usr/bin/env bash
# Fetches a newer grpc-go source tree from Debian into a private GOPATH outside
# the repository, never installing it into the system: the same private apt
# configuration as fetch-go.sh (the machine's own Debian mirror, the first
# URIs: line of /etc/apt/sources.list.d/debian.sources), `apt-get download`
# of the golang-*-dev packages the test server tests/goservers/grpc needs,
# from one suite, and `dpkg -x` of each. A tree already in the cache is not
# fetched again.
#
#   fetch-grpc.sh CACHE_DIR trixie|sid   -> CACHE_DIR/grpc-SUITE/gopath/src/...
#
# Build with it in GOPATH mode, the newer tree first and without
# /usr/share/gocode (Debian 12's grpc 1.33.3 would be picked up):
#   GOPATH=CACHE_DIR/grpc-SUITE/gopath:tests/goservers/gopath GO111MODULE=off GOFLAGS= go build
# Checked: trixie (grpc 1.64.0) with Go 1.24 and 1.27, sid (grpc 1.81.1) with Go 1.24 and 1.27.
set -euo pipefail
cache=$1 suite=$2
case $suite in
	trixie|sid) ;;
	*) echo "fetch-grpc.sh: suite must be trixie or sid (bookworm's grpc 1.33.3 is /usr/share/gocode)" >&2; exit 1 ;;
esac
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
dest="$cache/grpc-$suite"
[ -f "$dest/gopath/src/google.golang.org/grpc/server.go" ] && exit 0

# What grpc, grpc/health and grpc/status import, package by package (go list -deps).
pkgs=(golang-google-grpc-dev golang-google-protobuf-dev golang-google-genproto-dev
	golang-github-golang-protobuf-1-5-dev golang-golang-x-net-dev golang-golang-x-sys-dev
	golang-golang-x-text-dev)

. "$(dirname "$0")/private-apt.sh"
private_apt "$cache"
echo "  APT    grpc-go from $suite (private sources list, the machine's own Debian mirror)"
apt-get "${apt_opts[@]}" update

work="$cache/.dl-grpc-$suite"
rm -rf "$work" "$dest.tmp" && mkdir -p "$work" "$dest.tmp"
(cd "$work" && apt-get "${apt_opts[@]}" download "${pkgs[@]/%//$suite}")
for deb in "$work"/*.deb; do
	dpkg -x "$deb" "$dest.tmp"
	echo "  DEB    $(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version) ($(( $(stat -c %s "$deb") / 1024 )) KiB)"
done
ver=$(dpkg-deb -f "$work"/golang-google-grpc-dev_*.deb Version)
mv "$dest.tmp/usr/share/gocode" "$dest.tmp/gopath"
rm -rf "$dest.tmp/usr"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
rm -rf "$work"
echo "  GRPC   grpc-go $ver ($suite) in $dest/gopath"

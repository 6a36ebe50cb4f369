#!/bin/sh
# Builds the Debian package: build-deb.sh VERSION SONDE_BINARY OUT_DEB
#   VERSION       from Directory.Build.props (the Makefile reads it there)
#   SONDE_BINARY  the self-contained single-file sonde (make deb publishes it)
# Staging happens in OUT_DEB's directory (deb-root); dpkg-deb builds with
# root ownership, so no fakeroot is needed. See packaging/README.md.
set -eu

version=$1
binary=$2
deb=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
root=$(cd "$(dirname "$deb")" && pwd)/deb-root

# The changelog's newest entry must be this version: it dates the build
# (SOURCE_DATE_EPOCH: file times and the man page) and lintian compares them.
changelog_version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
if [ "$changelog_version" != "$version" ]; then
	echo "build-deb.sh: packaging/debian/changelog starts with $changelog_version, the version is $version: add an entry" >&2
	exit 1
fi
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH
date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

rm -rf "$root"
umask 022
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/sonde" \
	"$root/usr/share/man/man1" "$root/usr/share/doc/sonde" "$root/usr/share/lintian/overrides"

install -m 0755 "$binary" "$root/usr/bin/sonde"
install -m 0644 "$here/sonde.service" "$root/lib/systemd/system/sonde.service"
install -m 0644 "$here/sonde.json" "$root/etc/sonde/sonde.json"
sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/g" "$here/sonde.1" | gzip -9n > "$root/usr/share/man/man1/sonde.1.gz"
install -m 0644 "$here/lintian/sonde" "$root/usr/share/lintian/overrides/sonde"
install -m 0644 "$here/debian/copyright" "$root/usr/share/doc/sonde/copyright"
gzip -9n < "$here/debian/changelog" > "$root/usr/share/doc/sonde/changelog.gz"
# Uncompressed: sonde.service's Documentation= points at it.
install -m 0644 "$repo/README.md" "$root/usr/share/doc/sonde/README.md"

for script in postinst prerm postrm; do
	install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
install -m 0644 "$here/debian/conffiles" "$root/DEBIAN/conffiles"

# Run-time dependencies: the ELF's own (dpkg-shlibdeps reads its NEEDED
# libraries and symbol versions), plus libbpf, which sonde opens at run time
# (P/Invoke: dlopen, so no NEEDED entry). 1.0 is the first libbpf with the
# API sonde calls without the deprecated compatibility modes.
# dpkg-shlibdeps wants a source tree's debian/control: give it a minimal one.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/debian"
printf 'Source: sonde\n\nPackage: sonde\nArchitecture: amd64\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O "$root/usr/bin/sonde" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
if [ -z "$shlibs" ]; then
	echo "build-deb.sh: dpkg-shlibdeps found no dependencies of $binary" >&2
	exit 1
fi
depends="$shlibs, libbpf1 (>= 1:1.0)"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@DEPENDS@/$depends/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
	-e "s/@MAINTAINER@/$(dpkg-parsechangelog -l "$here/debian/changelog" -S Maintainer)/" \
	"$here/debian/control.in" > "$root/DEBIAN/control"

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "  DEB    $deb ($(du -h "$deb" | cut -f1), depends: $depends)"

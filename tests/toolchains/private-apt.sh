# Sourced by fetch-go.sh and fetch-grpc.sh: `private_apt CACHE_DIR` sets
# apt_opts, the options that point apt-get at a private sources list in
# CACHE_DIR/apt, never the system's: the machine's own Debian mirror (the
# first URIs: line of /etc/apt/sources.list.d/debian.sources, read here, never
# written into a file of the repository) with the suites bookworm-backports,
# trixie and sid, and private lists and caches. Run `apt-get "${apt_opts[@]}"
# update` before downloading.
private_apt() {
	local cache=$1 sources=/etc/apt/sources.list.d/debian.sources uri list s
	uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$sources" | head -1)
	[ -n "$uri" ] || { echo "$(basename "$0"): no URIs: line in $sources to take the Debian mirror from" >&2; return 1; }
	mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial"
	list="$cache/apt/sources.list"
	: > "$list"
	for s in bookworm-backports trixie sid; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $s main" >> "$list"
	done
	apt_opts=(-o Dir::Etc::sourcelist="$list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$cache/apt/lists"
		-o Dir::Cache="$cache/apt" -o Dir::State::status=/var/lib/dpkg/status -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq)
}

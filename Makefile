# Sonde build. `make` builds the BPF objects and publishes out/sonde;
# `make deb` builds the Debian package (out/sonde_VERSION_amd64.deb);
# `make test` installs what it needs, builds and runs every test, the
# package's included;
# `make demo` traces the bundled demo service. Quiet unless V=1.

OUT      := out
BPF_OUT  := $(OUT)/bpf
GO_OUT   := $(OUT)/goservers
CLANG    ?= clang
BPFTOOL  ?= bpftool
DOTNET   ?= dotnet
ARCH     := x86
CONFIG   ?= Release

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Debian 12 packages the build and the tests need (see README).
APT_PACKAGES := clang llvm libbpf-dev libbpf1 bpftool golang-go curl linux-libc-dev \
	golang-github-gin-gonic-gin-dev binutils hey wrk systemd prometheus \
	dpkg-dev lintian bpftrace \
	golang-github-gorilla-mux-dev golang-github-go-chi-chi-dev golang-github-labstack-echo-dev \
	golang-github-julienschmidt-httprouter-dev golang-google-grpc-dev \
	postgresql redis-server golang-github-lib-pq-dev golang-github-gomodule-redigo-dev dnsmasq-base

# Go builds come from Debian's packages only: GOPATH mode, no module download.
# tests/goservers/gopath holds what the test servers share (package sondetest).
GO_LIB := $(wildcard tests/goservers/gopath/src/*/*)
GOENV := GOPATH=/usr/share/gocode:$(abspath tests/goservers/gopath) GO111MODULE=off GOFLAGS= GOCACHE=$(abspath $(OUT))/gocache
GOSERVERS := $(addprefix $(GO_OUT)/,nethttp nethttp-stripped nethttp-pie nethttp-static breakdown breakdown-stripped \
	gin gin-stripped demo)

# The Go toolchain matrix: Debian's golang-1.NN packages, fetched (never
# installed) into GO_CACHE by tests/toolchains/fetch-go.sh, besides the
# system's Go 1.19 (golang-go). Each server is built once per toolchain into
# $(GO_OUT)/go1.NN/ and shared by every test: stripped for every version, and
# the unstripped Gin server whose DWARF `make layouts` reads, and the peers
# server (the client probes' sites and offsets are checked on each); for the newest
# also unstripped, static and PIE, and the breakdown server (the oldest, 1.19,
# has all of them above); for both, a static build with no .go.buildinfo. Go 1.20 and 1.25 are packaged in no
# Debian suite.
GO_CACHE  ?= /var/cache/sonde-go
GO_MATRIX := 1.21 1.22 1.23 1.24 1.26 1.27
GO_NEWEST := 1.27
# Versions whose requests carry the ServeMux pattern that matched (Request.Pattern, Go 1.23+):
# the ServeMux-patterns server (tests/goservers/mux) is built with these.
GO_PATTERNS := 1.23 1.24 1.26 1.27
goroot     = $(GO_CACHE)/go$(1)/usr/lib/go-$(1)
GOSERVERS += $(foreach v,$(GO_MATRIX),$(addprefix $(GO_OUT)/go$(v)/,nethttp-stripped gin-stripped gin)) \
	$(addprefix $(GO_OUT)/go$(GO_NEWEST)/,nethttp nethttp-pie nethttp-static breakdown breakdown-stripped) \
	$(GO_OUT)/go1.24/breakdown-stripped \
	$(GO_OUT)/nethttp-nobuildinfo $(addprefix $(GO_OUT)/go$(GO_NEWEST)/,nethttp-nobuildinfo gin-static gin-nobuildinfo) \
	$(foreach v,$(GO_PATTERNS),$(GO_OUT)/go$(v)/mux-stripped) $(GO_OUT)/go$(GO_NEWEST)/mux \
	$(GO_OUT)/peers $(foreach v,$(GO_MATRIX),$(GO_OUT)/go$(v)/peers) $(GO_OUT)/go$(GO_NEWEST)/peers-stripped
# Servers on Debian's routers and grpc-go (tests/goservers/<name>), with the
# oldest Go and the newest, with and without symbols.
ROUTERS := chi echo gorillamux httprouter grpc
GOSERVERS += $(foreach r,$(ROUTERS),$(GO_OUT)/$(r) $(GO_OUT)/$(r)-stripped $(GO_OUT)/go$(GO_NEWEST)/$(r) $(GO_OUT)/go$(GO_NEWEST)/$(r)-stripped)
# The grpc server again with the newer grpc-go of trixie (1.64) and sid (1.81),
# fetched (never installed) into GO_CACHE by tests/toolchains/fetch-grpc.sh,
# built with the newest Go: go$(GO_NEWEST)/grpc-SUITE[-stripped].
GRPC_SUITES := trixie sid
GOSERVERS += $(foreach s,$(GRPC_SUITES),$(GO_OUT)/go$(GO_NEWEST)/grpc-$(s) $(GO_OUT)/go$(GO_NEWEST)/grpc-$(s)-stripped)

# $(call matrix-rules,1.NN): the toolchain's fetch and its server builds.
define matrix-rules
$(call goroot,$(1))/bin/go:
	$(Q)tests/toolchains/fetch-go.sh $(GO_CACHE) $(1)

$(GO_OUT)/go$(1)/%-stripped: tests/goservers/%/main.go $(GO_LIB) | $(call goroot,$(1))/bin/go
	@echo "  GO$(1) $$@"
	$(Q)mkdir -p $$(@D) && cd tests/goservers/$$* && $(call goenv,$(1)) go build -ldflags="-s -w" -o $$(abspath $$@) .
$(GO_OUT)/go$(1)/%-pie: tests/goservers/%/main.go $(GO_LIB) | $(call goroot,$(1))/bin/go
	@echo "  GO$(1) $$@"
	$(Q)mkdir -p $$(@D) && cd tests/goservers/$$* && CGO_ENABLED=1 $(call goenv,$(1)) go build -buildmode=pie -o $$(abspath $$@) .
$(GO_OUT)/go$(1)/%-static: tests/goservers/%/main.go $(GO_LIB) | $(call goroot,$(1))/bin/go
	@echo "  GO$(1) $$@"
	$(Q)mkdir -p $$(@D) && cd tests/goservers/$$* && CGO_ENABLED=0 $(call goenv,$(1)) go build -o $$(abspath $$@) .
$(GO_OUT)/go$(1)/%: tests/goservers/%/main.go $(GO_LIB) | $(call goroot,$(1))/bin/go
	@echo "  GO$(1) $$@"
	$(Q)mkdir -p $$(@D) && cd tests/goservers/$$* && $(call goenv,$(1)) go build -o $$(abspath $$@) .
endef
goenv = GOROOT=$(call goroot,$(1)) PATH=$(call goroot,$(1))/bin:$$$$PATH GOTOOLCHAIN=local $(GOENV)

# $(call grpc-rules,SUITE): the suite's grpc-go tree, and the server built on it
# (its GOPATH last in the environment, so it replaces GOENV's).
grpc_gopath = $(GO_CACHE)/grpc-$(1)/gopath
define grpc-rules
$(call grpc_gopath,$(1))/src/google.golang.org/grpc/server.go:
	$(Q)tests/toolchains/fetch-grpc.sh $(GO_CACHE) $(1)

$(GO_OUT)/go$(GO_NEWEST)/grpc-$(1): tests/goservers/grpc/main.go $(GO_LIB) | $(call goroot,$(GO_NEWEST))/bin/go $(call grpc_gopath,$(1))/src/google.golang.org/grpc/server.go
	@echo "  GO$(GO_NEWEST) $$@ (grpc-go from $(1))"
	$(Q)mkdir -p $$(@D) && cd tests/goservers/grpc && $(call goenv,$(GO_NEWEST)) GOPATH=$(call grpc_gopath,$(1)):$(abspath tests/goservers/gopath) go build -o $$(abspath $$@) .
$(GO_OUT)/go$(GO_NEWEST)/grpc-$(1)-stripped: tests/goservers/grpc/main.go $(GO_LIB) | $(call goroot,$(GO_NEWEST))/bin/go $(call grpc_gopath,$(1))/src/google.golang.org/grpc/server.go
	@echo "  GO$(GO_NEWEST) $$@ (grpc-go from $(1))"
	$(Q)mkdir -p $$(@D) && cd tests/goservers/grpc && $(call goenv,$(GO_NEWEST)) GOPATH=$(call grpc_gopath,$(1)):$(abspath tests/goservers/gopath) go build -ldflags="-s -w" -o $$(abspath $$@) .
endef

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.bpf.o,$(BPF_SRCS))
CS_SRCS  := $(shell find daemon interop -name '*.cs' -o -name '*.csproj' -o -name '*.proto' -o -name '*.tsv' 2>/dev/null | grep -v /obj/ | grep -v /bin/)

.DELETE_ON_ERROR:
.PHONY: all deps bpf goservers test demo clean deb layouts

# The one version (Directory.Build.props) names the package.
VERSION := $(shell sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
DEB     := $(OUT)/sonde_$(VERSION)_amd64.deb

all: $(OUT)/sonde

# Installs whichever of the Debian packages in $(1) are missing.
define apt-install
	$(Q)missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "  APT    $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt-install,$(APT_PACKAGES))
	$(Q)tests/toolchains/fetch-go.sh $(GO_CACHE) $(GO_MATRIX)

# vmlinux.h is generated from the running kernel's BTF: CO-RE relocates
# field offsets at load time, so any kernel with BTF works with these objects.
$(BPF_OUT)/vmlinux.h:
	$(Q)mkdir -p $(@D)
	@echo "  BTF    $@"
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(BPF_OUT)/vmlinux.h
	@echo "  BPF    $@"
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) \
		-I$(BPF_OUT) -Ibpf -c $< -o $@

# x86-64 syscall numbers -> names, from the kernel's uapi header (linux-libc-dev).
$(BPF_OUT)/syscalls.tsv: /usr/include/x86_64-linux-gnu/asm/unistd_64.h
	@echo "  GEN    $@"
	$(Q)mkdir -p $(@D) && sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9]*\)$$/\2\t\1/p' $< > $@

bpf: $(BPF_OBJS) $(BPF_OUT)/syscalls.tsv

$(OUT)/sonde: $(BPF_OBJS) $(BPF_OUT)/syscalls.tsv $(CS_SRCS)
	@echo "  DOTNET $@"
	$(Q)$(DOTNET) publish daemon/Sonde.csproj -c $(CONFIG) -r linux-x64 --self-contained false \
		-p:PublishReadyToRun=true -o $(OUT)/publish --nologo -v quiet
	$(Q)ln -sf publish/sonde $(OUT)/sonde

# The package's sonde: self-contained single file, ReadyToRun, trimmed
# (daemon/Sonde.csproj, SondeSelfContained). Its own obj/bin under out/.
$(OUT)/package/sonde: $(BPF_OBJS) $(BPF_OUT)/syscalls.tsv $(CS_SRCS) Directory.Build.props
	@echo "  DOTNET $@ (self-contained)"
	$(Q)$(DOTNET) publish daemon/Sonde.csproj -c $(CONFIG) -p:SondeSelfContained=true -o $(OUT)/package --nologo -v quiet

$(DEB): $(OUT)/package/sonde $(wildcard packaging/* packaging/debian/* packaging/lintian/*) README.md
	$(Q)packaging/build-deb.sh $(VERSION) $(OUT)/package/sonde $@

deb: $(DEB)

$(GO_OUT)/%-stripped: tests/goservers/%/main.go $(GO_LIB)
	@echo "  GO     $@"
	$(Q)mkdir -p $(@D) && cd tests/goservers/$* && $(GOENV) go build -ldflags="-s -w" -o $(abspath $@) .
$(GO_OUT)/%-pie: tests/goservers/%/main.go $(GO_LIB)
	@echo "  GO     $@"
	$(Q)mkdir -p $(@D) && cd tests/goservers/$* && CGO_ENABLED=1 $(GOENV) go build -buildmode=pie -o $(abspath $@) .
$(GO_OUT)/%-static: tests/goservers/%/main.go $(GO_LIB)
	@echo "  GO     $@"
	$(Q)mkdir -p $(@D) && cd tests/goservers/$* && CGO_ENABLED=0 $(GOENV) go build -o $(abspath $@) .
$(GO_OUT)/%: tests/goservers/%/main.go $(GO_LIB)
	@echo "  GO     $@"
	$(Q)mkdir -p $(@D) && cd tests/goservers/$* && $(GOENV) go build -o $(abspath $@) .

$(foreach v,$(GO_MATRIX),$(eval $(call matrix-rules,$(v))))
$(foreach s,$(GRPC_SUITES),$(eval $(call grpc-rules,$(s))))

# A static, stripped binary whose .go.buildinfo was removed after linking
# (it still runs): only runtime.buildVersion tells its Go version.
$(GO_OUT)/%-nobuildinfo: $(GO_OUT)/%-static
	@echo "  STRIP  $@"
	$(Q)objcopy --strip-all --remove-section .go.buildinfo $< $@

goservers: $(GOSERVERS)

# The last lines name each failed test, then "N passed, N failed, N skipped",
# read from the TRX report.
test: deps all goservers deb
	$(Q)rm -rf $(OUT)/test-results
	$(Q)SONDE_GO_CACHE=$(GO_CACHE) SONDE_GOSERVERS=$(abspath $(GO_OUT)) SONDE_DEB=$(abspath $(DEB)) $(DOTNET) test tests/Sonde.Tests/Sonde.Tests.csproj \
		-c $(CONFIG) --nologo --logger "console;verbosity=normal" \
		--logger "trx;LogFileName=sonde.trx" --results-directory $(OUT)/test-results; \
	rc=$$?; \
	trx=$(OUT)/test-results/sonde.trx; \
	if [ -f $$trx ]; then \
		tests/trx-failures.py $$trx; \
		c() { grep -o "<Counters [^>]*" $$trx | grep -o " $$1=\"[0-9]*\"" | grep -o "[0-9]*"; }; \
		echo "$$(c passed) passed, $$(c failed) failed, $$(( $$(c total) - $$(c executed) )) skipped"; \
	fi; \
	exit $$rc

# Regenerates daemon/GoBinary/GoLayouts.tsv from every toolchain of the matrix
# and the system's Go: offsets from DWARF of its Gin server (read by Sonde's
# DWARF reader), wait reasons from its src/runtime/runtime2.go. `make test`
# checks that the checked-in table equals what they generate.
layouts: deps goservers
	$(Q)SONDE_WRITE_LAYOUTS=1 SONDE_GO_CACHE=$(GO_CACHE) SONDE_GOSERVERS=$(abspath $(GO_OUT)) $(DOTNET) test tests/Sonde.Tests/Sonde.Tests.csproj \
		-c $(CONFIG) --nologo --filter "FullyQualifiedName~LayoutTableTests" --logger "console;verbosity=normal"

clean:
	$(Q)rm -rf $(OUT) daemon/bin daemon/obj interop/bin interop/obj tests/Sonde.Tests/bin tests/Sonde.Tests/obj

demo: deps all $(GO_OUT)/demo
	$(Q)SONDE=$(OUT)/sonde DEMO=$(GO_OUT)/demo tests/goservers/demo/run-demo.sh

# Benchmarks (tests/bench/bench.py): `make bench` runs every benchmark side by
# side, then the realistic service, outgoing calls and the trap-free boundary's
# floor, ~45 min, and writes BENCHMARKS.md, tests/bench/overhead.svg and
# tests/bench/results.json (protocols and bystanders: their own targets below); `make bench-smoke` runs each once with small sizes
# (< 60 s) and fails only on crashes and errors. Both need root and 2 CPUs,
# and measure the package's sonde (out/package/sonde), what users install.
BENCH_OUT := $(OUT)/bench
BENCH_APT_PACKAGES := bpftrace gnuplot-nox python3 redis-server
BENCH_CS := $(wildcard tests/bench/RingBufferBench/*.cs tests/bench/RingBufferBench/*.csproj)
BENCH_BINS := $(BENCH_OUT)/ringbuf-consumer $(BENCH_OUT)/ringbuf-producer $(BENCH_OUT)/ringbuf-dotnet/ringbuf-bench
BOUNDARY_BINS := $(BENCH_OUT)/boundary/floor $(BENCH_OUT)/boundary/floor.bpf.o

.PHONY: bench bench-smoke bench-deps bench-protocols bench-bystander bench-realistic bench-calls bench-boundary

bench-deps: deps
	$(call apt-install,$(BENCH_APT_PACKAGES))

$(BENCH_OUT)/ringbuf-consumer: tests/bench/ringbuf/consumer.c bpf/bench.h
	@echo "  CC     $@"
	$(Q)mkdir -p $(@D) && $(CLANG) -O2 -g -Wall -Werror -Ibpf -o $@ $< -lbpf

# The floor of a trap-free HTTP/1 boundary (tests/bench/boundary.py): its BPF object and loader.
$(BENCH_OUT)/boundary/floor.bpf.o: tests/bench/boundary/floor.bpf.c $(BPF_OUT)/vmlinux.h
	@echo "  BPF    $@"
	$(Q)mkdir -p $(@D) && $(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BPF_OUT) -c $< -o $@

$(BENCH_OUT)/boundary/floor: tests/bench/boundary/floor.c
	@echo "  CC     $@"
	$(Q)mkdir -p $(@D) && $(CLANG) -O2 -g -Wall -Werror -o $@ $< -lbpf

$(BENCH_OUT)/ringbuf-producer: tests/bench/ringbuf/producer.c
	@echo "  CC     $@"
	$(Q)mkdir -p $(@D) && $(CLANG) -O2 -g -Wall -Werror -o $@ $<

# After out/sonde: both builds write daemon/obj.
$(BENCH_OUT)/ringbuf-dotnet/ringbuf-bench: $(BENCH_CS) $(CS_SRCS) $(BPF_OBJS) | $(OUT)/sonde
	@echo "  DOTNET $@"
	$(Q)$(DOTNET) publish tests/bench/RingBufferBench/RingBufferBench.csproj -c $(CONFIG) -r linux-x64 --self-contained false \
		-p:PublishReadyToRun=true -o $(@D) --nologo -v quiet

# The servers realistic.py and calls.py run, which goservers does not build.
BENCH_GOSERVERS := $(GO_OUT)/go$(GO_NEWEST)/realistic-stripped $(GO_OUT)/go$(GO_NEWEST)/peers-stripped

bench: bench-deps all $(OUT)/package/sonde goservers $(BENCH_BINS) $(BENCH_GOSERVERS) $(BOUNDARY_BINS)
	$(Q)python3 -B tests/bench/bench.py --repo .
	$(Q)python3 -B tests/bench/realistic.py
	$(Q)python3 -B tests/bench/calls.py
	$(Q)python3 -B tests/bench/boundary.py

bench-smoke: bench-deps all $(OUT)/package/sonde goservers $(BENCH_BINS) $(BENCH_GOSERVERS) $(BOUNDARY_BINS)
	$(Q)python3 -B tests/bench/bench.py --repo . --smoke
	$(Q)python3 -B tests/bench/realistic.py --smoke
	$(Q)python3 -B tests/bench/calls.py --smoke
	$(Q)python3 -B tests/bench/boundary.py --smoke

# Would a trap-free HTTP/1 boundary (request start and end from syscall
# tracepoints) reach 0.95x? Its floor against untraced and sonde trace:
# tests/bench/boundary.py, into BENCHMARKS.md.
bench-boundary: bench-deps all $(OUT)/package/sonde $(GO_OUT)/go$(GO_NEWEST)/nethttp-stripped $(BOUNDARY_BINS)
	$(Q)python3 -B tests/bench/boundary.py

# What a request costs by protocol (HTTP/1.1, HTTP/2, gRPC): tests/bench/protocols.py,
# with a sequential HTTP/2 and gRPC client of ours; prints BENCHMARKS.md's table.
$(BENCH_OUT)/h2load/h2load: tests/bench/h2load/Program.cs tests/bench/h2load/h2load.csproj tests/Sonde.Tests/Support/GrpcHealthClient.cs | $(OUT)/sonde
	@echo "  DOTNET $@"
	$(Q)$(DOTNET) publish tests/bench/h2load/h2load.csproj -c $(CONFIG) -r linux-x64 --self-contained false -o $(@D) --nologo -v quiet

bench-protocols: bench-deps all $(OUT)/package/sonde goservers $(BENCH_OUT)/h2load/h2load
	$(Q)python3 -B tests/bench/protocols.py

# What `sonde run` costs the untraced processes of a traced file, and its stop time
# with 1,008 uprobes: tests/bench/bystander.py, into BENCHMARKS.md.
bench-bystander: bench-deps all $(OUT)/package/sonde goservers
	$(Q)python3 -B tests/bench/bystander.py

# What Sonde costs a realistic service (CPU work, a Redis query, JSON) at
# saturation and at ~70% load: tests/bench/realistic.py, into BENCHMARKS.md.
bench-realistic: bench-deps all $(OUT)/package/sonde $(GO_OUT)/go$(GO_NEWEST)/realistic-stripped
	$(Q)python3 -B tests/bench/realistic.py

# What following outgoing HTTP calls (--calls on) costs a request that makes
# one: tests/bench/calls.py, into BENCHMARKS.md.
bench-calls: bench-deps all $(OUT)/package/sonde $(GO_OUT)/go$(GO_NEWEST)/peers-stripped
	$(Q)python3 -B tests/bench/calls.py

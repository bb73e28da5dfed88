# sbx: a rootless user-namespace sandbox.

export PATH := /usr/local/go/bin:$(PATH)

GO      ?= go
BIN     := bin/sbx
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build demo test test-vm bench unit vet clean man

all: build

# cgo compiles nsexec/nsexec_unit.c, which #includes the other C files of
# nsexec (each //go:build ignore): the build cache does not see those, and
# would keep a stale nsexec after a change to one. Their hash, passed as a
# macro, makes them part of the cache's key.
C_SOURCES_HASH := $(shell cat nsexec/*.c nsexec/*.h | sha256sum | cut -c1-16)
export CGO_CFLAGS := $(or $(CGO_CFLAGS),-O2 -g) -DSBX_C_SOURCES=$(C_SOURCES_HASH)

build:
	@bash scripts/build-deps.sh
	# osusergo: kong imports os/user, whose cgo lookups do not belong in a
	# static binary (sbx reads /etc/passwd itself); netgo: the same for the
	# name resolver of package net (the D-Bus client imports it for unix
	# sockets; sbx resolves no host name).
	CGO_ENABLED=1 $(GO) build -tags osusergo,netgo -ldflags "$(LDFLAGS)" -o $(BIN) .

# A demo sandbox: works as root or as an ordinary user.
demo: build
	@echo '$$ ./$(BIN) run -- sh -c ...'
	@./$(BIN) run -- sh -c '\
		echo "inside:   $$(id)"; \
		echo "hostname: $$(hostname)"; \
		echo "pid:      $$$$ (pid 1 is $$(tr "\0" " " </proc/1/cmdline))"; \
		echo "uid_map:"; cat /proc/self/uid_map; \
		echo "network:  $$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"; \
		echo "/tmp:     $$(ls -A /tmp | wc -l) entries"; \
		echo "/dev:     $$(ls /dev | tr "\n" " ")"; \
		if touch /etc/sbx-demo 2>/dev/null; then echo "/etc:     writable?!"; else echo "/etc:     read-only"; fi'

# Every test: as root, installs what the tests need and runs the
# integration tests as the unprivileged user sbxtest, natively, then on
# Debian 12's kernel (6.1) in a qemu VM, 10 to 15 minutes under TCG, in a
# cgroup delegated to that user; then the cgroup tests again in a VM that
# boots Debian's systemd, through the user's systemd manager
# (SBX_TEST_VM=0 skips both VMs; SBX_VM_RUN=REGEXP limits the tests run in
# the first, SBX_VM_SYSTEMD_RUN=REGEXP, by default the cgroup tests, in the
# second).
SBX_TEST_VM ?= 1
test:
	bash scripts/test.sh
ifneq ($(SBX_TEST_VM),0)
	SBX_VM_INIT=busybox bash scripts/vm-test.sh
	SBX_VM_INIT=systemd bash scripts/vm-test.sh
endif

# The integration tests on Debian 12's kernel in the two qemu VMs only (see
# scripts/vm-test.sh; the kernel and initramfs are cached in
# /var/cache/sbx-vm).
test-vm:
	SBX_VM_INIT=busybox bash scripts/vm-test.sh
	SBX_VM_INIT=systemd bash scripts/vm-test.sh

# sbx next to bubblewrap, unshare/nsenter and runc, and the Go benchmarks
# (a benchmark, not a test: it never fails on a figure).
bench:
	bash scripts/bench.sh

# The man page sbx.1, made by sbx from the model of its command line
# (the same as --help): man ./sbx.1 reads it.
man: build
	./$(BIN) __man > sbx.1

# Unit tests of every package but the integration tests in ./test.
unit:
	CGO_ENABLED=1 $(GO) test $$($(GO) list ./... | grep -v '/test$$')

vet:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin sbx.1

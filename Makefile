# Berth build, install and test entry points.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

PREFIX ?= /usr/local
BINDIR := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/berth-engine/berth/internal/version.GitCommit=$(COMMIT) \
	-X github.com/berth-engine/berth/internal/version.BuildTime=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# berth-shim links libseccomp (cgo) for Docker's default seccomp profile,
# statically, as runc's releases are: the shim is executed twice per
# container start (itself, then as the container's init) and skipping the
# dynamic loader saves about 0.3 ms each time; a running shim also no
# longer cares about libseccomp upgrades.
SHIM_TAGS := seccomp netgo osusergo
SHIM_LDFLAGS := -linkmode external -extldflags -static
# berth-shim-lean is the same shim without libseccomp, linked against musl
# (scripts/musl-cc.sh): the daemon runs it for every container whose seccomp
# program berth-entry loads (berth-shim compiles the programs), and as the
# container's init it starts 0.3-0.4 ms sooner (no glibc CPU probing, a
# smaller binary).
LEAN_TAGS := netgo osusergo

# The CLI is pure Go and static, as docker's is: every command is a process
# start, and without the dynamic loader and libc a start costs about 0.7 ms
# less.
CLI_ENV := CGO_ENABLED=0
# berth-entry is C: a few hundred lines with no runtime to start (see
# docs/ARCHITECTURE.md), built by scripts/build-entry.sh (musl when there).

.PHONY: all build install deps test unit integration vet fmt-check bench bench-quick clean

all: build

build:
	@mkdir -p $(BINDIR)
	go build -ldflags "$(LDFLAGS)" -o $(BINDIR)/berthd ./cmd/berthd
	$(CLI_ENV) go build -ldflags "$(LDFLAGS)" -o $(BINDIR)/berth ./cmd/berth
	go build -tags "$(SHIM_TAGS)" -ldflags "$(LDFLAGS) $(SHIM_LDFLAGS)" -o $(BINDIR)/berth-shim ./cmd/berth-shim
	CC=$(CURDIR)/scripts/musl-cc.sh go build -tags "$(LEAN_TAGS)" -ldflags "$(LDFLAGS) $(SHIM_LDFLAGS)" -o $(BINDIR)/berth-shim-lean ./cmd/berth-shim
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o $(BINDIR)/berth-init ./cmd/berth-init
	scripts/build-entry.sh $(BINDIR)/berth-entry

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINDIR)/berthd $(BINDIR)/berth $(BINDIR)/berth-shim $(BINDIR)/berth-shim-lean $(BINDIR)/berth-init $(BINDIR)/berth-entry $(DESTDIR)$(PREFIX)/bin/

deps:
	./scripts/deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	go vet -tags "$(SHIM_TAGS)" ./...

# The whole suite: formatting, vet, unit tests, then the integration tests
# that start a real berthd (they skip with a reason when not root).
test: fmt-check vet
	go test -tags "$(SHIM_TAGS)" -count=1 -timeout 30m ./...

unit:
	go test -tags "$(SHIM_TAGS)" -short ./internal/...

integration: build
	go test -tags "$(SHIM_TAGS)" -count=1 -v -timeout 30m ./integration/...

bench:
	./bench/run.sh

bench-quick:
	QUICK=1 ./bench/run.sh

clean:
	rm -rf $(BINDIR)

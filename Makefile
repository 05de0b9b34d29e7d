# rootfs-guard — the two set-up commands are `make run` and `make test`; see README.md.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
BIN     := target/release/rootfs-guard

.PHONY: all build run test test-deps lint unit e2e bench bench-callgrind fuzz clean

all: build

build:
	$(CARGO) build --release --locked

## run: build and serve on /run/docker/plugins/rootfs-guard.sock with the embedded default policy
run: build
	$(BIN) serve

## test: install what the tests need (apt), check formatting and lints, run every test
test: test-deps lint
	$(CARGO) test --locked --all-targets -- --test-threads=4

test-deps:
	./scripts/install-test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## bench: every benchmark (decision core, wire, memory, soak, startup, end to end; ~10 min, needs
## root + dockerd for the e2e stage): results in bench-results/, one summary table printed
bench:
	CARGO="$(CARGO)" ./scripts/bench.sh

## bench-callgrind: repeatable instruction counts of the decision core (valgrind)
bench-callgrind:
	CARGO="$(CARGO)" ./scripts/bench-callgrind.sh

clean:
	$(CARGO) clean
	rm -rf build

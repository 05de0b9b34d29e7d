# rootfs-guard — the two set-up commands are `make run` and `make test`; see README.md.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
BIN     := target/release/rootfs-guard

.PHONY: all build run test test-deps lint unit e2e bench fuzz clean

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

clean:
	$(CARGO) clean
	rm -rf build

## fuzz: run the cargo-fuzz targets (not in CI). FUZZ_RUNS executions per target.
FUZZ_RUNS ?= 5000000
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	for t in decide create_body; do \
	  mkdir -p fuzz/corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -runs=$(FUZZ_RUNS) -max_len=65536 -timeout=5 -print_final_stats=1 || exit 1; \
	done

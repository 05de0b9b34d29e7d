# rootfs-guard — the two set-up commands are `make run` and `make test`; see README.md.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
BIN     := target/release/rootfs-guard

.PHONY: all build run test test-deps lint unit e2e e2e-system e2e-26.1 bench bench-callgrind fuzz clean

# The dockerd version matrix of the e2e suite (README "Compatibility"): the system's dockerd
# (Debian 12 docker.io) and Debian 13's docker.io + containerd, unpacked by
# scripts/fetch-dockerd.sh. Each run asserts the daemon reports the named series, so a PATH that
# picks the wrong dockerd fails instead of testing one version twice.
E2E_SYSTEM_DOCKERD ?= 20.10
E2E_TRIXIE_DOCKERD := 26.1
E2E_TESTS          := --test 'e2e_*'
CARGO_TEST_ARGS    := -- --test-threads=4

all: build

build:
	$(CARGO) build --release --locked

## run: build and serve on /run/docker/plugins/rootfs-guard.sock with the embedded default policy
run: build
	$(BIN) serve

## test: install what the tests need (apt), check formatting and lints, run every test (the
## dockerd e2e suite against the system dockerd, then again against dockerd 26.1)
test: test-deps lint
	@echo "== all tests; the dockerd e2e suite against the system dockerd (must be $(E2E_SYSTEM_DOCKERD))"
	@start=$$(date +%s); \
	ROOTFS_GUARD_E2E_DOCKERD_VERSION=$(E2E_SYSTEM_DOCKERD) $(CARGO) test --locked --all-targets $(CARGO_TEST_ARGS) \
	  && echo "make test: all tests, e2e against dockerd $(E2E_SYSTEM_DOCKERD): $$(( $$(date +%s) - start )) s"
	@$(MAKE) --no-print-directory e2e-26.1

## e2e: only the dockerd e2e suite, against every dockerd version of the matrix
e2e: e2e-system e2e-26.1

e2e-system:
	@echo "== the dockerd e2e suite against the system dockerd (must be $(E2E_SYSTEM_DOCKERD))"
	@start=$$(date +%s); \
	ROOTFS_GUARD_E2E_DOCKERD_VERSION=$(E2E_SYSTEM_DOCKERD) $(CARGO) test --locked $(E2E_TESTS) $(CARGO_TEST_ARGS) \
	  && echo "make: e2e against dockerd $(E2E_SYSTEM_DOCKERD): $$(( $$(date +%s) - start )) s"

e2e-26.1:
	@if [ "$$ROOTFS_GUARD_SKIP_E2E" = 1 ]; then \
	  echo "make: e2e against dockerd $(E2E_TRIXIE_DOCKERD) SKIPPED because ROOTFS_GUARD_SKIP_E2E=1"; exit 0; \
	fi; \
	start=$$(date +%s); \
	prefix=$$(./scripts/fetch-dockerd.sh) || exit 1; \
	fetched=$$(date +%s); \
	echo "== the dockerd e2e suite against dockerd $(E2E_TRIXIE_DOCKERD) (ROOTFS_GUARD_E2E_PATH_PREFIX=$$prefix)"; \
	ROOTFS_GUARD_E2E_PATH_PREFIX=$$prefix ROOTFS_GUARD_E2E_DOCKERD_VERSION=$(E2E_TRIXIE_DOCKERD) \
	  $(CARGO) test --locked $(E2E_TESTS) $(CARGO_TEST_ARGS) \
	  && echo "make: e2e against dockerd $(E2E_TRIXIE_DOCKERD): $$(( $$(date +%s) - fetched )) s (+ $$(( fetched - start )) s fetching)"

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
	rm -rf build .cache

## fuzz: run the cargo-fuzz targets (not in CI). FUZZ_RUNS executions per target.
FUZZ_RUNS ?= 5000000
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	for t in decide create_body; do \
	  mkdir -p fuzz/corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -runs=$(FUZZ_RUNS) -max_len=65536 -timeout=5 -print_final_stats=1 || exit 1; \
	done

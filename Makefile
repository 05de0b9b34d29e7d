# rootfs-guard — the two set-up commands are `make run` and `make test`; see README.md.
# Install forms (docs/install-and-recover.md): `make plugin plugin-enable` (managed Docker plugin),
# `make plugin-push` (the same, to a registry), `make install` (standalone binary + systemd units) and
# `make deb` (the standalone form as a Debian package).
CARGO   ?= cargo
DOCKER  ?= docker
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
BIN     ?= $(TARGET_DIR)/release/rootfs-guard

# Standalone install layout. Units go where the local admin's units go for a /usr/local install,
# into the distribution's unit directory otherwise (PREFIX=/usr for packages).
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
ifeq ($(PREFIX),/usr/local)
UNITDIR    ?= /etc/systemd/system
else
UNITDIR    ?= $(PREFIX)/lib/systemd/system
endif
POLICY     := $(SYSCONFDIR)/rootfs-guard/policy.json

# Managed plugin. PLUGIN_NAME/PLUGIN_TAG/PLUGIN_BUILD_DIR/PLUGIN_POLICY can be overridden (the e2e
# tests aim these targets at a private dockerd with DOCKER_HOST and a unique name).
HOST_TRIPLE      := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
STATIC_BIN       := $(TARGET_DIR)/$(HOST_TRIPLE)/release/rootfs-guard
PLUGIN_NAME      ?= rootfs-guard
PLUGIN_TAG       ?= $(VERSION)
PLUGIN           := $(PLUGIN_NAME):$(PLUGIN_TAG)
PLUGIN_BUILD_DIR ?= build/plugin
# Empty: the embedded default policy. A host file: `make plugin-enable` validates it and sets it.
PLUGIN_POLICY    ?=

.PHONY: all build run test test-deps lint doc-links unit e2e e2e-system e2e-26.1 e2e-28.5 bench bench-callgrind fuzz clean FORCE \
	static plugin plugin-enable plugin-disable plugin-remove plugin-push install uninstall deb

# The dockerd version matrix of the e2e suite (docs/compatibility.md): the system's dockerd
# (Debian 12 docker.io), Debian 13's docker.io + containerd and Debian sid's, unpacked by
# scripts/fetch-dockerd.sh. Each run asserts the daemon reports the named series, so a PATH that
# picks the wrong dockerd fails instead of testing one version twice. Every run also gets Debian
# sid's docker-buildx (scripts/fetch-buildx.sh) for the BuildKit cases of tests/e2e_doors.rs.
E2E_SYSTEM_DOCKERD ?= 20.10
E2E_TRIXIE_DOCKERD := 26.1
E2E_SID_DOCKERD    := 28.5
E2E_TESTS          := --test 'e2e_*'
CARGO_TEST_ARGS    := -- --test-threads=4

# $(call fetched_e2e,SERIES,SUITE): the e2e suite against Debian SUITE's dockerd SERIES.
define fetched_e2e
	@if [ "$$ROOTFS_GUARD_SKIP_E2E" = 1 ]; then \
	  echo "make: e2e against dockerd $(1) SKIPPED because ROOTFS_GUARD_SKIP_E2E=1"; exit 0; \
	fi; \
	start=$$(date +%s); \
	prefix=$$(FETCH_DOCKERD_SUITE=$(2) FETCH_DOCKERD_SERIES=$(1) ./scripts/fetch-dockerd.sh) || exit 1; \
	buildx=$${ROOTFS_GUARD_E2E_BUILDX:-$$(./scripts/fetch-buildx.sh)} || exit 1; \
	fetched=$$(date +%s); \
	echo "== the dockerd e2e suite against dockerd $(1) (ROOTFS_GUARD_E2E_PATH_PREFIX=$$prefix)"; \
	ROOTFS_GUARD_E2E_PATH_PREFIX=$$prefix ROOTFS_GUARD_E2E_DOCKERD_VERSION=$(1) ROOTFS_GUARD_E2E_BUILDX=$$buildx \
	  $(CARGO) test --locked $(E2E_TESTS) $(CARGO_TEST_ARGS) \
	  && echo "make: e2e against dockerd $(1): $$(( $$(date +%s) - fetched )) s (+ $$(( fetched - start )) s fetching)"
endef

all: build

build:
	$(CARGO) build --release --locked

# Cargo decides whether it is up to date; a BIN given on the command line is used as it is.
$(TARGET_DIR)/release/rootfs-guard: FORCE
	$(CARGO) build --release --locked

## run: build and serve on /run/docker/plugins/rootfs-guard.sock with the embedded default policy
run: build
	$(BIN) serve

## test: install what the tests need (apt), check formatting and lints, run every test (the
## dockerd e2e suite against the system dockerd, then again against dockerd 26.1 and 28.5)
test: test-deps lint
	@echo "== all tests; the dockerd e2e suite against the system dockerd (must be $(E2E_SYSTEM_DOCKERD))"
	@start=$$(date +%s); \
	buildx=$$([ "$$ROOTFS_GUARD_SKIP_E2E" = 1 ] || ./scripts/fetch-buildx.sh) || exit 1; \
	ROOTFS_GUARD_E2E_BUILDX=$$buildx ROOTFS_GUARD_E2E_DOCKERD_VERSION=$(E2E_SYSTEM_DOCKERD) \
	  $(CARGO) test --locked --all-targets $(CARGO_TEST_ARGS) \
	  && echo "make test: all tests, e2e against dockerd $(E2E_SYSTEM_DOCKERD): $$(( $$(date +%s) - start )) s" \
	  && $(MAKE) --no-print-directory e2e-26.1 e2e-28.5 ROOTFS_GUARD_E2E_BUILDX=$$buildx

## e2e: only the dockerd e2e suite, against every dockerd version of the matrix
e2e: e2e-system e2e-26.1 e2e-28.5

e2e-system:
	@echo "== the dockerd e2e suite against the system dockerd (must be $(E2E_SYSTEM_DOCKERD))"
	@start=$$(date +%s); \
	buildx=$${ROOTFS_GUARD_E2E_BUILDX:-$$(./scripts/fetch-buildx.sh)} || exit 1; \
	ROOTFS_GUARD_E2E_BUILDX=$$buildx ROOTFS_GUARD_E2E_DOCKERD_VERSION=$(E2E_SYSTEM_DOCKERD) \
	  $(CARGO) test --locked $(E2E_TESTS) $(CARGO_TEST_ARGS) \
	  && echo "make: e2e against dockerd $(E2E_SYSTEM_DOCKERD): $$(( $$(date +%s) - start )) s"

e2e-26.1:
	$(call fetched_e2e,$(E2E_TRIXIE_DOCKERD),trixie)

e2e-28.5:
	$(call fetched_e2e,$(E2E_SID_DOCKERD),sid)

test-deps:
	./scripts/install-test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	./scripts/check-authz-purity.sh
	./scripts/check-doc-links.sh

## doc-links: every relative link and #anchor in README.md, docs/ and the other READMEs must resolve
doc-links:
	./scripts/check-doc-links.sh

## bench: every benchmark (decision core, wire, memory, soak, startup, end to end; ~10 min, needs
## root + dockerd for the e2e stage): results in bench-results/, one summary table printed
bench:
	CARGO="$(CARGO)" ./scripts/bench.sh

## bench-callgrind: repeatable instruction counts of the decision core (valgrind)
bench-callgrind:
	CARGO="$(CARGO)" ./scripts/bench-callgrind.sh

## static: a statically linked binary (static-pie) for the managed plugin's rootfs
static:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked --target $(HOST_TRIPLE)
	@ldd $(STATIC_BIN) 2>&1 | grep -Eq 'statically linked|not a dynamic executable' \
		|| { echo "$(STATIC_BIN) is not static:"; ldd $(STATIC_BIN); exit 1; }

## plugin: assemble $(PLUGIN_BUILD_DIR) (the manifest's description gets ", version TAG", so
## `docker plugin ls` tells versions apart) and `docker plugin create $(PLUGIN)` (disabled)
plugin: static
	rm -rf $(PLUGIN_BUILD_DIR)
	mkdir -p $(PLUGIN_BUILD_DIR)/rootfs
	install -m 0755 $(STATIC_BIN) $(PLUGIN_BUILD_DIR)/rootfs/rootfs-guard
	sed 's/^\(  "description": ".*\)",$$/\1, version $(PLUGIN_TAG)",/' config.json > $(PLUGIN_BUILD_DIR)/config.json
	chmod 0644 $(PLUGIN_BUILD_DIR)/config.json
	grep -q '"description": ".*, version $(PLUGIN_TAG)"' $(PLUGIN_BUILD_DIR)/config.json
	$(DOCKER) plugin create $(PLUGIN) $(PLUGIN_BUILD_DIR)

## plugin-enable: `docker plugin enable $(PLUGIN)`, which needs nothing on the host (embedded default
## policy). With PLUGIN_POLICY=/host/dir/file.json: validate that file first, then point the plugin at it
## (the file's directory is mounted at /etc/docker in the plugin), then enable.
plugin-enable: $(if $(PLUGIN_POLICY),static)
	@if [ -n "$(PLUGIN_POLICY)" ]; then \
		set -x; \
		$(STATIC_BIN) validate $(PLUGIN_POLICY) > /dev/null || exit 1; \
		$(DOCKER) plugin set $(PLUGIN) etc-docker.source=$(patsubst %/,%,$(dir $(PLUGIN_POLICY))) \
			ROOTFS_GUARD_POLICY=/etc/docker/$(notdir $(PLUGIN_POLICY)) || exit 1; \
	fi
	$(DOCKER) plugin enable $(PLUGIN)

## plugin-disable / plugin-remove: only work while dockerd does not use the plugin (docs/install-and-recover.md, "Uninstall")
plugin-disable:
	$(DOCKER) plugin disable $(PLUGIN)

plugin-remove:
	-$(DOCKER) plugin disable $(PLUGIN)
	$(DOCKER) plugin rm $(PLUGIN)

## deb: build/deb/rootfs-guard_$(VERSION)_amd64.deb with dpkg-deb from a staged `make install
## PREFIX=/usr` of the static binary plus packaging/deb/ (packaging/deb/README.md says why)
DEB_DIR   ?= build/deb
DEB       := $(DEB_DIR)/rootfs-guard_$(VERSION)_amd64.deb
DEB_STAGE := $(DEB_DIR)/root
deb: static
	rm -rf $(DEB_STAGE) $(DEB)
	$(MAKE) --no-print-directory install BIN=$(STATIC_BIN) PREFIX=/usr DESTDIR=$(abspath $(DEB_STAGE)) > /dev/null
	strip --remove-section=.comment --remove-section=.note $(DEB_STAGE)/usr/bin/rootfs-guard
	install -d -m 0755 $(DEB_STAGE)/DEBIAN $(DEB_STAGE)/usr/share/doc/rootfs-guard
	install -d -m 0755 $(DEB_STAGE)/usr/share/man/man1
	install -m 0644 packaging/deb/copyright $(DEB_STAGE)/usr/share/doc/rootfs-guard/copyright
	sed 's/@VERSION@/$(VERSION)/' packaging/deb/changelog.in | gzip -9n > $(DEB_STAGE)/usr/share/doc/rootfs-guard/changelog.gz
	gzip -9n < packaging/deb/rootfs-guard.1 > $(DEB_STAGE)/usr/share/man/man1/rootfs-guard.1.gz
	chmod 0644 $(DEB_STAGE)/usr/share/doc/rootfs-guard/changelog.gz $(DEB_STAGE)/usr/share/man/man1/rootfs-guard.1.gz
	install -m 0644 packaging/deb/conffiles $(DEB_STAGE)/DEBIAN/conffiles
	install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm $(DEB_STAGE)/DEBIAN/
	cd $(DEB_STAGE) && find usr -type f -printf '%P\n' | sort | sed 's|^|usr/|' | xargs md5sum > DEBIAN/md5sums
	sed -e 's/@VERSION@/$(VERSION)/' -e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_STAGE) | cut -f1)/" \
		packaging/deb/control.in > $(DEB_STAGE)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_STAGE) $(DEB)
	@echo "built $(DEB)"

## plugin-push: build the plugin as $(PLUGIN_REPO):$(PLUGIN_TAG) and `docker plugin push` it, e.g.
## PLUGIN_REPO=registry.example:5000/rootfs-guard. A disabled copy of that name on this daemon is replaced.
PLUGIN_REPO ?=
plugin-push: static
	@[ -n "$(PLUGIN_REPO)" ] || { echo "make plugin-push: set PLUGIN_REPO=host:port/name" >&2; exit 1; }
	@if $(DOCKER) plugin inspect $(PLUGIN_REPO):$(PLUGIN_TAG) > /dev/null 2>&1; then \
		$(DOCKER) plugin rm $(PLUGIN_REPO):$(PLUGIN_TAG) || exit 1; \
	fi
	$(MAKE) --no-print-directory plugin PLUGIN_NAME=$(PLUGIN_REPO) PLUGIN_TAG=$(PLUGIN_TAG)
	$(DOCKER) plugin push $(PLUGIN_REPO):$(PLUGIN_TAG)

## install: binary, default policy (kept if present), systemd units and the docker.service drop-in
install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR)/docker.service.d
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/rootfs-guard
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/rootfs-guard
	@if [ -e $(DESTDIR)$(POLICY) ]; then \
		echo "keeping the existing $(DESTDIR)$(POLICY)"; \
	else \
		$(BIN) validate --print-default > $(DESTDIR)$(POLICY).tmp \
			&& chmod 0644 $(DESTDIR)$(POLICY).tmp && mv $(DESTDIR)$(POLICY).tmp $(DESTDIR)$(POLICY) \
			&& echo "installed the default policy as $(DESTDIR)$(POLICY)"; \
	fi
	for unit in rootfs-guard.service rootfs-guard.socket; do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			systemd/$$unit.in > $(DESTDIR)$(UNITDIR)/$$unit.tmp \
		&& chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit.tmp \
		&& mv $(DESTDIR)$(UNITDIR)/$$unit.tmp $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	install -m 0644 systemd/docker.service.d-rootfs-guard.conf \
		$(DESTDIR)$(UNITDIR)/docker.service.d/rootfs-guard.conf
	@echo "next: systemctl daemon-reload && systemctl enable --now rootfs-guard.socket rootfs-guard.service"
	@echo "then enable it in dockerd: see docs/install-and-recover.md#enable-in-dockerd"

## uninstall: remove what `make install` installed except the policy file (stop the units first)
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rootfs-guard
	rm -f $(DESTDIR)$(UNITDIR)/rootfs-guard.service $(DESTDIR)$(UNITDIR)/rootfs-guard.socket
	rm -f $(DESTDIR)$(UNITDIR)/docker.service.d/rootfs-guard.conf
	@rmdir $(DESTDIR)$(UNITDIR)/docker.service.d 2>/dev/null || true
	@if [ -e $(DESTDIR)$(POLICY) ]; then echo "kept $(DESTDIR)$(POLICY) (remove it by hand)"; fi

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

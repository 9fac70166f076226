# hapd: `make demo` and `make test` do all the set-up on a fresh Debian 12 machine (as root):
# missing Debian packages through apt-get, JavaScript dependencies through `npm ci`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

BUN      := node_modules/.bin/bun
VITEST   := $(BUN) --bun node_modules/.bin/vitest
SOURCES  := $(shell find services ipmi tui -name '*.ts' -not -name '*.test.ts' 2>/dev/null) package.json
# What the lab, the tests and the benchmarks use from Debian.
DEBS_RUN   := iproute2 socat nftables openipmi ipmitool resource-agents
DEBS_TEST  := $(DEBS_RUN) fence-agents tmux pacemaker-cli-utils resource-agents qemu-utils libnbd-bin qemu-system-x86 busybox-static linux-image-amd64
DEBS_REF   := corosync pacemaker pacemaker-cli-utils crmsh resource-agents fence-agents bc

.PHONY: deps deps-test build test test-sim demo demo-down bench typecheck clean

# Installs the Debian packages named in $(1) that are missing; without root it only says what is missing.
define ensure_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "apt-get install:$$missing"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || { echo "apt-get failed for:$$missing" >&2; exit 1; }; \
	  else echo "not root: cannot install$$missing (tests that need them will say they are skipped)" >&2; fi; \
	fi
endef

# `npm ci` first. The npm registry these machines reach has no rollup builds for other platforms
# (404), and npm ci's lock check then reports them "missing" (vitest -> vite -> rollup lists them
# as optional); in that case install exactly the locked versions with `npm install`.
node_modules/.package-lock.json: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error 2>.lab-npm-ci.log || { \
	  if grep -q "Missing: @rollup/" .lab-npm-ci.log; then \
	    echo "npm ci: this registry lacks rollup's other-platform builds; installing the locked versions with npm install"; \
	    npm install --no-audit --no-fund --loglevel=error; \
	  else cat .lab-npm-ci.log >&2; exit 1; fi; }
	@rm -f .lab-npm-ci.log
	@touch $@

deps: node_modules/.package-lock.json
	$(call ensure_debs,$(DEBS_RUN))

deps-test: node_modules/.package-lock.json
	$(call ensure_debs,$(DEBS_TEST))

dist/hapd: node_modules/.package-lock.json $(SOURCES)
	$(BUN) build --compile --bytecode --format=esm --minify-syntax --outfile dist/hapd services/cli/main.ts

build: dist/hapd

typecheck: node_modules/.package-lock.json
	node_modules/.bin/tsc --noEmit -p .

# The whole suite: unit and property tests, the simulator over many seeds, integration tests on
# the lab with the compiled binary, IPMI against ipmi_sim. Ends with "tests: N passed, N failed".
# Integration tests run after the CPU-heavy simulator and property tests, one file at a time:
# on two cores, a lab starved of CPU would miss heartbeats for reasons that are not the code's.
test: deps-test build typecheck
	@mkdir -p .lab; rm -f .lab/vitest-*.json
	@$(VITEST) run --exclude 'test/integration/**' --reporter=default --reporter=json --outputFile=.lab/vitest-fast.json; a=$$?; \
	  $(VITEST) run test/integration --no-file-parallelism --reporter=default --reporter=json --outputFile=.lab/vitest-integration.json; b=$$?; \
	  $(BUN) test/summary.ts .lab/vitest-fast.json .lab/vitest-integration.json; s=$$?; \
	  [ $$a = 0 ] && [ $$b = 0 ] && [ $$s = 0 ]

# A longer simulator run: make test-sim SEEDS=5000
test-sim: node_modules/.package-lock.json
	SIM_SEEDS=$${SEEDS:-2000} $(VITEST) run test/sim

demo: deps build
	dist/hapd demo --service

demo-down:
	dist/hapd demo --down

BENCHES := $(notdir $(wildcard bench/*))
BENCHES := $(filter-out lib.ts,$(BENCHES))
bench: $(addprefix bench-,$(BENCHES))

bench-%: deps-test build
	@if [ "$$REF" = pacemaker ]; then $(MAKE) --no-print-directory deps-ref; fi
	$(BUN) bench/$*/run.ts

deps-ref:
	$(call ensure_debs,$(DEBS_REF))

clean:
	rm -rf dist .lab

# quell — the front door. `make demo` and `make test` set up everything they need on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
ARCH    ?= x86_64
FUNCTIONS := $(notdir $(wildcard functions/*))
CARGO   ?= cargo

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true

# Every CloudFormation template quell generates: cfn-lint checks each in `make test`.
TEMPLATES := template.yaml member/roles.yaml member/regional.yaml org/trail.yaml org/scp.yaml

ifeq ($(ARCH),arm64)
LAMBDA_TARGET := --arm64
LAMBDA_TRIPLE := aarch64-unknown-linux-gnu
else
LAMBDA_TARGET := --x86-64
LAMBDA_TRIPLE := x86_64-unknown-linux-gnu
endif

.PHONY: help setup demo test lint generate build bench bench-parse deploy clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): tests/emulator/requirements.txt
	@command -v python3 >/dev/null || { echo "python3 is needed for the local AWS emulator"; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	touch $@

setup: $(STAMP) ## the emulator's virtual environment (pinned moto, cfn-lint, cargo-lambda)

# demo builds what `make test` builds (`--workspace --bins --tests`: one feature set, one target
# directory), then runs the demo binary it built: `make demo` then `make test` compiles the SDK
# crates once.
demo: setup ## start the emulator, seed a member account, replay the sample events, show what was fixed
	$(CARGO) build --workspace --bins --tests
	$(or $(CARGO_TARGET_DIR),target)/debug/quell-demo

# Every call the emulators served during the suites, which quell-audit then holds against each
# function's Spec (permissions used and declared, both ways).
CALL_LOG = $(abspath $(or $(CARGO_TARGET_DIR),target))/quell-calls

# `build --bins --tests`: one feature set (dev-dependencies included) for the function binaries the
# end-to-end tests run and for the tests themselves, so the SDK crates are compiled once, not twice.
test: setup ## every test: unit, parsing, routing, templates, end to end on the emulator, the binaries under a Runtime API
	$(CARGO) build --workspace --bins --tests
	rm -rf $(CALL_LOG)
	QUELL_CALL_LOG_DIR=$(CALL_LOG) $(CARGO) test --workspace --no-fail-fast
	$(or $(CARGO_TARGET_DIR),target)/debug/quell-audit $(CALL_LOG)
	$(VENV)/bin/cfn-lint $(TEMPLATES)
	@echo "cfn-lint: $(TEMPLATES) clean"
	AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/sam validate --lint --template-file template.yaml
	$(PY) tests/emulator/stack_limits.py template.yaml

lint: setup ## formatting and clippy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The CLI binary `make test` builds: `cargo run -p quell-cli` alone would resolve another feature
# set and compile every SDK crate a second time (measured: 10 minutes here).
QUELL_BIN = $(or $(CARGO_TARGET_DIR),target)/debug/quell

generate: ## regenerate template.yaml, member/roles.yaml, member/regional.yaml, org/trail.yaml, org/scp.yaml, docs/scp.json and docs/remediations.md from the Specs
	$(CARGO) build --workspace --bins --tests
	$(QUELL_BIN) template central > template.yaml
	$(QUELL_BIN) template member-roles > member/roles.yaml
	$(QUELL_BIN) template member-regional > member/regional.yaml
	$(QUELL_BIN) template trail > org/trail.yaml
	$(QUELL_BIN) template scp > docs/scp.json
	$(QUELL_BIN) template scp-stack > org/scp.yaml
	{ echo "# Remediations"; echo; echo "Generated from the code (\`quell template docs\`); \`make generate\` refreshes it."; echo; \
	  $(QUELL_BIN) template docs; } > docs/remediations.md

# cargo lambda's own cross-linker (zig, from the PyPI package it installs with): the binaries link
# against provided.al2023's glibc whatever the build host's is, on Linux or macOS, for x86_64 and
# arm64. Then no binary may need a glibc symbol newer than provided.al2023's (2.34).
#
# cargo lambda runs from one path whatever the checkout: its zig wrappers (CC_<triple>, the target's
# linker) are named after the path of the running cargo-lambda, and cargo fingerprints both, so two
# checkouts sharing a target directory (CI's clone and a working copy) rebuilt every release
# dependency each time the other had built (issue 18). Copied, not linked: it resolves its own path.
LAMBDA_BIN := $(HOME)/.cache/quell-cargo-lambda/bin

build: setup ## one deployable zip per function with cargo lambda and zig (ARCH=x86_64|arm64), glibc checked, sizes printed
	@mkdir -p $(LAMBDA_BIN); cmp -s $(VENV)/bin/cargo-lambda $(LAMBDA_BIN)/cargo-lambda || \
	  { cp $(VENV)/bin/cargo-lambda $(LAMBDA_BIN)/.tmp.$$$$ && mv -f $(LAMBDA_BIN)/.tmp.$$$$ $(LAMBDA_BIN)/cargo-lambda; }
	PATH=$(LAMBDA_BIN):$$PATH $(CARGO) lambda build --release $(LAMBDA_TARGET) --compiler cargo-zigbuild $(addprefix --bin ,$(FUNCTIONS)) --output-format zip
	bench/glibc-check $(foreach f,$(FUNCTIONS),$(or $(CARGO_TARGET_DIR),target)/$(LAMBDA_TRIPLE)/release/$(f))
	@for f in $(FUNCTIONS); do \
	  z=$(or $(CARGO_TARGET_DIR),target)/lambda/$$f/bootstrap.zip; \
	  printf "  %-28s %8s bytes  %s\n" $$f $$(stat -c %s $$z) $$z; \
	done

HOST_TARGET := x86_64-unknown-linux-gnu
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
.venv-c7n/.installed: bench/requirements-c7n.txt
	python3 -m venv .venv-c7n
	.venv-c7n/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-c7n.txt
	touch $@

# The floor (lambda_runtime alone) and the harness are built exactly as the functions are, by cargo
# lambda with zig, in the same invocation's target directory: the harness's dependencies resolve to
# the functions' very feature set (`cargo tree -e features` shows no difference), so after `make
# build` only quell-tests' own code compiles. Plain cargo could not share them: for the same triple
# it puts each dependency in the same unit folder but fingerprints another linker, so each build
# recompiled every dependency the other had built, and a target directory of its own meant a second
# release build of every SDK crate (measured at a9b038a: the harness's 152 dependencies again). The
# harness runs the function binaries on this machine, so ARCH must be this machine's. `--output-format
# zip` as in `make build`: without it cargo lambda moves each binary out of the release directory
# into lambda/<bin>/bootstrap, where the harness does not look.
#
# criterion's per-event parse bench (`make bench-parse`) stays out of `make bench`: its
# dev-dependencies turn on test-util features of the smithy crates, which recompiles quell's SDK
# crates in a release variant nothing else uses. The harness prints the parse throughput itself.
LAMBDA_RUSTFLAGS := --config 'build.rustflags=["-C", "target-cpu=haswell"]'
BENCH_TARGET_DIR := $(TARGET_DIR)/bench-host

bench: build .venv-c7n/.installed ## benchmarks: cold start, peak memory, warm path and AWS calls, sizes, parse throughput, side by side with Cloud Custodian
	PATH=$(LAMBDA_BIN):$$PATH $(CARGO) lambda build --release $(LAMBDA_TARGET) --compiler cargo-zigbuild --bin quell-floor --bin quell-bench --output-format zip
	$(TARGET_DIR)/$(LAMBDA_TRIPLE)/release/quell-bench --bin-dir $(TARGET_DIR)/$(LAMBDA_TRIPLE)/release \
	  --lambda-dir $(TARGET_DIR)/lambda --custodian .venv-c7n/bin/custodian

bench-parse: ## criterion: parse and normalization time per sample event (release, its own target directory)
	$(CARGO) bench --target $(HOST_TARGET) $(LAMBDA_RUSTFLAGS) --target-dir $(BENCH_TARGET_DIR) -p quell --bench parse -- --warm-up-time 1 --measurement-time 3 --noplot

# `sam deploy --guided` offers the answers saved in samconfig.toml (a --parameter-overrides here would
# replace them all): answer Architecture as ARCH was.
deploy: setup ## the central stack: sam build (cargo lambda, BuildMethod rust-cargolambda) then sam deploy with samconfig.toml (docs/deploy.md)
	sam build --parameter-overrides Architecture=$(ARCH)
	sam deploy --guided

clean:
	$(CARGO) clean
	rm -rf $(VENV)

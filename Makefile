# Thermostat — every command a user or CI needs. `make demo` and `make test` work from a clean clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13: run local code and `sam build` with the same minor version.
PYTHON313 ?= $(shell command -v python3.13 2>/dev/null || ls -d $(HOME)/.pyenv/versions/3.13.*/bin/python3.13 2>/dev/null | tail -n 1)
VENV      := .venv
VENV_SAM  := .venv-sam
VENV_CHECKOV := .venv-checkov
PY        := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check -c requirements/constraints.txt
SAM_CLI_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
# sam build without Docker needs python3.13 on PATH.
PY313_BIN := $(dir $(PYTHON313))
export PATH := $(CURDIR)/$(VENV)/bin:$(PY313_BIN):$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv sam-venv checkov-venv node lint typecheck validate build build-check test test-fast demo bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.stamp: pyproject.toml requirements/constraints.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (pyenv install 3.13.0)"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

venv: $(VENV)/.stamp  ## create .venv (project, CLI, test tools)

$(VENV_SAM)/.stamp:
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (pyenv install 3.13.0)"; exit 1; }
	$(PYTHON313) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python -m pip install --quiet --disable-pip-version-check "aws-sam-cli==$(SAM_CLI_VERSION)"
	touch $@

sam-venv: $(VENV_SAM)/.stamp  ## create .venv-sam (aws-sam-cli pins its own dependencies)

# checkov (security linter for CloudFormation) pins most of its dependencies too: its own virtualenv.
$(VENV_CHECKOV)/.stamp:
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (pyenv install 3.13.0)"; exit 1; }
	$(PYTHON313) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	touch $@

checkov-venv: $(VENV_CHECKOV)/.stamp  ## create .venv-checkov (checkov, the template's security linter)

node_modules/.stamp: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

node: node_modules/.stamp  ## install asl-validator (npm)

lint: venv  ## ruff
	$(VENV)/bin/ruff check src tests functions examples bench

typecheck: venv  ## mypy on src/
	$(VENV)/bin/mypy

validate: venv sam-venv checkov-venv node  ## cfn-lint, sam validate --lint, asl-validator, checkov
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV_SAM)/bin/sam validate --lint --template-file template.yaml
	npx --no-install asl-validator --json-path statemachine/warming.asl.json
	@# Offline: no platform download, no update check; a template checkov cannot parse fails the run.
	@# Every suppression is a `checkov: skip:` entry with its reason in the resource's Metadata.
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true $(VENV_CHECKOV)/bin/checkov --quiet --compact \
		--skip-download --framework cloudformation --file template.yaml

# The real python3.13 binary (a pyenv shim fails in the scratch directories where the layer Makefiles run).
BUILD_PYTHON = $(shell $(PYTHON313) -c 'import os, sys; print(os.path.realpath(sys.executable))')

build: sam-venv  ## sam build (no Docker: uses python3.13 from pyenv)
	@# sam's build cache hashes each ContentUri only: a changed layers/ recipe must invalidate it.
	@if [ -f .aws-sam/build.toml ] && [ -n "$$(find layers samconfig.toml -newer .aws-sam/build.toml -print -quit)" ]; \
		then echo "layers/ or samconfig.toml changed since the last build: dropping sam's build cache"; \
		rm -rf .aws-sam/cache; fi
	BUILD_PYTHON="$(BUILD_PYTHON)" PATH="$(dir $(BUILD_PYTHON)):$$PATH" \
		$(VENV_SAM)/bin/sam build --template-file template.yaml

build-check: venv build  ## sizes of the built functions, cold import of the forecast package
	$(PY) -m thermostat.packaging_check .aws-sam/build --python "$(BUILD_PYTHON)"

test: lint typecheck validate build-check  ## everything: lint, types, template, build, all test tiers
	$(PY) -m pytest -n 2 tests

test-fast: venv  ## unit + functional + contract tests only
	$(PY) -m pytest -n 2 tests/unit tests/functional tests/contract

demo: venv  ## one full warming cycle on the embedded AWS (no account, no Docker)
	$(VENV)/bin/thermostat local run --input events/manual-run.json --json out/demo.json \
		--parameter DeployDemoTargets=true

bench: venv  ## benchmarks that print figures
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:  ## remove build output and virtualenvs
	rm -rf $(VENV) $(VENV_SAM) $(VENV_CHECKOV) .aws-sam node_modules out .pytest_cache .mypy_cache .ruff_cache

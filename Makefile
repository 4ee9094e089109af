# popdrop: `make dev` runs the whole stack on loopback; `make test` runs the whole suite.
# Both create .venv and install the locked dependencies first when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEV_ARGS ?=
PYTEST_ARGS ?=
# Parallel test workers: most tests wait on sockets and subprocesses, so more workers than the
# CI machine's 2 cores pay off (0 runs the suite in one process).
PYTEST_WORKERS ?= 3

.PHONY: install dev test lint lock clean bench sam-build

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/popdrop dev $(DEV_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Re-resolve the lock files after changing dependencies in pyproject.toml: requirements.lock for
# development and CI, requirements-runtime.lock (no extras) for the container.
PIP_COMPILE = $(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
	--no-emit-find-links
lock: $(STAMP)
	$(PIP_COMPILE) --extra dev --extra local -o requirements.lock pyproject.toml
	$(PIP_COMPILE) -o requirements-runtime.lock pyproject.toml

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .aws-sam build \
		*.egg-info

# `sam build` for every function, without Docker (docs/deployment.md). The SAM CLI lives in its
# own virtualenv: it pins its own boto3, which would fight the project's lock.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli
sam-build: $(SAM)
	$(SAM) build --build-in-source

include infra/lambda.mk

# Benchmarks against Dovecot (docs/performance.md): needs root and `apt-get install dovecot-pop3d`;
# not part of `make test` or CI. BENCH_ARGS takes bench/run.py's flags (sizes, rounds, --only).
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

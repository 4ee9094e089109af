# The Lambda packages `sam build` makes (template.yaml: Metadata BuildMethod makefile), included
# from the root Makefile. SAM copies the source tree to a scratch directory, runs
# `make build-<LogicalId>` there with ARTIFACTS_DIR set, and zips whatever lands in ARTIFACTS_DIR.

LAMBDA_PYTHON ?= python3
# --no-compile: the build machine's Python would write bytecode for its own version, not 3.12.
LAMBDA_PIP = $(LAMBDA_PYTHON) -m pip install --quiet --no-compile --target "$(ARTIFACTS_DIR)"
# Wheels for the functions' runtime and architecture in template.yaml (python3.12, arm64), not
# for the build machine, so compiled extensions such as pydantic-core match Lambda's.
LAMBDA_WHEELS = --platform manylinux2014_aarch64 --implementation cp --python-version 3.12 \
	--only-binary=:all:
# What ingest imports besides the popdrop package, at the versions requirements.lock pins. boto3 is left out because the Lambda Python
# runtime ships it; FastAPI, uvicorn, cryptography and mangum serve popd and the API only.
# tests/integration/template/test_ingest_package.py checks that this list covers ingest's imports.
INGEST_REQUIREMENTS = pydantic pydantic-settings

.PHONY: build-IngestFunction
build-IngestFunction:
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is unset: run this target through `sam build`))
	$(LAMBDA_PIP) --no-deps .
	$(LAMBDA_PIP) $(LAMBDA_WHEELS) --constraint requirements.lock $(INGEST_REQUIREMENTS)
	rm -rf "$(ARTIFACTS_DIR)/bin"

# The reconcile sweep imports exactly what ingest imports.
.PHONY: build-ReconcileFunction
build-ReconcileFunction: build-IngestFunction

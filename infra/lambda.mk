# The Lambda packages `sam build` makes (template.yaml: Metadata BuildMethod makefile), included
# from the root Makefile. SAM copies the source tree to a scratch directory, runs
# `make build-<LogicalId>` there with ARTIFACTS_DIR set, and zips whatever lands in ARTIFACTS_DIR.

LAMBDA_PYTHON ?= python3
# The functions' runtime and architecture in template.yaml (python3.12, arm64): wheels are chosen
# for them, not for the build machine, so compiled extensions such as pydantic-core match.
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_PYTHON_VERSION ?= 3.12
# The versions every package carries: the lock's. tests/integration/template/test_sdk_floor.py
# builds ingest with another constraints file (the oldest botocore pyproject.toml admits).
LAMBDA_CONSTRAINTS ?= requirements.lock
# --no-compile: the build machine's Python would write bytecode for its own version, not 3.12.
LAMBDA_PIP = $(LAMBDA_PYTHON) -m pip install --quiet --no-compile --target "$(ARTIFACTS_DIR)"
LAMBDA_WHEELS = --platform $(LAMBDA_PLATFORM) --implementation cp \
	--python-version $(LAMBDA_PYTHON_VERSION) --only-binary=:all:

# What each function imports besides the popdrop package: exactly that, at the lock's versions
# (tests/integration/template/test_function_packages.py checks each list against the imports).
# The SDK is packaged rather than taken from the Lambda runtime, whose botocore may predate 1.36,
# the first to accept the `response_checksum_validation` the store passes. The store builds its
# clients with botocore alone (`popdrop.store.aws.session`); boto3 only where Secrets Manager, SES
# or ECS are read (the API, the rule set and DNS functions).
INGEST_REQUIREMENTS = botocore pydantic pydantic-settings
RECONCILE_REQUIREMENTS = botocore pydantic pydantic-settings
GC_REQUIREMENTS = botocore pydantic pydantic-settings
API_REQUIREMENTS = boto3 pydantic pydantic-settings fastapi mangum nh3 fastapi-offline scramp
RULESET_REQUIREMENTS = boto3
DNS_REQUIREMENTS = boto3

# $(1): the requirements of one function.
define lambda_package
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is unset: run this target through `sam build`))
	$(LAMBDA_PIP) --no-deps .
	$(LAMBDA_PIP) $(LAMBDA_WHEELS) --constraint $(LAMBDA_CONSTRAINTS) $(1)
	rm -rf "$(ARTIFACTS_DIR)/bin"
endef

.PHONY: build-IngestFunction build-ReconcileFunction build-GcFunction build-ApiFunction \
	build-RuleSetFunction build-DnsFunction
build-IngestFunction:
	$(call lambda_package,$(INGEST_REQUIREMENTS))
build-ReconcileFunction:
	$(call lambda_package,$(RECONCILE_REQUIREMENTS))
build-GcFunction:
	$(call lambda_package,$(GC_REQUIREMENTS))
build-ApiFunction:
	$(call lambda_package,$(API_REQUIREMENTS))
build-RuleSetFunction:
	$(call lambda_package,$(RULESET_REQUIREMENTS))
build-DnsFunction:
	$(call lambda_package,$(DNS_REQUIREMENTS))

# One entry point for people and CI. `make install`, `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
BENCH_VENV := .venv-bench
export SAM_CLI_TELEMETRY := 0
BIN := $(VENV)/bin
ROOT := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))

.PHONY: install install-sam install-checkov install-bench run test e2e check check-template lint-rules bench docs build build-RulesLayer clean

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory install-sam
	@$(MAKE) --no-print-directory install-checkov
	@echo "installed: $(BIN)/trailhound"

# aws-sam-cli pins boto3, click and cfn-lint: it gets an environment of its own.
install-sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli

# checkov pins dozens of libraries (boto3, networkx, ...): an environment of its own as well.
install-checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov

# pysigma-backend-duckdb, the comparison in bench/comparison.py, requires pySigma below 2 and
# trailhound runs on pySigma 2: the backend and DuckDB get an environment of their own.
install-bench:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet pysigma-backend-duckdb duckdb

run:
	$(BIN)/trailhound replay events/subscription/

# The optional SigmaHQ pack is linted as shipped: its 8 warnings are explained in its README.
test: check
	$(BIN)/trailhound lint --strict rules
	$(BIN)/trailhound test rules
	$(BIN)/trailhound lint packs/sigmahq
	$(BIN)/trailhound test packs/sigmahq
	@$(MAKE) --no-print-directory check-template
	@$(MAKE) --no-print-directory build
	$(BIN)/python -m pytest -q; status=$$?; [ $$status -eq 5 ] && echo "no tests collected" && exit 1; exit $$status

# The stack end to end, without AWS: template.yaml translated and deployed to moto server,
# CloudTrail events through the log group's subscription and the handler to SNS subscribers on
# 127.0.0.1 (tests/integration/test_stack.py; make test runs it too).
e2e:
	$(BIN)/python -m pytest -q tests/integration/test_stack.py

check:
	$(BIN)/ruff format --check functions tests bench events scripts
	$(BIN)/ruff check functions tests bench events scripts
	$(BIN)/mypy
	$(BIN)/mypy scripts

# The Lambda package in .aws-sam/build, for arm64, without Docker (see scripts/sam_build.sh).
build:
	scripts/sam_build.sh
	$(BIN)/python scripts/check_build.py

# sam build runs this for the rules layer (BuildMethod: makefile in template.yaml), from a copy
# of rules/ and with ARTIFACTS_DIR set: the layer's content is what the function finds in /opt.
# The bundles are the rules compiled for the default RULES_PATHS (/opt/rules) and for the rule
# pack with the SigmaHQ pack: the function loads the one for its folders at a cold start instead
# of parsing every rule file (trailhound bundle --help).
build-RulesLayer:
	@test -x "$(ROOT)$(BIN)/trailhound" || { echo "build-RulesLayer: run make install first" >&2; exit 1; }
	mkdir -p "$(ARTIFACTS_DIR)/rules" "$(ARTIFACTS_DIR)/packs"
	cp -R "$(ROOT)rules/." "$(ARTIFACTS_DIR)/rules/"
	cp -R "$(ROOT)packs/." "$(ARTIFACTS_DIR)/packs/"
	"$(ROOT)$(BIN)/trailhound" bundle --output "$(ARTIFACTS_DIR)/rules.bundle.json" "$(ARTIFACTS_DIR)/rules"
	"$(ROOT)$(BIN)/trailhound" bundle --output "$(ARTIFACTS_DIR)/rules-sigmahq.bundle.json" \
		"$(ARTIFACTS_DIR)/rules" "$(ARTIFACTS_DIR)/packs/sigmahq"

# The template: cfn-lint in every Region (do the resource types exist there), sam validate --lint
# as sam users run it, and checkov's security checks (each skip has its reason in the template).
check-template:
	$(SAM_VENV)/bin/cfn-lint --regions ALL_REGIONS -- template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml

# Figures for the README's Performance section; not tests. comparison.py needs make install-bench.
bench:
	$(BIN)/python bench/throughput.py --repeat 30
	$(BIN)/python bench/comparison.py --repeat 10
	$(BIN)/python bench/cold_start.py --runs 31
	$(BIN)/python bench/memory.py

# Generated documents: the rule catalogue, the SigmaHQ overlap table, the attack coverage report.
docs:
	$(BIN)/python scripts/rule_catalogue.py
	$(BIN)/python scripts/attack_coverage.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(BENCH_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

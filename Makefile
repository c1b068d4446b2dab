# One entry point for people and CI. `make install`, `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
BENCH_VENV := .venv-bench
export SAM_CLI_TELEMETRY := 0
# mkdocs-material prints a banner about its successor at every build.
export NO_MKDOCS_2_WARNING := 1
BIN := $(VENV)/bin
ROOT := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))

.PHONY: help install install-sam install-checkov install-bench run test unit integration e2e robustness check check-template site docs bench build build-RulesLayer clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## create .venv (the trailhound command), .venv-sam and .venv-checkov
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
install-bench: ## .venv-bench, for the DuckDB comparison in make bench
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet pysigma-backend-duckdb duckdb

run: ## replay the sample payloads in events/ through the Lambda's code path
	$(BIN)/trailhound replay events/subscription/

# Everything CI runs. The optional SigmaHQ pack is linted as shipped: its 8 warnings are explained
# in its README.
test: check site ## formatting, lint, types, rule tests, template, build, docs site, every test
	$(BIN)/trailhound lint --strict rules
	$(BIN)/trailhound test rules
	$(BIN)/trailhound lint packs/sigmahq
	$(BIN)/trailhound test packs/sigmahq
	@$(MAKE) --no-print-directory check-template
	@$(MAKE) --no-print-directory build
	$(BIN)/python -m pytest -q; status=$$?; [ $$status -eq 5 ] && echo "no tests collected" && exit 1; exit $$status

# Tests by cost; make test runs them all.
unit: ## the pure code's tests, in seconds
	$(BIN)/python -m pytest -q tests/unit

integration: ## the Lambda, the publisher and replay --publish against moto
	$(BIN)/python -m pytest -q tests/integration

# The stack end to end, without AWS: template.yaml translated and deployed to moto server,
# CloudTrail events through the log group's subscription and the handler to SNS subscribers on
# 127.0.0.1 (tests/e2e/test_stack.py).
e2e: ## the stack deployed to moto server, events in, e-mails out
	$(BIN)/python -m pytest -q tests/e2e

robustness: ## reduced runs of fuzzing, fault injection and hostile rule files
	$(BIN)/python -m pytest -q tests/robustness

check: ## ruff format and lint, mypy
	$(BIN)/ruff format --check functions tests bench tools
	$(BIN)/ruff check functions tests bench tools
	$(BIN)/mypy
	$(BIN)/mypy tools tests/robustness/fuzz_handler.py tests/robustness/fault_injection.py \
		tests/robustness/hostile_rules.py

# The Lambda package in .aws-sam/build, for arm64, without Docker (see tools/build/sam_build.sh).
build: ## sam build of the Lambda package and its rules layer, then checks on the package
	tools/build/sam_build.sh
	$(BIN)/python -m tools.build.check_build

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
check-template: ## cfn-lint, sam validate --lint and checkov on template.yaml
	$(SAM_VENV)/bin/cfn-lint --regions ALL_REGIONS -- template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml

# Figures for docs/performance.md; not tests. Each benchmark's output is kept in .bench/, and its
# tables replace theirs on the page. comparison needs make install-bench for DuckDB.
bench: ## the benchmarks, with the repeat counts the published figures use; updates docs/performance.md
	mkdir -p .bench
	$(BIN)/python -m bench.handler --passes 5 > .bench/handler.md && cat .bench/handler.md
	$(BIN)/python -m bench.throughput --repeat 30 > .bench/throughput.md && cat .bench/throughput.md
	$(BIN)/python -m bench.comparison --repeat 10 > .bench/comparison.md && cat .bench/comparison.md
	$(BIN)/python -m bench.cold_start --runs 31 --package > .bench/cold_start.md && cat .bench/cold_start.md
	$(BIN)/python -m bench.memory > .bench/memory.md && cat .bench/memory.md
	$(BIN)/python -m tools.docs.performance .bench/*.md

# The documentation site (mkdocs.yml): --strict fails on a broken link, anchor or page left out.
site: ## build the docs site into site/ (mkdocs build --strict)
	$(BIN)/mkdocs build --strict --quiet

docs: ## regenerate the generated pages (rule catalogue, coverage, settings, modules), then the site
	$(BIN)/python -m tools.docs.rule_catalogue
	$(BIN)/python -m tools.docs.attack_coverage
	$(BIN)/python -m tools.docs.settings
	$(BIN)/python -m tools.docs.architecture
	$(BIN)/python -m tools.build.sample_events
	@$(MAKE) --no-print-directory site

clean: ## remove the environments and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(BENCH_VENV) .aws-sam site .pytest_cache .mypy_cache .ruff_cache

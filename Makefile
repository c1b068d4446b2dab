# One entry point for people and CI. `make install`, `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0
BIN := $(VENV)/bin

.PHONY: install install-sam run test check lint-rules bench docs clean

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory install-sam
	@echo "installed: $(BIN)/trailhound"

# aws-sam-cli pins boto3, click and cfn-lint: it gets an environment of its own.
install-sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli

run:
	$(BIN)/trailhound replay events/subscription/

# The optional SigmaHQ pack is linted as shipped: its 8 warnings are explained in its README.
test: check
	$(BIN)/trailhound lint --strict rules
	$(BIN)/trailhound test rules
	$(BIN)/trailhound lint packs/sigmahq
	$(BIN)/trailhound test packs/sigmahq
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(BIN)/python -m pytest -q; status=$$?; [ $$status -eq 5 ] && echo "no tests collected" && exit 1; exit $$status

check:
	$(BIN)/ruff format --check functions tests bench events scripts
	$(BIN)/ruff check functions tests bench events scripts
	$(BIN)/mypy
	$(BIN)/mypy scripts

bench:
	$(BIN)/python bench/throughput.py

# Generated documents: the rule catalogue, the SigmaHQ overlap table, the attack coverage report.
docs:
	$(BIN)/python scripts/rule_catalogue.py
	$(BIN)/python scripts/attack_coverage.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

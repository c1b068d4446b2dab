"""Shared test helpers: write a rule to a temporary file and load it, match it, read the corpus."""

from __future__ import annotations

import itertools
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import settings

from trailhound.engine.conditions import build_condition, deferred_condition
from trailhound.engine.loader import CompiledRule, load_rule_file
from trailhound.engine.ruleset import RuleSet

# The same examples on every run, so a test fails for the change that broke it, not for the
# draw; `scripts/fuzz_handler.py` and HYPOTHESIS_PROFILE=explore search further afield.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
# Real CloudTrail records from public projects, each under its license (see its README).
CORPUS = REPO / "tests" / "data" / "corpus"
# SigmaHQ's CloudTrail rules, as the optional pack ships them.
SIGMAHQ_RULES = REPO / "packs" / "sigmahq"

RULE_HEADER = """\
title: Test rule
logsource:
  product: aws
  service: cloudtrail
level: medium
"""

WriteRule = Callable[..., Path]
CompileRule = Callable[..., CompiledRule]
Matches = Callable[[CompiledRule, dict[str, Any]], bool]


def rule_text(detection: str, extra: str = "") -> str:
    """A complete rule file around `detection` (the YAML under `detection:`) and `extra` keys."""
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "  ")
    return f"{RULE_HEADER}detection:\n{body}\n{textwrap.dedent(extra)}"


@pytest.fixture
def write_rule(tmp_path: Path) -> WriteRule:
    """Write rule text (dedented) under tmp_path and return its path."""
    counter = itertools.count(1)

    def write(text: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"rule_{next(counter)}.yml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def compile_rule(write_rule: WriteRule) -> CompileRule:
    """Load a rule whose detection (and optional extra top-level keys) are given as YAML text."""

    def compile_detection(detection: str, extra: str = "", name: str | None = None) -> CompiledRule:
        return load_rule_file(write_rule(rule_text(detection, extra), name))

    return compile_detection


def matches(rule: CompiledRule, record: dict[str, Any]) -> bool:
    """Whether `rule` fires on `record`, going through the index as production does.

    The rule's condition tree, stored as a rule bundle stores it (JSON) and built again, at once
    or when first called as a bundle's rules are, must give the same index requirement and the
    same verdict: so every matching test holds the bundle to the rule files too.
    """
    result = RuleSet([rule]).match(record)
    assert not result.failures, result.failures
    stored = orjson.loads(orjson.dumps(rule.condition.node))
    for condition in (build_condition(stored), deferred_condition(stored)):
        assert condition.requirement == rule.condition.requirement, rule.condition.node
        assert condition.presence == rule.condition.presence, rule.condition.node
        from_bundle = RuleSet([CompiledRule(rule.rule, condition)]).match(record)
        assert bool(from_bundle.matched) == bool(result.matched), rule.condition.node
    return bool(result.matched)


@pytest.fixture(name="matches")
def matches_fixture() -> Matches:
    return matches


def read_corpus() -> list[dict[str, Any]]:
    """Every CloudTrail record of the corpus (stratus-red-team lines wrap theirs)."""
    records: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                item = orjson.loads(line)
                records.append(item["event"] if "technique" in item else item)
    return records


@pytest.fixture(scope="session")
def corpus_records() -> list[dict[str, Any]]:
    return read_corpus()


@pytest.fixture(scope="session")
def sigmahq_rules_dir() -> Path:
    return SIGMAHQ_RULES

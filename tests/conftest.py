"""Fixtures every test may use: rule files in a temporary folder, the corpus, the matcher."""

from __future__ import annotations

import itertools
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.support.corpus import SIGMAHQ_RULES, read_corpus
from tests.support.rules import CompileRule, Matches, WriteRule, matches, rule_text
from trailhound.authoring.loader import load_rule_file
from trailhound.authoring.rulefile import AuthoredRule

# The same examples on every run, so a test fails for the change that broke it, not for the
# draw; `tests/robustness/fuzz_handler.py` and HYPOTHESIS_PROFILE=explore search further afield.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


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

    def compile_detection(detection: str, extra: str = "", name: str | None = None) -> AuthoredRule:
        return load_rule_file(write_rule(rule_text(detection, extra), name))

    return compile_detection


@pytest.fixture(name="matches")
def matches_fixture() -> Matches:
    return matches


@pytest.fixture(scope="session")
def corpus_records() -> list[dict[str, Any]]:
    return read_corpus()


@pytest.fixture(scope="session")
def sigmahq_rules_dir() -> Path:
    return SIGMAHQ_RULES

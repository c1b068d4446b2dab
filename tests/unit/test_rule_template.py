"""The annotated template rule in docs/ is a working rule: it lints clean and its tests pass."""

from __future__ import annotations

from pathlib import Path

from trailhound.authoring.lint import lint
from trailhound.authoring.loader import load_rules
from trailhound.authoring.ruletests import run_rule_tests

TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "rule-template.yml"


def test_the_template_rule_lints_clean_with_no_warning() -> None:
    report = lint([TEMPLATE])
    assert report.rules == 1
    assert not report.errors, [str(error) for error in report.errors]


def test_the_template_rule_passes_its_positive_and_negative_tests() -> None:
    loaded = load_rules([TEMPLATE])
    assert not loaded.errors, [str(error) for error in loaded.errors]
    (rule,) = loaded.rules
    outcomes = list(run_rule_tests([rule]))
    assert [str(outcome) for outcome in outcomes if not outcome.passed] == []
    expectations = {test.expect for test in rule.tests}
    assert expectations == {True, False}

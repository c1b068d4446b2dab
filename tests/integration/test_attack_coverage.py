"""The attack-coverage report: real attack recordings through the rules, and the committed doc."""

from __future__ import annotations

import pytest
from tools.docs.attack_coverage import NOTES, OUTPUT, TARGET, Technique, render, stratus_techniques
from tools.docs.rulepack import RULES, SIGMAHQ_PACK, load_pack


@pytest.fixture(scope="module")
def techniques() -> list[Technique]:
    return stratus_techniques(load_pack(RULES).rules, load_pack(SIGMAHQ_PACK).rules)


def test_the_stratus_corpus_holds_35_techniques(techniques: list[Technique]) -> None:
    assert len(techniques) == 35


def test_our_rules_detect_at_least_30_of_the_35_stratus_techniques(
    techniques: list[Technique],
) -> None:
    missed = [technique.name for technique in techniques if not technique.detected]
    assert len(techniques) - len(missed) >= TARGET, f"not detected: {missed}"


def test_every_undetected_technique_has_a_reviewed_reason(techniques: list[Technique]) -> None:
    unexplained = [t.name for t in techniques if not t.detected and t.name not in NOTES]
    assert not unexplained, "add these to NOTES in tools/docs/attack_coverage.py"


def test_a_rule_firing_only_on_stratus_set_up_calls_does_not_count() -> None:
    technique = Technique("t", ours={"account_api_call_denied": {"AssumeRole"}}, pack={})
    assert not technique.detected
    technique.ours["cloudtrail_trail_stopped"] = {"StopLogging"}
    assert technique.detected


def test_the_committed_report_is_what_the_script_writes_now() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == render(), (
        "docs/reference/attack-coverage.md is stale: run make docs"
    )

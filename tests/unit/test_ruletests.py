"""Inline rule tests: outcomes, the reasons given for failures, and event files found by path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.rules import WriteRule, rule_text
from trailhound.authoring import ruletests
from trailhound.authoring.keys import RuleTest
from trailhound.authoring.loader import load_rule_file
from trailhound.authoring.ruletests import (
    explain,
    load_test_event,
    resolve_event_file,
    run_rule_tests,
)
from trailhound.engine.rule import CompiledRule

DETECTION = """
    selection:
      eventSource: ec2.amazonaws.com
      eventName: TerminateInstances
    filter:
      userIdentity.invokedBy|endswith: .amazonaws.com
    condition: selection and not filter
"""

BY_USER = {
    "eventSource": "ec2.amazonaws.com",
    "eventName": "TerminateInstances",
    "userIdentity": {"type": "IAMUser", "userName": "alice"},
}
BY_SERVICE = {
    "eventSource": "ec2.amazonaws.com",
    "eventName": "TerminateInstances",
    "userIdentity": {"type": "AssumedRole", "invokedBy": "autoscaling.amazonaws.com"},
}


def cases_yaml(*cases: tuple[str, bool, Any]) -> str:
    """A `tests:` block; each event is a dict (inline) or a str (a path)."""
    items = [{"name": name, "expect": expect, "event": event} for name, expect, event in cases]
    return "tests: " + json.dumps(items) + "\n"


def rule_with_tests(write_rule: WriteRule, *cases: tuple[str, bool, Any], name: str = "") -> Any:
    text = rule_text(DETECTION, cases_yaml(*cases))
    return load_rule_file(write_rule(text, name=name or None))


def outcomes(rule: CompiledRule) -> list[ruletests.TestOutcome]:
    return list(run_rule_tests([rule]))


def test_passing_cases_pass(write_rule: WriteRule) -> None:
    rule = rule_with_tests(
        write_rule,
        ("a user terminates", True, BY_USER),
        ("auto scaling terminates", False, BY_SERVICE),
    )
    results = outcomes(rule)
    assert [(outcome.name, outcome.passed) for outcome in results] == [
        ("a user terminates", True),
        ("auto scaling terminates", True),
    ]
    assert all(outcome.reason == "" for outcome in results)
    assert str(results[0]) == f"PASS {rule.rule_id} :: a user terminates"


def test_expected_match_that_did_not_fire_says_which_identifiers_held(
    write_rule: WriteRule,
) -> None:
    rule = rule_with_tests(write_rule, ("service call should fire", True, BY_SERVICE))
    (outcome,) = outcomes(rule)
    assert not outcome.passed
    assert outcome.reason == "expected a match, got none (selection: yes, filter: yes)"
    assert str(outcome).startswith(f"FAIL {rule.rule_id} :: service call should fire: expected")


def test_unexpected_match_says_which_identifiers_held(write_rule: WriteRule) -> None:
    rule = rule_with_tests(write_rule, ("user call should not fire", False, BY_USER))
    (outcome,) = outcomes(rule)
    assert not outcome.passed
    assert outcome.reason == "expected no match, got one (selection: yes, filter: no)"


def test_explain_reports_every_identifier(write_rule: WriteRule) -> None:
    rule = rule_with_tests(write_rule)
    assert explain(rule, {"eventName": "RunInstances"}) == "selection: no, filter: no"
    assert explain(rule, BY_SERVICE) == "selection: yes, filter: yes"


def test_explain_handles_a_list_of_maps(write_rule: WriteRule) -> None:
    text = rule_text(
        "selection:\n  - eventName: A\n  - eventName: B\n    errorCode: X\ncondition: selection"
    )
    rule = load_rule_file(write_rule(text))
    assert explain(rule, {"eventName": "B", "errorCode": "x"}) == "selection: yes"
    assert explain(rule, {"eventName": "B"}) == "selection: no"


def test_event_path_is_resolved_from_the_rule_folder(write_rule: WriteRule, tmp_path: Path) -> None:
    event = tmp_path / "rules" / "ec2" / "events" / "terminate.json"
    event.parent.mkdir(parents=True)
    event.write_text(json.dumps(BY_USER), encoding="utf-8")
    rule = rule_with_tests(
        write_rule, ("from a file", True, "events/terminate.json"), name="rules/ec2/terminate.yml"
    )
    (outcome,) = outcomes(rule)
    assert outcome.passed, outcome.reason


def test_event_path_is_resolved_from_a_parent_folder(write_rule: WriteRule, tmp_path: Path) -> None:
    event = tmp_path / "events" / "cloudtrail" / "terminate.json"
    event.parent.mkdir(parents=True)
    event.write_text(json.dumps(BY_SERVICE), encoding="utf-8")
    rule = rule_with_tests(
        write_rule,
        ("from a parent", False, "events/cloudtrail/terminate.json"),
        name="rules/ec2/terminate.yml",
    )
    (outcome,) = outcomes(rule)
    assert outcome.passed, outcome.reason
    assert resolve_event_file(rule.rule.path, "events/cloudtrail/terminate.json") == event


def test_nearest_event_file_wins(write_rule: WriteRule, tmp_path: Path) -> None:
    far = tmp_path / "events" / "e.json"
    near = tmp_path / "rules" / "events" / "e.json"
    for path, record in ((far, BY_SERVICE), (near, BY_USER)):
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record), encoding="utf-8")
    rule = rule_with_tests(write_rule, ("near", True, "events/e.json"), name="rules/r.yml")
    assert resolve_event_file(rule.rule.path, "events/e.json") == near
    assert outcomes(rule)[0].passed


def test_missing_event_file_is_a_failure_with_a_clear_reason(write_rule: WriteRule) -> None:
    rule = rule_with_tests(write_rule, ("no file", True, "events/absent.json"))
    (outcome,) = outcomes(rule)
    assert not outcome.passed
    assert "event file 'events/absent.json' not found from" in outcome.reason
    assert str(rule.rule.path.parent) in outcome.reason


def test_absolute_event_path_is_refused(write_rule: WriteRule, tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text(json.dumps(BY_USER), encoding="utf-8")
    rule = rule_with_tests(write_rule, ("absolute", True, str(event)))
    (outcome,) = outcomes(rule)
    assert not outcome.passed
    assert "must be relative" in outcome.reason


def test_event_file_that_is_not_json_is_a_failure(write_rule: WriteRule, tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "bad.json").write_text("{not json", encoding="utf-8")
    rule = rule_with_tests(write_rule, ("bad json", True, "events/bad.json"))
    (outcome,) = outcomes(rule)
    assert not outcome.passed
    assert "is not JSON" in outcome.reason


def test_event_file_that_is_not_an_object_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "list.json").write_text("[1, 2]", encoding="utf-8")
    case = RuleTest(name="list", expect=True, event="events/list.json")
    with pytest.raises(ruletests.TestEventError, match="does not hold a CloudTrail record"):
        load_test_event(tmp_path / "rule.yml", case)


def test_cloudtrail_log_file_uses_its_first_record(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    log = {"Records": [BY_USER, BY_SERVICE]}
    (tmp_path / "events" / "log.json").write_text(json.dumps(log), encoding="utf-8")
    case = RuleTest(name="log", expect=True, event="events/log.json")
    assert load_test_event(tmp_path / "rule.yml", case) == BY_USER


def test_inline_event_is_used_as_is(tmp_path: Path) -> None:
    case = RuleTest(name="inline", expect=True, event=BY_USER)
    assert load_test_event(tmp_path / "rule.yml", case) == BY_USER


def test_a_rule_that_raises_fails_its_test_with_the_error(write_rule: WriteRule) -> None:
    rule = rule_with_tests(write_rule, ("raises", True, BY_USER))

    def explode(record: dict[str, Any]) -> bool:
        raise ValueError("bad record")

    broken = dataclasses.replace(
        rule, condition=dataclasses.replace(rule.condition, predicate=explode)
    )
    (outcome,) = outcomes(broken)
    assert not outcome.passed
    assert outcome.reason == "the rule raised ValueError: bad record"


def test_rules_without_tests_yield_no_outcomes(write_rule: WriteRule) -> None:
    assert outcomes(rule_with_tests(write_rule)) == []


def test_outcomes_of_several_rules_name_their_rule(write_rule: WriteRule) -> None:
    first = rule_with_tests(write_rule, ("one", True, BY_USER), name="first.yml")
    second = rule_with_tests(write_rule, ("two", True, BY_SERVICE), name="second.yml")
    results = list(run_rule_tests([first, second]))
    assert [(outcome.rule_id, outcome.passed) for outcome in results] == [
        ("first", True),
        ("second", False),
    ]
    assert results[1].path == second.rule.path

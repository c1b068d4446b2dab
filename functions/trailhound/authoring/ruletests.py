"""Run the inline `tests` of rule files: does each rule fire exactly where its author says?"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trailhound.authoring.compiler import compile_conditions
from trailhound.authoring.keys import RuleTest
from trailhound.authoring.rulefile import AuthoredRule
from trailhound.engine.ruleset import RuleSet
from trailhound.errors import TestEventError


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """The result of one inline test case."""

    rule_id: str
    path: Path
    name: str
    passed: bool
    reason: str = ""

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        detail = f": {self.reason}" if self.reason else ""
        return f"{verdict} {self.rule_id} :: {self.name}{detail}"


def resolve_event_file(rule_path: Path, reference: str) -> Path:
    """Find `reference` (e.g. `events/cloudtrail/x.json`) from the rule's folder or any parent."""
    candidate = Path(reference)
    if candidate.is_absolute():
        raise TestEventError(f"event path {reference!r} must be relative, e.g. events/x.json")
    for folder in (rule_path.resolve().parent, *rule_path.resolve().parents):
        if (folder / candidate).is_file():
            return folder / candidate
    raise TestEventError(f"event file {reference!r} not found from {rule_path.parent} or above")


def load_test_event(rule_path: Path, test: RuleTest) -> dict[str, Any]:
    """The CloudTrail record a test runs on, read from its file when it names one."""
    if isinstance(test.event, dict):
        return test.event
    event_path = resolve_event_file(rule_path, test.event)
    try:
        data = orjson.loads(event_path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise TestEventError(f"event file {test.event!r} is not JSON: {error}") from error
    if isinstance(data, dict) and isinstance(data.get("Records"), list) and data["Records"]:
        data = data["Records"][0]
    if not isinstance(data, dict):
        raise TestEventError(f"event file {test.event!r} does not hold a CloudTrail record")
    return data


def run_rule_tests(rules: Iterable[AuthoredRule]) -> Iterator[TestOutcome]:
    """Run each rule's cases through a one-rule RuleSet, so the index is tested along the way."""
    for compiled in rules:
        rule = compiled.rule
        ruleset = RuleSet([compiled])
        for test in compiled.tests:
            try:
                event = load_test_event(rule.path, test)
            except TestEventError as error:
                yield TestOutcome(rule.rule_id, rule.path, test.name, False, str(error))
                continue
            result = ruleset.match(event)
            if result.failures:
                reason = f"the rule raised {result.failures[0].error}"
                yield TestOutcome(rule.rule_id, rule.path, test.name, False, reason)
                continue
            fired = bool(result.matched)
            if fired == test.expect:
                yield TestOutcome(rule.rule_id, rule.path, test.name, True)
            else:
                wanted = (
                    "expected a match, got none" if test.expect else "expected no match, got one"
                )
                reason = f"{wanted} ({explain(compiled, event)})"
                yield TestOutcome(rule.rule_id, rule.path, test.name, False, reason)


def explain(compiled: AuthoredRule, event: dict[str, Any]) -> str:
    """Which search identifiers hold on `event`, e.g. `selection: yes, filter: no`."""
    detections = compiled.sigma.detection
    verdicts = []
    for name, detection in detections.detections.items():
        try:
            condition = copy.deepcopy(detection).postprocess(detections)
            holds = compile_conditions([condition]).predicate(event)
            verdicts.append(f"{_readable(name)}: {'yes' if holds else 'no'}")
        except Exception as error:  # an explanation must not hide the failure it explains
            verdicts.append(f"{_readable(name)}: {type(error).__name__}")
    return ", ".join(verdicts)


def _readable(identifier: str) -> str:
    """pySigma renames a filter's selections `_filt_<random>_<name>`; say `filter <name>`."""
    match = _FILTER_IDENTIFIER.match(identifier)
    return f"filter {match.group(1)}" if match else identifier


_FILTER_IDENTIFIER = re.compile(r"^_filt_[a-z]+_(.+)$")

"""Rules for tests: a rule file around a detection, and matching as production does."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from trailhound.engine.conditions import build_condition, deferred_condition
from trailhound.engine.rule import CompiledRule
from trailhound.engine.ruleset import RuleSet

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

"""The comparison baseline: a straightforward Sigma evaluator on pySigma's parsed condition trees.

For every event and every rule it walks the rule's condition tree (pySigma's `parsed_condition`)
and evaluates each leaf against the event directly, with the matching rules trailhound documents
(docs/rules.md, "How values match"): strings case-insensitive with `*` and `?` wildcards,
numbers and booleans matched as CloudTrail writes them, `null` for absent or JSON null, dotted
paths that fan out over lists. No index, no compilation: the only thing kept between events is
each wildcard pattern's compiled regular expression, as any sane implementation would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


class PySigmaEvaluator:
    """Rules parsed by pySigma; `match` walks every rule's condition tree for one event."""

    def __init__(self, paths: list[Path]) -> None:
        self.rules: list[tuple[str, list[Any]]] = []
        self._patterns: dict[int, re.Pattern[str]] = {}
        for path in paths:
            rule = SigmaRule.from_yaml(path.read_text(encoding="utf-8"))
            trees = [condition.parsed for condition in rule.detection.parsed_condition]
            self.rules.append((path.stem, trees))

    def match(self, event: dict[str, Any]) -> list[str]:
        """The ids of the rules whose condition (any of them, if several) holds for `event`."""
        return [
            rule_id
            for rule_id, trees in self.rules
            if any(self._holds(tree, event) for tree in trees)
        ]

    def _holds(self, node: Any, event: dict[str, Any]) -> bool:
        if isinstance(node, ConditionAND):
            return all(self._holds(arg, event) for arg in node.args)
        if isinstance(node, ConditionOR):
            return any(self._holds(arg, event) for arg in node.args)
        if isinstance(node, ConditionNOT):
            return not self._holds(node.args[0], event)
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self._leaf(node.field, node.value, event)
        raise ValueError(f"unsupported condition element {type(node).__name__}")

    def _leaf(self, field: str, value: Any, event: dict[str, Any]) -> bool:
        found = list(values_at(event, field))
        if isinstance(value, SigmaNull):
            return not found or any(item is None for item in found)
        if isinstance(value, SigmaExists):
            return any(item is not None for item in found) == value.exists
        if isinstance(value, SigmaFieldReference):
            return self._field_reference(found, value, event)
        texts = [text for text in map(as_text, found) if text is not None]
        if isinstance(value, SigmaString):
            pattern = self._pattern(value)
            return any(pattern.fullmatch(text) for text in texts)
        if isinstance(value, SigmaRegularExpression):
            flags = 0
            for flag in value.flags or ():
                flags |= _FLAGS[flag]
            return any(re.search(value.regexp.original, text, flags) for text in texts)
        if isinstance(value, SigmaBool):
            return any(text == str(value.boolean).lower() for text in map(str.lower, texts))
        if isinstance(value, SigmaNumber):
            return any(_number(text) == value.number for text in texts)
        raise ValueError(f"unsupported value type {type(value).__name__}")

    def _pattern(self, value: SigmaString) -> re.Pattern[str]:
        pattern = self._patterns.get(id(value))
        if pattern is None:
            source = "".join(
                ".*"
                if part is SpecialChars.WILDCARD_MULTI
                else "."
                if part is SpecialChars.WILDCARD_SINGLE
                else re.escape(str(part))
                for part in value.s
            )
            pattern = self._patterns[id(value)] = re.compile(source, re.IGNORECASE | re.DOTALL)
        return pattern

    def _field_reference(
        self, found: list[Any], value: SigmaFieldReference, event: dict[str, Any]
    ) -> bool:
        mine = [text.lower() for text in map(as_text, found) if text is not None]
        others = [text.lower() for text in map(as_text, values_at(event, value.field)) if text]
        for text in mine:
            for other in others:
                if value.starts_with and value.ends_with:
                    if other in text:
                        return True
                elif value.starts_with:
                    if text.startswith(other):
                        return True
                elif value.ends_with:
                    if text.endswith(other):
                        return True
                elif text == other:
                    return True
        return False


def values_at(value: Any, path: str) -> Iterator[Any]:
    """Every value at the dotted `path`; a list on the way, or at the end, gives each element."""
    yield from _walk(value, path.split("."))


def _walk(value: Any, parts: list[str]) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, parts)
    elif not parts:
        yield value
    elif isinstance(value, dict) and parts[0] in value:
        yield from _walk(value[parts[0]], parts[1:])


def as_text(value: Any) -> str | None:
    """A JSON scalar as CloudTrail writes it; objects, lists and null are not text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None

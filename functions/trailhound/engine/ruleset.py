"""The rule index: each event meets only the rules that could match it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from trailhound.engine.fields import field_reader
from trailhound.engine.matchers import lowered_texts
from trailhound.engine.rule import CompiledRule

Record = dict[str, Any]

_MAX_REMEMBERED = 50_000


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule whose predicate raised on an event: reported, and the other rules still ran."""

    rule_id: str
    error: str


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: tuple[CompiledRule, ...] = ()
    failures: tuple[RuleFailure, ...] = ()


_NOTHING = MatchResult()


class RuleSet:
    """Compiled rules indexed by the values their conditions require.

    A rule that requires `eventName` to be one of a few values is filed under each of them, or
    under each pair of them with the `eventSource` values it requires too, if any; one that
    only pins `eventSource` is filed under that; one that pins neither but requires another
    field to hold one of a few values (`userIdentity.type: Root`) is filed under that field's
    values; one that requires no value but needs a top-level field to hold one
    (`errorCode|startswith: AccessDenied`) meets only events that have it; the rest are
    candidates for every event. So an event costs a dictionary lookup, one read of each such
    other field, and the few rules written for what it holds, however many rules are loaded.
    """

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        by_name: dict[str, list[CompiledRule]] = {}
        by_pair: dict[tuple[str, str], list[CompiledRule]] = {}
        by_source: dict[str, list[CompiledRule]] = {}
        by_field: dict[str, dict[str, list[CompiledRule]]] = {}
        by_presence: dict[str, list[CompiledRule]] = {}
        always: list[CompiledRule] = []
        for rule in self.rules:
            requirement = rule.condition.requirement
            if requirement is None:
                presence = rule.condition.presence
                if presence is None:
                    always.append(rule)
                else:
                    by_presence.setdefault(presence, []).append(rule)
                continue
            if requirement.field == "eventName" and requirement.sources is not None:
                for name in requirement.values:
                    for source in requirement.sources:
                        by_pair.setdefault((name, source), []).append(rule)
                continue
            if requirement.field == "eventName":
                index = by_name
            elif requirement.field == "eventSource":
                index = by_source
            else:
                index = by_field.setdefault(requirement.field, {})
            for value in requirement.values:
                index.setdefault(value, []).append(rule)
        self._by_name = {key: tuple(value) for key, value in by_name.items()}
        self._by_pair = {key: tuple(value) for key, value in by_pair.items()}
        self._by_source = {key: tuple(value) for key, value in by_source.items()}
        self._by_field = tuple(
            (field_reader(field), {key: tuple(value) for key, value in index.items()})
            for field, index in by_field.items()
        )
        self._by_presence = tuple((field, tuple(rules)) for field, rules in by_presence.items())
        self._always = tuple(always)
        self._seen: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}

    @property
    def unindexed(self) -> Sequence[CompiledRule]:
        """Rules tested against every event (their conditions require no field's value)."""
        return self._always

    def candidates(self, record: Record) -> Sequence[CompiledRule]:
        """The rules that could match `record`, in load order within each group."""
        name = record.get("eventName")
        source = record.get("eventSource")
        if type(name) is not str or type(source) is not str:
            # Not indexable (a list, a number, missing): test every rule rather than guess.
            return self.rules
        key = (name, source)
        found = self._seen.get(key)
        if found is None:
            lowered = name.lower()
            lowered_source = source.lower()
            found = (
                self._by_name.get(lowered, ())
                + self._by_pair.get((lowered, lowered_source), ())
                + self._by_source.get(lowered_source, ())
                + self._always
            )
            # An account calls a few thousand distinct APIs; the cap only guards odd input.
            if len(self._seen) < _MAX_REMEMBERED:
                self._seen[key] = found
        for field, rules in self._by_presence:
            if record.get(field) is not None:
                found += rules
        for read, index in self._by_field:
            value = read(record)
            if type(value) is str:  # The usual case: what `lowered_texts` makes of it.
                filed = index.get(value.lower())
                if filed:
                    found += filed
                continue
            texts = lowered_texts(value)
            if len(texts) == 1:
                filed = index.get(texts[0])
                if filed:
                    found += filed
            elif texts:
                # Several values (a path through lists) may name the same rule more than once.
                filed = tuple(dict.fromkeys(rule for text in texts for rule in index.get(text, ())))
                found += filed
        return found

    def match(self, record: Record) -> MatchResult:
        """Every rule that matches `record`; a rule that fails is reported, never fatal."""
        matched: list[CompiledRule] | None = None
        failures: list[RuleFailure] | None = None
        for rule in self.candidates(record):
            try:
                if rule.condition.predicate(record):
                    if matched is None:
                        matched = []
                    matched.append(rule)
            except Exception as error:  # one rule must never blind the others
                if failures is None:
                    failures = []
                failures.append(RuleFailure(rule.rule_id, f"{type(error).__name__}: {error}"))
        if matched is None and failures is None:
            return _NOTHING
        return MatchResult(tuple(matched or ()), tuple(failures or ()))

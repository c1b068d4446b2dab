"""Condition trees → plain Python predicates over CloudTrail records, built once per rule.

A condition tree is plain data (nested lists of strings, numbers and booleans): the compiler
(`trailhound.authoring.compiler`) writes it from pySigma's parsed condition, and a rule bundle
(`trailhound.engine.bundle`) stores it, so a cold start can build the predicates without parsing
YAML or Sigma again. The forms:

- `["all", [node, ...]]`, `["any", [node, ...]]`, `["not", node]`;
- `["eq", field, lowered]`: a plain case-insensitive string equality;
- `["null", field]`, `["exists", field, true|false]`;
- `["fieldref", field, other_field, starts_with, ends_with]`;
- `["match", field, matcher]`: any of the field's values passes `matcher`, one of
  `["str", cased, parts]` (parts: `"=text"`, `"*"` or `"?"`), `["re", pattern, written, flags]`,
  `["bool", b]`, `["num", n]`, `["cmp", operator, n]`, `["cidr", network]`,
  `["time", part, n]`, `["anyof", [matcher, ...]]` (see `matchers`).

Nothing from a rule file is ever passed to `eval`; regular expressions run on RE2, which has no
backtracking, so no rule can stall the matcher.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailhound.engine.fields import MISSING, Values, each, field_reader
from trailhound.engine.matchers import text_of, value_matcher
from trailhound.engine.requirements import Requirement, presence_of, requirement_of
from trailhound.errors import CompileError

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
Node = Sequence[Any]
# A predicate, and (field, lowered value) when it is a plain case-insensitive equality, so that
# an OR of many (`eventName: [A, B, C, ...]`) becomes one set lookup instead of one per value.
_Built = tuple[Predicate, tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A rule's predicate, with what the index needs to know of its condition."""

    predicate: Predicate
    requirement: Requirement | None
    # The tree the predicate was built from, for rule bundles.
    node: Node = field(default=(), compare=False, repr=False)
    # A top-level field that must hold a value, not null, for the condition to hold
    # (`errorCode|startswith: Access`).
    presence: str | None = None


def build_condition(node: Node) -> CompiledCondition:
    """The predicate (and index requirement) of a condition tree."""
    predicate, _ = _build(node)
    return CompiledCondition(predicate, requirement_of(node), node, presence_of(node))


def deferred_condition(node: Node) -> CompiledCondition:
    """The condition of a tree whose predicate is built when it is first called.

    A rule bundle's rules so cost a cold start only their index requirement; each is built
    when the first event that could match it arrives, which for most rules is never. A tree
    that does not build fails then, as a rule failure, like a rule that raises.
    """
    condition = CompiledCondition(_not_built, requirement_of(node), node, presence_of(node))

    def build_and_test(record: Record) -> bool:
        predicate = build_condition(node).predicate
        # Later calls go straight to the built predicate; the dataclass is frozen to its users.
        object.__setattr__(condition, "predicate", predicate)
        return predicate(record)

    object.__setattr__(condition, "predicate", build_and_test)
    return condition


def _not_built(record: Record) -> bool:
    raise AssertionError("replaced before use")


def _build(node: Node) -> _Built:
    kind = node[0]
    if kind == "all":
        return _all_of(node[1])
    if kind == "any":
        return _any_of([_build(part) for part in node[1]])
    if kind == "not":
        inner, _ = _build(node[1])
        return (lambda record: not inner(record)), None
    field = node[1]
    try:
        return _build_leaf(kind, field, node)
    except CompileError as error:
        if error.field is None:
            error.field = field
        raise


def _build_leaf(kind: str, field: str, node: Node) -> _Built:
    if kind == "eq":
        lowered = node[2]
        return _membership(field, frozenset({lowered})), (field, lowered)
    if kind == "null":
        return _null_test(field), None
    if kind == "exists":
        exists = _exists_test(field)
        if node[2]:
            return exists, None
        return (lambda record: not exists(record)), None
    if kind == "fieldref":
        return _field_reference_test(field, node[2], node[3], node[4]), None
    if kind == "match":
        return _any_value(field, value_matcher(node[2])), None
    raise CompileError(f"unknown condition form {kind!r}")


def _all_of(nodes: Sequence[Node]) -> _Built:
    if not nodes:
        raise CompileError("the rule has no condition")
    # Cheap, selective tests first: those that pin an indexed field usually decide at once.
    ordered = sorted(nodes, key=lambda part: requirement_of(part) is None)
    predicates = tuple(_build(part)[0] for part in ordered)
    if len(predicates) == 1:
        return predicates[0], None
    if len(predicates) == 2:
        first, second = predicates
        return (lambda record: first(record) and second(record)), None

    def all_hold(record: Record) -> bool:
        for predicate in predicates:
            if not predicate(record):
                return False
        return True

    return all_hold, None


def _any_of(parts: list[_Built]) -> _Built:
    if not parts:
        raise CompileError("the rule has no condition")
    if len(parts) == 1:
        return parts[0]
    predicates = tuple(_merge_equalities(parts))
    if len(predicates) == 1:
        return predicates[0], None
    if len(predicates) == 2:
        first, second = predicates
        return (lambda record: first(record) or second(record)), None

    def any_holds(record: Record) -> bool:
        for predicate in predicates:
            if predicate(record):
                return True
        return False

    return any_holds, None


def _merge_equalities(parts: list[_Built]) -> list[Predicate]:
    by_field: dict[str, set[str]] = {}
    others: list[Predicate] = []
    for predicate, equality in parts:
        if equality is None:
            others.append(predicate)
        else:
            by_field.setdefault(equality[0], set()).add(equality[1])
    merged = [_membership(field, frozenset(values)) for field, values in by_field.items()]
    return merged + others


def _membership(field: str, lowered: frozenset[str]) -> Predicate:
    read = field_reader(field)

    lengths = frozenset(len(text) for text in lowered)

    def is_member(record: Record) -> bool:
        value = read(record)
        if type(value) is str:
            # Lowering a long user agent costs more than the lookup; ASCII keeps its length.
            if value.isascii() and len(value) not in lengths:
                return False
            return value.lower() in lowered
        for item in each(value):
            text = text_of(item)
            if text is not None and text.lower() in lowered:
                return True
        return False

    return is_member


def _any_value(field: str, matches: Callable[[Any], bool]) -> Predicate:
    read = field_reader(field)

    def any_value_matches(record: Record) -> bool:
        value = read(record)
        if type(value) is not Values:
            return matches(value)
        for item in value:
            if matches(item):
                return True
        return False

    return any_value_matches


def _null_test(field: str) -> Predicate:
    read = field_reader(field)
    return lambda record: any(value is None or value is MISSING for value in each(read(record)))


def _exists_test(field: str) -> Predicate:
    read = field_reader(field)
    return lambda record: any(
        value is not None and value is not MISSING for value in each(read(record))
    )


def _field_reference_test(
    field: str, other_field: str, starts_with: bool, ends_with: bool
) -> Predicate:
    read = field_reader(field)
    read_other = field_reader(other_field)
    # `fieldref|contains` sets both flags; `text.__contains__(other)` is `other in text`.
    if starts_with and ends_with:
        relation: Callable[[str, str], bool] = str.__contains__
    elif starts_with:
        relation = str.startswith
    elif ends_with:
        relation = str.endswith
    else:
        relation = str.__eq__

    def matches(record: Record) -> bool:
        others = [
            text.lower() for text in map(text_of, each(read_other(record))) if text is not None
        ]
        for text in map(text_of, each(read(record))):
            if text is not None:
                lowered = text.lower()
                if any(relation(lowered, other) for other in others):
                    return True
        return False

    return matches

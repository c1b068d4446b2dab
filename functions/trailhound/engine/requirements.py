"""What a condition requires of an event, so the rule index can file the rule under it.

A rule whose condition needs `eventName` to be one of a few values is filed under them (and under
each pair with the `eventSource` values it needs too); one that pins another field's value is
filed under that field; one that needs a top-level field to hold any value meets only the events
that have it. All of it is read from the condition tree alone, before any predicate is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trailhound.errors import CompileError

Node = Sequence[Any]

# The fields the rule set looks up first: every record has them, and most rules pin them. A rule
# that pins neither but requires some other field to hold one of a few values is filed under
# that field instead (`userIdentity.type: Root`).
INDEX_FIELDS = ("eventName", "eventSource")


@dataclass(frozen=True, slots=True)
class Requirement:
    """The event must have `field` equal (case-insensitively) to one of `values` to match.

    For a field that holds several values (a path through lists), one of them must be.
    """

    field: str
    values: frozenset[str]
    # For an `eventName` requirement: `eventSource` must be one of these too, when known, so
    # a rule on one service's `TagResource` is not tried on every other service's.
    sources: frozenset[str] | None = None


def requirement_of(node: Node) -> Requirement | None:
    """The value a condition tree requires of one field, if any: what the index files it under."""
    kind = node[0]
    if kind in ("all", "any"):
        parts = [requirement_of(part) for part in node[1]]
        if not parts:
            raise CompileError("the rule has no condition")
        if kind == "all":
            return _narrowest([part for part in parts if part is not None])
        return parts[0] if len(parts) == 1 else _union(parts)
    if kind == "eq":
        return Requirement(node[1], frozenset({node[2]}))
    if kind == "not":
        requirement_of(node[1])  # A tree of known forms all through, or the bundle is damaged.
        return None
    if kind in ("null", "exists", "fieldref", "match"):
        return None
    raise CompileError(f"unknown condition form {kind!r}")


def presence_of(node: Node) -> str | None:
    """A top-level field that must hold a value (not missing, not null) for `node` to hold.

    Every value test fails on a missing or null value (only `null`, `exists: false` and `not`
    can hold there), so a condition that needs one on a field needs the field.
    """
    kind = node[0]
    if kind == "all":
        return next(filter(None, map(presence_of, node[1])), None)
    if kind == "any":
        fields = {presence_of(part) for part in node[1]}
        return fields.pop() if len(fields) == 1 else None
    if kind in ("eq", "match") or (kind == "exists" and node[2]):
        name: str = node[1]
        return name if "." not in name else None  # Top-level: one dictionary lookup.
    return None


def _narrowest(requirements: list[Requirement]) -> Requirement | None:
    """eventName, then eventSource (found at no cost), then the fewest values of another field.

    An eventName requirement takes the eventSource values that every match must have too.
    """
    if not requirements:
        return None
    narrowest = min(requirements, key=lambda req: (_rank(req.field), len(req.values)))
    if narrowest.field != "eventName":
        return narrowest
    sources: frozenset[str] | None = None
    for requirement in requirements:
        if requirement.field == "eventSource":
            also = requirement.values
        elif requirement.field == "eventName" and requirement.sources is not None:
            also = requirement.sources
        else:
            continue
        sources = also if sources is None else sources & also
    if sources is None or sources == narrowest.sources:
        return narrowest
    return Requirement(narrowest.field, narrowest.values, sources)


def _rank(field: str) -> int:
    return INDEX_FIELDS.index(field) if field in INDEX_FIELDS else len(INDEX_FIELDS)


def _union(requirements: list[Requirement | None]) -> Requirement | None:
    fields: set[str] = set()
    values: set[str] = set()
    sources: set[str] | None = set()
    for requirement in requirements:
        if requirement is None:
            return None
        fields.add(requirement.field)
        values.update(requirement.values)
        if requirement.sources is None:
            sources = None
        elif sources is not None:
            sources.update(requirement.sources)
    if len(fields) != 1:
        return None
    field = fields.pop()
    # Each part's pairs are among the product of all names and all sources.
    return Requirement(field, frozenset(values), None if sources is None else frozenset(sources))

"""Field access on CloudTrail records: dotted paths that fan out over lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final


class _Missing:
    """The value of a path that is absent from the record (distinct from JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

FieldReader = Callable[[dict[str, Any]], list[Any]]


def field_reader(path: str) -> FieldReader:
    """A function returning every value at `path`, one per list element met on the way.

    CloudTrail nests lists (`requestParameters.ipPermissions.items.ipRanges.items.cidrIp`), and a
    condition holds when any element matches, so each step fans out over lists. A branch where the
    path ends early yields MISSING, which is what `null` and `exists` look for.
    """
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]

        def read_top(record: dict[str, Any]) -> list[Any]:
            value = record.get(key, MISSING)
            if type(value) is list:
                return _flatten(value) or [MISSING]
            return [value]

        return read_top

    def read_nested(record: dict[str, Any]) -> list[Any]:
        # A key that itself holds dots wins over the walk, as it would in a flat log.
        if path in record:
            return read_top_literal(record)
        current: list[Any] = [record]
        for part in parts:
            following: list[Any] = []
            for item in current:
                if type(item) is dict:
                    value = item.get(part, MISSING)
                    if type(value) is list:
                        following.extend(_flatten(value) or (MISSING,))
                    else:
                        following.append(value)
                else:
                    following.append(MISSING)
            current = following
        return current

    def read_top_literal(record: dict[str, Any]) -> list[Any]:
        value = record[path]
        if type(value) is list:
            return _flatten(value) or [MISSING]
        return [value]

    return read_nested


def _flatten(values: list[Any]) -> list[Any]:
    if not any(type(value) is list for value in values):
        return values
    flat: list[Any] = []
    for value in values:
        if type(value) is list:
            flat.extend(_flatten(value))
        else:
            flat.append(value)
    return flat

"""Field access on CloudTrail records: dotted paths that fan out over lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final


class _Missing:
    """The value of a path that is absent from the record (distinct from JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class _Empty:
    """The value of a path that holds an empty list: present, yet equal to no value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Final = _Empty()


class Values(list[Any]):
    """Several values found at one path, because the path crossed a list; any may match."""

    __slots__ = ()


FieldReader = Callable[[dict[str, Any]], Any]


def each(value: Any) -> Sequence[Any]:
    """The values a reader returned, as a sequence."""
    return value if type(value) is Values else (value,)


def field_reader(path: str) -> FieldReader:
    """A function returning the value at `path`: one value, MISSING, EMPTY, or Values.

    CloudTrail nests lists (`requestParameters.ipPermissions.items.ipRanges.items.cidrIp`), and a
    condition holds when any element matches, so a step that meets a list fans out over it and the
    result is Values. An empty list at the end of the path is EMPTY (the field exists, with no
    value to match); one on the way holds no objects, so the path is MISSING there. The common
    case, a path through objects only, allocates nothing.
    """
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]

        def read_top(record: dict[str, Any]) -> Any:
            value = record.get(key, MISSING)
            return _many(value) if type(value) is list else value

        return read_top

    def read_nested(record: dict[str, Any]) -> Any:
        # A key that itself holds dots wins over the walk, as it would in a flat log.
        value: Any = record.get(path, MISSING)
        if value is MISSING:
            value = record
            for index, part in enumerate(parts):
                kind = type(value)
                if kind is dict:
                    value = value.get(part, MISSING)
                elif kind is list:
                    return _fan_out(value, parts[index:])
                else:
                    return MISSING
        return _many(value) if type(value) is list else value

    return read_nested


def _many(values: list[Any]) -> Any:
    flat = Values()
    _flatten_into(values, flat)
    return flat if flat else EMPTY


def _flatten_into(values: list[Any], flat: Values) -> None:
    for value in values:
        if type(value) is list:
            _flatten_into(value, flat)
        else:
            flat.append(value)


def _fan_out(items: list[Any], parts: tuple[str, ...]) -> Any:
    found = Values()
    for item in items:
        if type(item) is list:
            value = _fan_out(item, parts)
        elif type(item) is dict:
            value = item.get(parts[0], MISSING)
            if len(parts) > 1:
                value = _fan_out([value], parts[1:]) if type(value) in (dict, list) else MISSING
            elif type(value) is list:
                value = _many(value)
        else:
            value = MISSING
        if type(value) is Values:
            found.extend(value)
        else:
            found.append(value)
    return found if found else MISSING

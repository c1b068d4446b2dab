"""CloudTrail records as every source yields them: a record and where it came from, or why not.

Every source (a CloudWatch Logs subscription, log files, JSON Lines, stdin) yields the same items,
a `SourceRecord` (the record as a plain dict and where it came from) or a `BadInput` (input that
is not a record, reported and skipped), so the Lambda handler and `trailhound replay` share
everything downstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One CloudTrail record and where it came from, so an alert or error can point back to it."""

    record: dict[str, Any]
    location: str


@dataclass(frozen=True, slots=True)
class BadInput:
    """Input that could not be read as a CloudTrail record; reported and skipped, never fatal."""

    location: str
    message: str


SourceItem = SourceRecord | BadInput


def parse_record(text: str | bytes, location: str) -> SourceItem:
    """Parse one JSON text into a CloudTrail record, or say why it is not one."""
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        # orjson refuses some JSON that Python reads: a lone surrogate (\ud800) that a user agent
        # can carry into a record, a number beyond a double (1e400). One odd value must not
        # take a record past the rules.
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):
            return BadInput(location, f"not JSON: {error}")
    return as_record(record, location)


def as_record(value: Any, location: str) -> SourceItem:
    """The value as a record if it is one: a JSON object with string eventName and eventSource."""
    # JSON parsers return exact builtin types, so identity checks (cheaper than isinstance) do.
    if (
        type(value) is dict
        and type(value.get("eventName")) is str
        and type(value.get("eventSource")) is str
    ):
        return SourceRecord(value, location)
    return BadInput(location, not_a_record(value))


def not_a_record(value: Any) -> str:
    """Why a JSON value is not a CloudTrail record."""
    if not isinstance(value, dict):
        return f"not a CloudTrail record: expected a JSON object, found {kind_of(value)}"
    missing = [key for key in ("eventName", "eventSource") if not isinstance(value.get(key), str)]
    return f"not a CloudTrail record: no string {' or '.join(missing)}"


def kind_of(value: object) -> str:
    """What kind of JSON value this is, for messages: "null", "a number", "an array", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__

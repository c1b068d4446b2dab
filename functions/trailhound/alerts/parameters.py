"""Request parameters as an alert carries them: plain JSON, credentials out, at most 2 KB.

A call's parameters are the caller's to choose: any size, any depth, keys and strings JSON cannot
encode. The alert keeps what a responder needs to read, shrunk step by step to fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from trailhound.alerts.redaction import may_hold_secret_in_json, redact
from trailhound.text import ELLIPSIS, cut, utf8

REQUEST_PARAMETERS_MAX_BYTES = 2048
"""Largest compact JSON size of `what.request_parameters`; bigger ones are shrunk to fit."""

_JSON_MAX_DEPTH = 32
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
# (string chars, container items, depth) per pass; each pass trades more detail for size.
_SHRINK_PASSES = ((256, 32, 8), (64, 10, 4), (16, 4, 2))
_FALLBACK_CHARS = 2000


def request_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON data whose compact form fits `REQUEST_PARAMETERS_MAX_BYTES`.

    Shrinks long strings, long lists and deep parts step by step, and as a last resort keeps
    the start of the JSON text as one string.
    """
    try:
        encoded = orjson.dumps(parameters)
    except TypeError:  # A key, number or string JSON cannot hold, or a cycle.
        encoded = b""
    # Parsed again, the JSON is what `_plain` would make of the parameters if it nests less
    # deep than `_plain` cuts (fewer brackets in all): the usual case, at a fraction of the cost.
    if encoded and encoded.count(b"{") + encoded.count(b"[") < _JSON_MAX_DEPTH:
        data: dict[str, Any] = orjson.loads(encoded)
    else:
        data = {
            # The field is a dict[str, Any]: its keys are plain `str`, as validation makes them.
            (key if type(key) is str and key.isascii() else _top_key(key)): (
                item if type(item) is str and item.isascii() else plain_json(item, 1)
            )
            for key, item in parameters.items()
        }
        encoded = orjson.dumps(data)
    # Keys too: a secret-named key's value goes whole.
    if may_hold_secret_in_json(encoded.decode()):
        data = redact(data)
        encoded = orjson.dumps(data)
    if len(encoded) <= REQUEST_PARAMETERS_MAX_BYTES:
        return data
    for max_chars, max_items, max_depth in _SHRINK_PASSES:
        shrunk: dict[str, Any] = _shrink(data, max_chars, max_items, max_depth)
        if _size(shrunk) <= REQUEST_PARAMETERS_MAX_BYTES:
            return shrunk
    text = encoded.decode()
    cut = _FALLBACK_CHARS
    while True:
        fallback = {"_truncated": text[:cut] + ELLIPSIS}
        size = _size(fallback)
        if size <= REQUEST_PARAMETERS_MAX_BYTES or cut == 0:
            return fallback
        # Escaping and multi-byte characters make bytes outgrow chars; shrink in proportion.
        cut = cut * REQUEST_PARAMETERS_MAX_BYTES // size


def _top_key(key: Any) -> str:
    text = utf8(str(key))
    return text if type(text) is str else str.__str__(text)


def plain_json(value: Any, depth: int = 0) -> Any:
    """JSON-safe copy: str keys, 64-bit ints, finite floats, bounded depth, no cycles."""
    kind = type(value)
    # The exact types json.loads makes come first; anything else takes the general path.
    if kind is str:
        return value if value.isascii() else utf8(value)
    if kind is dict:
        if depth >= _JSON_MAX_DEPTH:
            return ELLIPSIS
        depth += 1
        return {
            (key if type(key) is str and key.isascii() else utf8(str(key))): (
                item if type(item) is str and item.isascii() else plain_json(item, depth)
            )
            for key, item in value.items()
        }
    if kind is list:
        if depth >= _JSON_MAX_DEPTH:
            return ELLIPSIS
        depth += 1
        return [
            item if type(item) is str and item.isascii() else plain_json(item, depth)
            for item in value
        ]
    if value is None or kind is bool:
        return value
    if kind is int:
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if kind is float:
        return value if math.isfinite(value) else None
    return _plain_any(value, depth)


def _plain_any(value: Any, depth: int) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return utf8(value)
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= _JSON_MAX_DEPTH:
        return ELLIPSIS
    if isinstance(value, Mapping):
        return {utf8(str(key)): plain_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item, depth + 1) for item in value]
    return f"<{type(value).__name__}>"


def _shrink(value: Any, max_chars: int, max_items: int, depth: int) -> Any:
    if isinstance(value, str):
        return cut(value, max_chars)
    if not isinstance(value, dict | list):
        return value
    if depth <= 0:
        return ELLIPSIS
    if isinstance(value, list):
        kept: list[Any] = [
            _shrink(item, max_chars, max_items, depth - 1) for item in value[:max_items]
        ]
        if len(value) > max_items:
            kept.append(f"{ELLIPSIS} {len(value) - max_items} more")
        return kept
    shrunk = {
        cut(key, max_chars): _shrink(item, max_chars, max_items, depth - 1)
        for key, item in list(value.items())[:max_items]
    }
    if len(value) > max_items:
        shrunk[ELLIPSIS] = f"{len(value) - max_items} more keys"
    return shrunk


def _size(data: Any) -> int:
    return len(orjson.dumps(data))

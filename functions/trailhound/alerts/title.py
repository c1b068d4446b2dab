"""Alert titles from rule templates: `{field.path}` placeholders filled from the record.

A regex, not `str.format`: format specs and attribute access in rule text or event values must
stay inert text. Each value is cleaned to one line, stripped of credentials and cut before it
goes in, and the title is one line of at most `TITLE_MAX_CHARS`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import orjson

from trailhound.alerts.parameters import plain_json
from trailhound.alerts.redaction import redact_text
from trailhound.text import clean_line, cut

TITLE_MAX_CHARS = 200
TITLE_VALUE_MAX_CHARS = 100

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\-]+)\}")

# A placeholder's path: its steps, each with its index if it is a number.
_Path = tuple[tuple[str, int | None], ...]
# A template split once: the text before the first placeholder; each placeholder's record key
# (when its path is one step that is not a number), path and the text after it; and whether
# the texts stay one clean line whatever clean values go between them. A template without
# placeholders is its finished title.
_Template = str | tuple[str, tuple[tuple[str | None, _Path, str], ...], bool]


def render_title(template: str, record: Mapping[str, Any]) -> str:
    """Fill `{field.path}` placeholders from the record; one line of at most 200 chars."""
    if type(template) is not str:
        template = str.__str__(template)  # A str subclass could hash as another text does.
    compiled = _compiled(template)
    if isinstance(compiled, str):
        return compiled
    title, placeholders, clean = compiled
    for key, path, text in placeholders:
        if key is not None and type(record) is dict:
            value = record.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
        else:
            value = follow(record, path)
        if type(value) is str and value.isprintable():
            if " " in value:  # What `clean_line` makes of printable text.
                value = " ".join(value.split())
        else:
            value = clean_line(_placeholder_value(value))
        value = redact_text(value)  # Before the cut, which could split a credential.
        title = title + (cut(value, TITLE_VALUE_MAX_CHARS) or "?") + text
    if not clean:
        title = clean_line(title)
    return cut(title, TITLE_MAX_CHARS)


@functools.lru_cache(maxsize=1024)
def _compiled(template: str) -> _Template:
    pieces = _PLACEHOLDER.split(template)
    if len(pieces) == 1:
        return cut(clean_line(template), TITLE_MAX_CHARS)
    texts = pieces[0::2]
    placeholders = []
    for path, text in zip(pieces[1::2], texts[1:], strict=True):
        steps = path_of(path)
        key = steps[0][0] if len(steps) == 1 and steps[0][1] is None else None
        placeholders.append((key, steps, text))
    # Values are made single-spaced lines (never empty, no space at either end), so the title
    # is one as well if the texts have nothing `clean_line` would change either.
    clean = (
        all(text.isprintable() and "  " not in text for text in texts)
        and not texts[0].startswith(" ")
        and not texts[-1].endswith(" ")
    )
    return texts[0], tuple(placeholders), clean


def path_of(path: str) -> _Path:
    """A dotted placeholder path as steps, each with its index if it is a number."""
    return tuple((step, int(step) if step.isdigit() else None) for step in path.split("."))


def follow(record: Mapping[str, Any], path: _Path) -> Any:
    """The value at `path`; a list step takes the element at a numeric step, else the first."""
    value: Any = record
    for step, index in path:
        if isinstance(value, list):
            if index is not None:
                value = value[index] if index < len(value) else None
                continue
            value = value[0] if value else None
        value = value.get(step) if type(value) is dict or isinstance(value, Mapping) else None
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _placeholder_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(plain_json(value)).decode()

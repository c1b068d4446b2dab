"""Text from events made safe to show: one line, no disguising characters, cut to a length.

CloudTrail records carry attacker-chosen text (user agents, error messages, resource names), and
alerts show it in e-mail subjects, chat titles and one-line facts. Everything that flattens or
cuts such text goes through this module, so every place agrees on what a clean line is.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

_WHITESPACE = re.compile(r"\s")
# C0/C1 controls and the invisible or bidi-reordering characters that can make a line lie.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def one_line(text: str) -> str:
    """Whitespace runs as one space, no control or disguising characters, no space at the ends."""
    if text.isprintable():  # Nothing for the regexes to replace, and the usual case.
        return " ".join(text.split())
    return " ".join(_CONTROL.sub("", _WHITESPACE.sub(" ", text)).split())


def clean_line(text: str) -> str:
    """`one_line` of text that may hold lone surrogates, which UTF-8 cannot encode."""
    if text.isprintable():  # No surrogates (nor controls, nor whitespace but " ").
        return " ".join(text.split())
    return one_line(utf8(text))


def without_controls(text: str) -> str:
    """The text with control and disguising characters removed, line breaks included."""
    return _CONTROL.sub("", text)


def utf8(text: str) -> str:
    """Replace lone surrogates, which JSON escapes can carry but no UTF-8 encoder accepts."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode(errors="replace").decode()
    return text


def cut(text: str | None, limit: int, marker: str = ELLIPSIS) -> str:
    """The text, or its start and `marker` within `limit` characters if it is longer."""
    if not text:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - len(marker)] + marker

"""Regular expressions on RE2, and the literal text every match of a pattern must contain.

RE2 has no backtracking, so no pattern in a rule can stall the matcher on a long value; the
literal lets a substring test rule out most values before the search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import re2

from trailhound.errors import CompileError

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def compile_re2(pattern: str) -> Any:
    """Compile an RE2 pattern; CompileError says why one is not valid RE2."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        detail = error.args[0] if error.args else error
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise CompileError(f"regular expression {pattern!r} is not valid RE2: {detail}") from error


def compile_regex(pattern: str, flags: Iterable[str] = ()) -> Any:
    """Compile a Sigma `re` pattern on RE2 (used by lint too)."""
    prefix = "".join(sorted(set(flags)))
    return compile_re2(f"(?{prefix}){pattern}" if prefix else pattern)


# `(?i)`, `(?si)`, `(?i:...)`, and also `(?-i)`, which only makes the pre-test more careful.
_INLINE_IGNORECASE = re.compile(r"\(\?[a-zA-Z-]*i")


def ignores_case(written: str, flags: str) -> bool:
    """Whether a pattern, with its Sigma flags, may match text in another letter case."""
    return "i" in flags or _INLINE_IGNORECASE.search(written) is not None


_QUANTIFIERS = frozenset("*?{+")
_SHORT_CLASSES = frozenset("dDwWsSbBAz")
_FLAG_GROUP = re.compile(r"\(\?[a-zA-Z-]*\)")
_META = frozenset(".^$[]()|\\")


def required_literal(pattern: str, shortest: int = 3) -> str | None:
    """The longest literal every match of `pattern` must contain, or None if unsure.

    Only top-level characters count (not those in groups, classes or alternations): a match of a
    case-sensitive pattern holds the literal as it is, one of a case-insensitive pattern holds it
    in some letter case.
    """
    runs: list[str] = []
    current: list[str] = []
    depth = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        literal: str | None = None
        width = 1
        if char == "\\":
            escaped = pattern[index + 1 : index + 2]
            if escaped and not escaped.isalnum():
                literal, width = escaped, 2
            elif escaped and escaped in _SHORT_CLASSES:
                width = 2
            else:
                return None  # \x41, \pN, \Q...\E: not worth reading, so no pre-test
        elif char == "{":
            close = pattern.find("}", index)
            if close < 0:
                return None
            width = close - index + 1
        elif char == "[":
            class_end = _class_end(pattern, index)
            if class_end is None:
                return None
            width = class_end - index + 1
        elif char == "(":
            flags = _FLAG_GROUP.match(pattern, index)
            if flags:  # (?i) sets flags and matches nothing; a quantifier after it is suspect
                width = flags.end() - index
                literal = None
            else:
                depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|":
            if depth == 0:
                return None
        elif char not in _META and char not in _QUANTIFIERS:
            literal = char
        after = index + width
        while flag_group := _FLAG_GROUP.match(pattern, after):
            after = flag_group.end()
        following = pattern[after : after + 1]
        if literal is not None and depth == 0 and following not in _QUANTIFIERS - {"+"}:
            current.append(literal)
        else:
            if current:
                runs.append("".join(current))
            current = []
        index += width
    if current:
        runs.append("".join(current))
    best = max(runs, key=len, default="")
    return best if len(best) >= shortest else None


def _class_end(pattern: str, start: int) -> int | None:
    index = start + 1
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":
        index += 1
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
            continue
        if pattern[index] == "]":
            return index
        index += 1
    return None

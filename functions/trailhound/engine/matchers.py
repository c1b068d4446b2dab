"""Value matchers: does one value of a field pass a Sigma value with its modifiers?

A matcher is one of the condition tree's `["match", field, matcher]` forms (`conditions`), and
takes one value: a field that holds several values (a path through lists) passes if any does.
Strings are compared as Sigma says, case-insensitively unless `|cased`, and numbers and booleans
as CloudTrail writes them (`'22'` matches `22`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import re2

from trailhound.engine.fields import each
from trailhound.engine.regex import compile_re2, compile_regex, ignores_case, required_literal
from trailhound.errors import CompileError

ValueMatcher = Callable[[Any], bool]
Node = Sequence[Any]

MULTI = "*"
SINGLE = "?"


def value_matcher(matcher: Node) -> ValueMatcher:
    """The test of one value that a matcher form describes."""
    kind = matcher[0]
    if kind == "str":
        return _string_matcher(matcher[2], cased=bool(matcher[1]))
    if kind == "re":
        return _regex_matcher(matcher[1], matcher[2], matcher[3])
    if kind == "bool":
        return _bool_matcher(bool(matcher[1]))
    if kind == "num":
        return _number_matcher(matcher[1])
    if kind == "cmp":
        return _compare_matcher(matcher[1], matcher[2])
    if kind == "cidr":
        return _cidr_matcher(matcher[1])
    if kind == "time":
        return _timestamp_part_matcher(matcher[1], matcher[2])
    if kind == "anyof":
        matchers = tuple(value_matcher(item) for item in matcher[1])
        return lambda candidate: any(match(candidate) for match in matchers)
    raise CompileError(f"unknown value matcher {kind!r}")


def text_of(value: Any) -> str | None:
    """The string a Sigma string is compared with: JSON strings, and numbers/booleans as written."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    return None


def lowered_texts(value: Any) -> list[str]:
    """The texts a field's value offers an equality test, lowered as `eq` compares them."""
    if type(value) is str:
        return [value.lower()]
    return [text.lower() for text in map(text_of, each(value)) if text is not None]


def _string_matcher(parts: Sequence[str], cased: bool) -> ValueMatcher:
    """`parts`: literal text as `"=text"`, and the wildcards `"*"` and `"?"`."""
    fold: Callable[[str], str] = (lambda text: text) if cased else str.lower

    def literal(part: str) -> str:
        return part[1:] if cased else part[1:].lower()

    strings = [part for part in parts if part.startswith("=")]
    # The common shapes (contains/startswith/endswith and plain values) become str methods.
    if SINGLE not in parts and len(strings) <= 1:
        needle = literal(strings[0]) if strings else ""
        shape = tuple(part == MULTI for part in parts)
        if shape == (False,):
            return _text_test(fold, lambda text: text == needle)
        if shape in ((True,), (True, True)):
            return lambda candidate: text_of(candidate) is not None
        if shape == (False, True):
            return _text_test(fold, lambda text: text.startswith(needle))
        if shape == (True, False):
            return _text_test(fold, lambda text: text.endswith(needle))
        if shape == (True, False, True):
            return _text_test(fold, lambda text: needle in text)
    pattern = "".join(
        ".*" if part == MULTI else "." if part == SINGLE else re2.escape(part[1:]) for part in parts
    )
    compiled = compile_re2(("(?s)" if cased else "(?si)") + pattern)
    return _text_test(lambda text: text, lambda text: compiled.fullmatch(text) is not None)


def _text_test(fold: Callable[[str], str], test: Callable[[str], bool]) -> ValueMatcher:
    def matches(candidate: Any) -> bool:
        text = text_of(candidate)
        return text is not None and test(fold(text))

    return matches


def _regex_matcher(pattern: str, written: str, flags: str) -> ValueMatcher:
    """`pattern` is searched for; `written` is the part the rule's author wrote; `flags`: imsx."""
    compiled = compile_regex(pattern, flags)
    # A substring test rules out most values for a fraction of a regex search's cost; it must
    # hold for every value the search would match.
    needle = required_literal(written)
    folds = ignores_case(written, flags)

    if needle is not None and not folds:

        def literal_matches(candidate: Any) -> bool:
            text = text_of(candidate)
            return text is not None and needle in text and compiled.search(text) is not None

        return literal_matches

    if needle is not None and needle.isascii():
        # Among ASCII characters, RE2's case folding is lower(); beyond them it is wider (`s`
        # matches the long s U+017F, `k` the Kelvin sign), so other text goes to RE2 alone.
        lowered = needle.lower()

        def folded_matches(candidate: Any) -> bool:
            text = text_of(candidate)
            return (
                text is not None
                and (not text.isascii() or lowered in text.lower())
                and compiled.search(text) is not None
            )

        return folded_matches

    def matches(candidate: Any) -> bool:
        text = text_of(candidate)
        return text is not None and compiled.search(text) is not None

    return matches


def _bool_matcher(expected: bool) -> ValueMatcher:
    # CloudTrail writes some booleans as strings ("mfaAuthenticated": "false").
    word = "true" if expected else "false"

    def matches(candidate: Any) -> bool:
        if type(candidate) is bool:
            return candidate is expected
        return type(candidate) is str and candidate.lower() == word

    return matches


def _number(candidate: Any) -> float | int | None:
    kind = type(candidate)
    if kind is int or kind is float:
        return candidate  # type: ignore[no-any-return]
    if kind is str:
        try:
            return float(candidate)
        except ValueError:
            return None
    return None


def _number_matcher(expected: float) -> ValueMatcher:
    def matches(candidate: Any) -> bool:
        number = _number(candidate)
        return number is not None and number == expected

    return matches


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda left, right: left < right,
    "lte": lambda left, right: left <= right,
    "gt": lambda left, right: left > right,
    "gte": lambda left, right: left >= right,
    "neq": lambda left, right: left != right,
}


def _compare_matcher(operator: str, expected: float) -> ValueMatcher:
    compare = COMPARISONS[operator]

    def matches(candidate: Any) -> bool:
        number = _number(candidate)
        return number is not None and compare(number, expected)

    return matches


def _cidr_matcher(cidr: str) -> ValueMatcher:
    network = ipaddress.ip_network(cidr, strict=False)

    def matches(candidate: Any) -> bool:
        if type(candidate) is not str:
            return False
        try:
            # sourceIPAddress is often a service name (ec2.amazonaws.com): that is no match.
            return ipaddress.ip_address(candidate) in network
        except ValueError:
            pass
        if "/" not in candidate:
            return False
        # Security group rules hold networks (cidrIp: 10.1.0.0/16): a network inside the rule's
        # network matches.
        try:
            inside = ipaddress.ip_network(candidate, strict=False)
        except ValueError:
            return False
        return inside.version == network.version and inside.subnet_of(network)  # type: ignore[arg-type]

    return matches


TIMESTAMP_PARTS: dict[str, Callable[[datetime], int]] = {
    "minute": lambda moment: moment.minute,
    "hour": lambda moment: moment.hour,
    "day": lambda moment: moment.day,
    "week": lambda moment: moment.isocalendar().week,
    "month": lambda moment: moment.month,
    "year": lambda moment: moment.year,
}


def _timestamp_part_matcher(part: str, expected: float) -> ValueMatcher:
    extract = TIMESTAMP_PARTS[part]

    def matches(candidate: Any) -> bool:
        if type(candidate) is not str:
            return False
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            return False
        return extract(moment) == expected

    return matches

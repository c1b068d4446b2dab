"""pySigma condition trees → plain Python predicates over CloudTrail records, built once per rule.

Every leaf of pySigma's parsed condition (`ConditionFieldEqualsValueExpression`) becomes a closure
that reads the field's values and tests them with a matcher chosen for the value's Sigma type.
Nothing from a rule file is ever passed to `eval`; regular expressions run on RE2, which has no
backtracking, so no rule can stall the matcher.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from trailhound.engine.fields import MISSING, Values, each, field_reader

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
ValueMatcher = Callable[[Any], bool]

# Fields whose exact values let the rule set skip a rule for events that cannot match it.
INDEX_FIELDS = ("eventName", "eventSource")


class CompileError(ValueError):
    """A rule uses something the matcher does not support; `field` helps find the line."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Requirement:
    """The event must have `field` equal (case-insensitively) to one of `values` to match."""

    field: str
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    predicate: Predicate
    requirement: Requirement | None
    # (field, lowered value) for a plain case-insensitive equality, so that an OR of many
    # (`eventName: [A, B, C, ...]`) becomes one set lookup instead of one closure per value.
    equality: tuple[str, str] | None = None


def compile_conditions(parsed_conditions: Iterable[Any]) -> CompiledCondition:
    """Compile a rule's conditions (several conditions are OR-ed, as the Sigma spec says)."""
    compiled = [_compile_node(condition) for condition in parsed_conditions]
    if not compiled:
        raise CompileError("the rule has no condition")
    return _any_of(compiled)


def _compile_node(node: Any) -> CompiledCondition:
    if isinstance(node, ConditionAND):
        return _all_of([_compile_node(arg) for arg in node.args])
    if isinstance(node, ConditionOR):
        return _any_of([_compile_node(arg) for arg in node.args])
    if isinstance(node, ConditionNOT):
        inner = _compile_node(node.args[0]).predicate
        return CompiledCondition(lambda record: not inner(record), None)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _compile_leaf(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        raise CompileError(
            "keyword searches (values without a field) are not supported on CloudTrail JSON; "
            "name the field, e.g. 'userAgent|contains: value'"
        )
    raise CompileError(f"unsupported condition element {type(node).__name__}")


def _all_of(parts: list[CompiledCondition]) -> CompiledCondition:
    # Cheap, selective tests first: those that pin an indexed field usually decide at once.
    parts = sorted(parts, key=lambda part: part.requirement is None)
    requirement = _narrowest([part.requirement for part in parts if part.requirement])
    predicates = tuple(part.predicate for part in parts)
    if len(predicates) == 1:
        return CompiledCondition(predicates[0], requirement)
    if len(predicates) == 2:
        first, second = predicates
        return CompiledCondition(lambda record: first(record) and second(record), requirement)

    def all_hold(record: Record) -> bool:
        for predicate in predicates:
            if not predicate(record):
                return False
        return True

    return CompiledCondition(all_hold, requirement)


def _any_of(parts: list[CompiledCondition]) -> CompiledCondition:
    requirement = _union([part.requirement for part in parts])
    predicates = tuple(_merge_equalities(parts))
    if len(predicates) == 1:
        return CompiledCondition(predicates[0], requirement)
    if len(predicates) == 2:
        first, second = predicates
        return CompiledCondition(lambda record: first(record) or second(record), requirement)

    def any_holds(record: Record) -> bool:
        for predicate in predicates:
            if predicate(record):
                return True
        return False

    return CompiledCondition(any_holds, requirement)


def _narrowest(requirements: list[Requirement]) -> Requirement | None:
    if not requirements:
        return None
    return min(
        requirements,
        key=lambda req: (INDEX_FIELDS.index(req.field), len(req.values)),
    )


def _union(requirements: list[Requirement | None]) -> Requirement | None:
    if not requirements or any(req is None for req in requirements):
        return None
    fields = {req.field for req in requirements if req}
    if len(fields) != 1:
        return None
    values: frozenset[str] = frozenset().union(*(req.values for req in requirements if req))
    return Requirement(fields.pop(), values)


def _merge_equalities(parts: list[CompiledCondition]) -> list[Predicate]:
    by_field: dict[str, set[str]] = {}
    others: list[Predicate] = []
    for part in parts:
        if part.equality is None:
            others.append(part.predicate)
        else:
            by_field.setdefault(part.equality[0], set()).add(part.equality[1])
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
            text = _text(item)
            if text is not None and text.lower() in lowered:
                return True
        return False

    return is_member


def _compile_leaf(field: str, value: Any) -> CompiledCondition:
    try:
        return _compile_leaf_value(field, value)
    except CompileError as error:
        if error.field is None:
            error.field = field
        raise


def _compile_leaf_value(field: str, value: Any) -> CompiledCondition:
    if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
        plain = _plain_string(value)
        if plain is not None:
            lowered = plain.lower()
            predicate = _membership(field, frozenset({lowered}))
            requirement = (
                Requirement(field, frozenset({lowered})) if field in INDEX_FIELDS else None
            )
            return CompiledCondition(predicate, requirement, (field, lowered))
    if isinstance(value, SigmaNull):
        return CompiledCondition(_null_test(field), None)
    if isinstance(value, SigmaExists):
        exists = _exists_test(field)
        if value.exists:
            return CompiledCondition(exists, None)
        return CompiledCondition(lambda record: not exists(record), None)
    if isinstance(value, SigmaFieldReference):
        return CompiledCondition(_field_reference_test(field, value), None)
    return CompiledCondition(_any_value(field, _value_matcher(value)), None)


def _any_value(field: str, matches: ValueMatcher) -> Predicate:
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


def _value_matcher(value: Any) -> ValueMatcher:
    if isinstance(value, SigmaString):
        return _string_matcher(value, cased=isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaTimestampPart):
        return _timestamp_part_matcher(value.timestamp_part, value.number)
    if isinstance(value, SigmaBool):
        return _bool_matcher(value.boolean)
    if isinstance(value, SigmaNumber):
        return _number_matcher(value.number)
    if isinstance(value, SigmaRegularExpression):
        return _regex_matcher(value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_matcher(value)
    if isinstance(value, SigmaCompareExpression):
        return _compare_matcher(value.number.number, value.op)
    if isinstance(value, SigmaExpansion):
        matchers = tuple(_value_matcher(item) for item in value.values)
        return lambda candidate: any(match(candidate) for match in matchers)
    raise CompileError(f"unsupported value type {type(value).__name__}")


def _text(value: Any) -> str | None:
    """The string a Sigma string is compared with: JSON strings, and numbers/booleans as written."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    return None


def _plain_string(value: SigmaString) -> str | None:
    """The string itself when it has no wildcard or placeholder."""
    parts = value.s
    strings = [part for part in parts if isinstance(part, str)]
    return "".join(strings) if len(strings) == len(parts) else None


def _string_matcher(value: SigmaString, cased: bool) -> ValueMatcher:
    parts = list(value.s)
    if any(isinstance(part, Placeholder) for part in parts):
        raise CompileError(
            "placeholders (%name% with the 'expand' modifier) are not supported: "
            "write the values into the rule or use a filter"
        )
    fold: Callable[[str], str] = (lambda text: text) if cased else str.lower

    def literal(part: str) -> str:
        return part if cased else part.lower()

    strings = [part for part in parts if isinstance(part, str)]
    multi = SpecialChars.WILDCARD_MULTI
    # The common shapes (contains/startswith/endswith and plain values) become str methods.
    if not any(part is SpecialChars.WILDCARD_SINGLE for part in parts) and len(strings) <= 1:
        needle = literal(strings[0]) if strings else ""
        shape = tuple(part is multi for part in parts)
        if shape == (False,):
            return _text_test(fold, lambda text: text == needle)
        if shape in ((True,), (True, True)):
            return lambda candidate: _text(candidate) is not None
        if shape == (False, True):
            return _text_test(fold, lambda text: text.startswith(needle))
        if shape == (True, False):
            return _text_test(fold, lambda text: text.endswith(needle))
        if shape == (True, False, True):
            return _text_test(fold, lambda text: needle in text)
    pattern = "".join(
        ".*" if part is multi else "." if part is SpecialChars.WILDCARD_SINGLE else re2.escape(part)
        for part in parts
    )
    compiled = _re2_compile(("(?s)" if cased else "(?si)") + pattern)
    return _text_test(lambda text: text, lambda text: compiled.fullmatch(text) is not None)


def _text_test(fold: Callable[[str], str], test: Callable[[str], bool]) -> ValueMatcher:
    def matches(candidate: Any) -> bool:
        text = _text(candidate)
        return text is not None and test(fold(text))

    return matches


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def _re2_compile(pattern: str) -> Any:
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
    return _re2_compile(f"(?{prefix}){pattern}" if prefix else pattern)


def _regex_matcher(value: SigmaRegularExpression) -> ValueMatcher:
    if value.regexp.contains_placeholder():
        raise CompileError("placeholders in regular expressions are not supported")
    pattern, written = _regex_search_pattern(value.regexp)
    flags = value.flags or set()
    compiled = compile_regex(pattern, (_REGEX_FLAGS[flag] for flag in flags))
    # A substring test rules out most values for a fraction of a regex search's cost; it must
    # hold for every value the search would match.
    needle = required_literal(written)
    ignores_case = SigmaRegularExpressionFlag.IGNORECASE in flags
    ignores_case = ignores_case or _INLINE_IGNORECASE.search(written) is not None

    if needle is not None and not ignores_case:

        def literal_matches(candidate: Any) -> bool:
            text = _text(candidate)
            return text is not None and needle in text and compiled.search(text) is not None

        return literal_matches

    if needle is not None and needle.isascii():
        # Among ASCII characters, RE2's case folding is lower(); beyond them it is wider (`s`
        # matches the long s U+017F, `k` the Kelvin sign), so other text goes to RE2 alone.
        lowered = needle.lower()

        def folded_matches(candidate: Any) -> bool:
            text = _text(candidate)
            return (
                text is not None
                and (not text.isascii() or lowered in text.lower())
                and compiled.search(text) is not None
            )

        return folded_matches

    def matches(candidate: Any) -> bool:
        text = _text(candidate)
        return text is not None and compiled.search(text) is not None

    return matches


# `(?i)`, `(?si)`, `(?i:...)`, and also `(?-i)`, which only makes the pre-test more careful.
_INLINE_IGNORECASE = re.compile(r"\(\?[a-zA-Z-]*i")


def _regex_search_pattern(regexp: SigmaString) -> tuple[str, str]:
    r"""The pattern to search a value for, and the part of it the rule's author wrote.

    A plain `re` pattern is searched for anywhere in the value. For `re|contains`, `re|startswith`
    and `re|endswith`, pySigma rewrites the pattern into a new string (without an `original`),
    putting `.*` before and/or after it (and grouping a top-level `|` first), and means the result
    to match the whole value: `re|startswith: 'ab'` becomes `ab.*`. A `.*` at either end is taken
    as any text, newlines included; the search is anchored with `\A` where there is none before
    the pattern, and with `\z` where there is none after it.
    """
    written = str(regexp)
    if regexp.original or not written:
        return regexp.original, regexp.original
    anything = ".*"
    before = written.startswith(anything)
    if before:
        written = written[len(anything) :]
    after = written.endswith(anything) and _escapes_before(written, len(written) - 2) % 2 == 0
    if after:
        written = written[: -len(anything)]
    start = "" if before else r"\A"
    end = "" if after else r"\z"
    return f"{start}(?:{written}){end}", written


def _escapes_before(text: str, index: int) -> int:
    """How many backslashes come right before `text[index]`."""
    return index - len(text[:index].rstrip("\\"))


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


_COMPARISONS: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda left, right: left < right,
    CompareOperators.LTE: lambda left, right: left <= right,
    CompareOperators.GT: lambda left, right: left > right,
    CompareOperators.GTE: lambda left, right: left >= right,
    CompareOperators.NEQ: lambda left, right: left != right,
}


def _compare_matcher(expected: float, operator: CompareOperators) -> ValueMatcher:
    compare = _COMPARISONS[operator]

    def matches(candidate: Any) -> bool:
        number = _number(candidate)
        return number is not None and compare(number, expected)

    return matches


def _cidr_matcher(value: SigmaCIDRExpression) -> ValueMatcher:
    network = value.network

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


_TIMESTAMP_PARTS: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda moment: moment.minute,
    TimestampPart.HOUR: lambda moment: moment.hour,
    TimestampPart.DAY: lambda moment: moment.day,
    TimestampPart.WEEK: lambda moment: moment.isocalendar().week,
    TimestampPart.MONTH: lambda moment: moment.month,
    TimestampPart.YEAR: lambda moment: moment.year,
}


def _timestamp_part_matcher(part: TimestampPart, expected: float) -> ValueMatcher:
    extract = _TIMESTAMP_PARTS[part]

    def matches(candidate: Any) -> bool:
        if type(candidate) is not str:
            return False
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            return False
        return extract(moment) == expected

    return matches


def _null_test(field: str) -> Predicate:
    read = field_reader(field)
    return lambda record: any(value is None or value is MISSING for value in each(read(record)))


def _exists_test(field: str) -> Predicate:
    read = field_reader(field)
    return lambda record: any(
        value is not None and value is not MISSING for value in each(read(record))
    )


def _field_reference_test(field: str, value: SigmaFieldReference) -> Predicate:
    read = field_reader(field)
    read_other = field_reader(value.field)
    # `fieldref|contains` sets both flags; `text.__contains__(other)` is `other in text`.
    if value.starts_with and value.ends_with:
        relation: Callable[[str, str], bool] = str.__contains__
    elif value.starts_with:
        relation = str.startswith
    elif value.ends_with:
        relation = str.endswith
    else:
        relation = str.__eq__

    def matches(record: Record) -> bool:
        others = [text.lower() for text in map(_text, each(read_other(record))) if text is not None]
        for text in map(_text, each(read(record))):
            if text is not None:
                lowered = text.lower()
                if any(relation(lowered, other) for other in others):
                    return True
        return False

    return matches

"""Condition trees → plain Python predicates over CloudTrail records, built once per rule.

A condition tree is plain data (nested lists of strings, numbers and booleans): the compiler
(`trailhound.engine.compiler`) writes it from pySigma's parsed condition, and a rule bundle
(`trailhound.engine.bundle`) stores it, so a cold start can build the predicates without parsing
YAML or Sigma again. The forms:

- `["all", [node, ...]]`, `["any", [node, ...]]`, `["not", node]`;
- `["eq", field, lowered]`: a plain case-insensitive string equality;
- `["null", field]`, `["exists", field, true|false]`;
- `["fieldref", field, other_field, starts_with, ends_with]`;
- `["match", field, matcher]`: any of the field's values passes `matcher`, one of
  `["str", cased, parts]` (parts: `"=text"`, `"*"` or `"?"`), `["re", pattern, written, flags]`,
  `["bool", b]`, `["num", n]`, `["cmp", operator, n]`, `["cidr", network]`,
  `["time", part, n]`, `["anyof", [matcher, ...]]`.

Nothing from a rule file is ever passed to `eval`; regular expressions run on RE2, which has no
backtracking, so no rule can stall the matcher.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import re2

from trailhound.engine.fields import MISSING, Values, each, field_reader

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
ValueMatcher = Callable[[Any], bool]
Node = Sequence[Any]

# The fields the rule set looks up first: every record has them, and most rules pin them. A rule
# that pins neither but requires some other field to hold one of a few values is filed under
# that field instead (`userIdentity.type: Root`).
INDEX_FIELDS = ("eventName", "eventSource")


class CompileError(ValueError):
    """A rule uses something the matcher does not support; `field` helps find the line."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


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


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    predicate: Predicate
    requirement: Requirement | None
    # (field, lowered value) for a plain case-insensitive equality, so that an OR of many
    # (`eventName: [A, B, C, ...]`) becomes one set lookup instead of one closure per value.
    equality: tuple[str, str] | None = None
    # The tree the predicate was built from, for rule bundles.
    node: Node = field(default=(), compare=False, repr=False)
    # Of a whole condition (`build_condition`, `deferred_condition`): a top-level field that
    # must hold a value, not null, for the condition to hold (`errorCode|startswith: Access`).
    presence: str | None = None


def build_condition(node: Node) -> CompiledCondition:
    """The predicate (and index requirement) of a condition tree."""
    built = _build(node)
    return CompiledCondition(
        built.predicate, built.requirement, built.equality, node, presence_of(node)
    )


def deferred_condition(node: Node) -> CompiledCondition:
    """The condition of a tree whose predicate is built when it is first called.

    A rule bundle's rules so cost a cold start only their index requirement; each is built
    when the first event that could match it arrives, which for most rules is never. A tree
    that does not build fails then, as a rule failure, like a rule that raises.
    """
    condition = CompiledCondition(_not_built, requirement_of(node), None, node, presence_of(node))

    def build_and_test(record: Record) -> bool:
        predicate = build_condition(node).predicate
        # Later calls go straight to the built predicate; the dataclass is frozen to its users.
        object.__setattr__(condition, "predicate", predicate)
        return predicate(record)

    object.__setattr__(condition, "predicate", build_and_test)
    return condition


def _not_built(record: Record) -> bool:
    raise AssertionError("replaced before use")


def requirement_of(node: Node) -> Requirement | None:
    """What `build_condition(node).requirement` is, without building any predicate."""
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


def _build(node: Node) -> CompiledCondition:
    kind = node[0]
    if kind == "all":
        return _all_of([_build(part) for part in node[1]], node)
    if kind == "any":
        return _any_of([_build(part) for part in node[1]], node)
    if kind == "not":
        inner = _build(node[1]).predicate
        return CompiledCondition(lambda record: not inner(record), None, None, node)
    field = node[1]
    try:
        return _build_leaf(kind, field, node)
    except CompileError as error:
        if error.field is None:
            error.field = field
        raise


def _build_leaf(kind: str, field: str, node: Node) -> CompiledCondition:
    if kind == "eq":
        lowered = node[2]
        requirement = Requirement(field, frozenset({lowered}))
        return CompiledCondition(
            _membership(field, frozenset({lowered})), requirement, (field, lowered), node
        )
    if kind == "null":
        return CompiledCondition(_null_test(field), None, None, node)
    if kind == "exists":
        exists = _exists_test(field)
        if node[2]:
            return CompiledCondition(exists, None, None, node)
        return CompiledCondition(lambda record: not exists(record), None, None, node)
    if kind == "fieldref":
        predicate = _field_reference_test(field, node[2], node[3], node[4])
        return CompiledCondition(predicate, None, None, node)
    if kind == "match":
        return CompiledCondition(_any_value(field, _value_matcher(node[2])), None, None, node)
    raise CompileError(f"unknown condition form {kind!r}")


def _all_of(parts: list[CompiledCondition], node: Node) -> CompiledCondition:
    if not parts:
        raise CompileError("the rule has no condition")
    # Cheap, selective tests first: those that pin an indexed field usually decide at once.
    parts = sorted(parts, key=lambda part: part.requirement is None)
    requirement = _narrowest([part.requirement for part in parts if part.requirement])
    predicates = tuple(part.predicate for part in parts)
    if len(predicates) == 1:
        return CompiledCondition(predicates[0], requirement, None, node)
    if len(predicates) == 2:
        first, second = predicates
        return CompiledCondition(
            lambda record: first(record) and second(record), requirement, None, node
        )

    def all_hold(record: Record) -> bool:
        for predicate in predicates:
            if not predicate(record):
                return False
        return True

    return CompiledCondition(all_hold, requirement, None, node)


def _any_of(parts: list[CompiledCondition], node: Node) -> CompiledCondition:
    if not parts:
        raise CompileError("the rule has no condition")
    if len(parts) == 1:
        only = parts[0]
        return CompiledCondition(only.predicate, only.requirement, only.equality, node)
    requirement = _union([part.requirement for part in parts])
    predicates = tuple(_merge_equalities(parts))
    if len(predicates) == 1:
        return CompiledCondition(predicates[0], requirement, None, node)
    if len(predicates) == 2:
        first, second = predicates
        return CompiledCondition(
            lambda record: first(record) or second(record), requirement, None, node
        )

    def any_holds(record: Record) -> bool:
        for predicate in predicates:
            if predicate(record):
                return True
        return False

    return CompiledCondition(any_holds, requirement, None, node)


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


def lowered_texts(value: Any) -> list[str]:
    """The texts a field's value offers an equality test, lowered as `eq` compares them."""
    if type(value) is str:
        return [value.lower()]
    return [text.lower() for text in map(_text, each(value)) if text is not None]


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


def _value_matcher(matcher: Node) -> ValueMatcher:
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
        matchers = tuple(_value_matcher(item) for item in matcher[1])
        return lambda candidate: any(match(candidate) for match in matchers)
    raise CompileError(f"unknown value matcher {kind!r}")


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


MULTI = "*"
SINGLE = "?"


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
            return lambda candidate: _text(candidate) is not None
        if shape == (False, True):
            return _text_test(fold, lambda text: text.startswith(needle))
        if shape == (True, False):
            return _text_test(fold, lambda text: text.endswith(needle))
        if shape == (True, False, True):
            return _text_test(fold, lambda text: needle in text)
    pattern = "".join(
        ".*" if part == MULTI else "." if part == SINGLE else re2.escape(part[1:]) for part in parts
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


def _regex_matcher(pattern: str, written: str, flags: str) -> ValueMatcher:
    """`pattern` is searched for; `written` is the part the rule's author wrote; `flags`: imsx."""
    compiled = compile_regex(pattern, flags)
    # A substring test rules out most values for a fraction of a regex search's cost; it must
    # hold for every value the search would match.
    needle = required_literal(written)
    ignores_case = "i" in flags or _INLINE_IGNORECASE.search(written) is not None

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


def _null_test(field: str) -> Predicate:
    read = field_reader(field)
    return lambda record: any(value is None or value is MISSING for value in each(read(record)))


def _exists_test(field: str) -> Predicate:
    read = field_reader(field)
    return lambda record: any(
        value is not None and value is not MISSING for value in each(read(record))
    )


def _field_reference_test(
    field: str, other_field: str, starts_with: bool, ends_with: bool
) -> Predicate:
    read = field_reader(field)
    read_other = field_reader(other_field)
    # `fieldref|contains` sets both flags; `text.__contains__(other)` is `other in text`.
    if starts_with and ends_with:
        relation: Callable[[str, str], bool] = str.__contains__
    elif starts_with:
        relation = str.startswith
    elif ends_with:
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

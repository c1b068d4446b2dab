"""pySigma condition trees → condition trees of plain data (`trailhound.engine.conditions`).

Lowering is where a rule's values are read as Sigma defines them (wildcards, escapes, modifiers)
and where what the matcher cannot do is refused, naming the feature; building the predicates
from the result needs neither YAML nor pySigma, which is what lets a rule bundle load fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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

from trailhound.engine.conditions import CompiledCondition, Node, build_condition
from trailhound.engine.matchers import MULTI, SINGLE
from trailhound.errors import CompileError


def compile_conditions(parsed_conditions: Iterable[Any]) -> CompiledCondition:
    """Compile a rule's conditions (several conditions are OR-ed, as the Sigma spec says)."""
    return build_condition(lower_conditions(parsed_conditions))


def lower_conditions(parsed_conditions: Iterable[Any]) -> Node:
    """The condition tree of a rule's parsed conditions."""
    lowered = [_lower(condition) for condition in parsed_conditions]
    if not lowered:
        raise CompileError("the rule has no condition")
    return ("any", lowered)


def _lower(node: Any) -> Node:
    if isinstance(node, ConditionAND):
        return ("all", [_lower(arg) for arg in node.args])
    if isinstance(node, ConditionOR):
        return ("any", [_lower(arg) for arg in node.args])
    if isinstance(node, ConditionNOT):
        return ("not", _lower(node.args[0]))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        try:
            return _lower_leaf(node.field, node.value)
        except CompileError as error:
            if error.field is None:
                error.field = node.field
            raise
    if isinstance(node, ConditionValueExpression):
        raise CompileError(
            "keyword searches (values without a field) are not supported on CloudTrail JSON; "
            "name the field, e.g. 'userAgent|contains: value'"
        )
    raise CompileError(f"unsupported condition element {type(node).__name__}")


def _lower_leaf(field: str, value: Any) -> Node:
    if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
        plain = _plain_string(value)
        if plain is not None:
            return ("eq", field, plain.lower())
    if isinstance(value, SigmaNull):
        return ("null", field)
    if isinstance(value, SigmaExists):
        return ("exists", field, bool(value.exists))
    if isinstance(value, SigmaFieldReference):
        return ("fieldref", field, value.field, value.starts_with, value.ends_with)
    return ("match", field, _lower_value(value))


_COMPARE_OPERATORS = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
    CompareOperators.NEQ: "neq",
}
_TIMESTAMP_PARTS = {
    TimestampPart.MINUTE: "minute",
    TimestampPart.HOUR: "hour",
    TimestampPart.DAY: "day",
    TimestampPart.WEEK: "week",
    TimestampPart.MONTH: "month",
    TimestampPart.YEAR: "year",
}
_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def _lower_value(value: Any) -> Node:
    if isinstance(value, SigmaString):
        return ("str", isinstance(value, SigmaCasedString), _string_parts(value))
    if isinstance(value, SigmaTimestampPart):
        return ("time", _TIMESTAMP_PARTS[value.timestamp_part], value.number)
    if isinstance(value, SigmaBool):
        return ("bool", value.boolean)
    if isinstance(value, SigmaNumber):
        return ("num", value.number)
    if isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            raise CompileError("placeholders in regular expressions are not supported")
        pattern, written = _regex_search_pattern(value.regexp)
        flags = "".join(sorted(_REGEX_FLAGS[flag] for flag in value.flags or ()))
        return ("re", pattern, written, flags)
    if isinstance(value, SigmaCIDRExpression):
        return ("cidr", str(value.network))
    if isinstance(value, SigmaCompareExpression):
        return ("cmp", _COMPARE_OPERATORS[value.op], value.number.number)
    if isinstance(value, SigmaExpansion):
        return ("anyof", [_lower_value(item) for item in value.values])
    raise CompileError(f"unsupported value type {type(value).__name__}")


def _plain_string(value: SigmaString) -> str | None:
    """The string itself when it has no wildcard or placeholder."""
    parts = value.s
    strings = [part for part in parts if isinstance(part, str)]
    return "".join(strings) if len(strings) == len(parts) else None


def _string_parts(value: SigmaString) -> list[str]:
    parts: list[str] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise CompileError(
                "placeholders (%name% with the 'expand' modifier) are not supported: "
                "write the values into the rule or use a filter"
            )
        if part is SpecialChars.WILDCARD_MULTI:
            parts.append(MULTI)
        elif part is SpecialChars.WILDCARD_SINGLE:
            parts.append(SINGLE)
        else:
            parts.append("=" + part)
    return parts


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

"""Checks shared by rules and filters: what pySigma accepts but trailhound cannot honour."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sigma.exceptions import SigmaError
from sigma.modifiers import (
    SigmaExpandModifier,
    SigmaUTF16BEModifier,
    SigmaUTF16Modifier,
    SigmaWideModifier,
    modifier_mapping,
    reverse_modifier_mapping,
)
from sigma.rule import SigmaDetectionItem
from sigma.types import SigmaRegularExpression

from trailhound.authoring.problems import Report, did_you_mean
from trailhound.engine.regex import compile_regex
from trailhound.errors import CompileError

# Encoding modifiers that turn a value into UTF-16 bytes: meaningful for Windows logs, never for
# CloudTrail's JSON, so a rule using them could never fire.
_MEANINGLESS_MODIFIERS = {
    SigmaWideModifier: "wide",
    SigmaUTF16Modifier: "utf16",
    SigmaUTF16BEModifier: "utf16be",
}


MAX_DETECTION_ITEMS = 5_000
"""Selections, keys and values of one rule or filter: a few hundred is already a big rule, and
loading costs time and memory per item, in the Lambda's cold start too."""

MAX_CONDITION_CHARS = 4_096
MAX_CONDITION_DEPTH = 32
"""Brackets and `not`s, which pySigma's parser follows by recursion: a few hundred exhaust it."""

_CONDITION_TOKEN = re.compile(r"[()]|[^\s()]+")


def check_logsource(logsource: Any, report: Report) -> None:
    if not isinstance(logsource, dict):
        report("missing 'logsource': expected {product: aws, service: cloudtrail}", "logsource")
        return
    product = str(logsource.get("product", "")).lower()
    service = str(logsource.get("service", "")).lower()
    if (product, service) != ("aws", "cloudtrail"):
        report(
            f"logsource is product={product or '?'} service={service or '?'}: trailhound only "
            "matches AWS CloudTrail (product: aws, service: cloudtrail); rule not loaded",
            "logsource",
        )


def check_detection_items(detection: Any, report: Report, section: str = "detection") -> None:
    """Reject what pySigma accepts but trailhound cannot honour, pointing at the exact key."""
    if not isinstance(detection, dict):
        return
    items = _count_items(detection)
    if items > MAX_DETECTION_ITEMS:
        report(
            f"{section} has {items:,} selections, keys and values; a rule may have at most "
            f"{MAX_DETECTION_ITEMS:,}: split it into several rules",
            section,
        )
        return
    for identifier, definition in detection.items():
        if identifier == "condition":
            _check_conditions(definition, report, section)
            continue
        for key_path, key in detection_keys(definition, (identifier,)):
            if key is None:
                report(
                    f"detection '{identifier}': keyword searches (values without a field) are "
                    "not supported on CloudTrail JSON; name the field, e.g. "
                    "'userAgent|contains: value'",
                    section,
                    *key_path,
                )
                continue
            field_name, *modifier_names = str(key).split("|")
            understood = bool(field_name)
            for name in modifier_names:
                modifier = modifier_mapping.get(name)
                understood = understood and modifier in _CHECKED_MODIFIERS
                if modifier is None:
                    hint = did_you_mean(name, modifier_mapping)
                    report(f"unknown modifier {name!r} in {key!r}{hint}", section, *key_path)
                elif modifier in _MEANINGLESS_MODIFIERS:
                    report(
                        f"modifier {name!r} in {key!r} encodes values as UTF-16, which never "
                        "occurs in CloudTrail JSON: remove it",
                        section,
                        *key_path,
                    )
                elif modifier is SigmaExpandModifier:
                    report(
                        f"modifier 'expand' in {key!r}: placeholders are not supported; "
                        "write the values into the rule or use a filter",
                        section,
                        *key_path,
                    )
            if not field_name and modifier_names:
                report(
                    f"{key!r} has modifiers but no field name: keyword searches are not supported",
                    section,
                    *key_path,
                )
            value = _value_at(definition, key_path[1:])
            if "re" in modifier_names and _check_regexes(key, value, key_path, report, section):
                continue
            if understood:
                _check_values(str(key), value, key_path, report, section)


def _count_items(value: Any) -> int:
    if isinstance(value, dict):
        return max(1, sum(1 + _count_items(item) for item in value.values()))
    if isinstance(value, list):
        return max(1, sum(_count_items(item) for item in value))
    return 1


def _check_conditions(conditions: Any, report: Report, section: str) -> None:
    """Bound what pySigma's recursive condition parser is given, with a clear reason."""
    texts = conditions if isinstance(conditions, list) else [conditions]
    strings = [text for text in texts if isinstance(text, str)]
    length = sum(len(text) for text in strings)
    if length > MAX_CONDITION_CHARS:
        report(
            f"condition is {length:,} characters long; at most {MAX_CONDITION_CHARS:,} are "
            "allowed: use '1 of selection_*' or split the rule",
            section,
            "condition",
        )
        return
    for text in strings:
        depth = _condition_depth(text)
        if depth > MAX_CONDITION_DEPTH:
            report(
                f"condition nests {depth} levels of brackets and 'not'; at most "
                f"{MAX_CONDITION_DEPTH} are allowed",
                section,
                "condition",
            )
            return


def _condition_depth(condition: str) -> int:
    """An upper bound on the nesting: open brackets, plus every `not` inside them."""
    deepest = 0
    levels = [0]  # per open bracket: its depth, raised by each `not` met inside it
    for part in _CONDITION_TOKEN.findall(condition):
        if part == "(":
            levels.append(levels[-1] + 1)
        elif part == ")":
            if len(levels) > 1:
                levels.pop()
        elif part.lower() == "not":
            levels[-1] += 1
        deepest = max(deepest, levels[-1])
    return deepest


def _check_regexes(
    key: str, value: Any, key_path: tuple[str | int, ...], report: Report, section: str
) -> bool:
    """Compile `re` values on RE2 here, so a bad pattern points at its own line; True if any is."""
    # pySigma checks them too, but its error only names the detection, not the line.
    found = False
    for where, pattern in _each_value(value, key_path):
        if isinstance(pattern, dict | list):
            continue
        if not isinstance(pattern, str):
            report(
                f"{key!r}: 're' takes a pattern written as a string, not {_describe(pattern)}",
                section,
                *where,
            )
            found = True
            continue
        try:
            compile_regex(pattern)
        except CompileError as error:
            # RE2 calls both "invalid perl operator" or "invalid escape sequence".
            hint = "perl operator" in error.message or "escape sequence" in error.message
            suffix = " (RE2 has no backreferences or lookaround)" if hint else ""
            report(f"{key!r}: {error.message}{suffix}", section, *where)
            found = True
            continue
        unanchored = _unanchored_regex(key, pattern)
        if unanchored:
            report(unanchored, section, *where)
            found = True
    return found


def _each_value(
    value: Any, key_path: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], Any]]:
    """A key's values, each with the key path of its own line."""
    if isinstance(value, list):
        return [((*key_path, index), item) for index, item in enumerate(value)]
    return [(key_path, value)]


def _unanchored_regex(key: str, pattern: Any) -> str | None:
    """Why `re|startswith` or `re|endswith` would search `pattern` anywhere, if it would.

    pySigma anchors these by adding `.*` after or before the pattern, and adds nothing when the
    pattern already ends (starts) with `.*` or an anchor: the result then reads as a plain `re`.
    """
    field_name, *modifier_names = key.split("|")
    if "startswith" in modifier_names:
        modifier, ending, anchor = "startswith", "ends with '.*' or '$'", "beginning with '^'"
    elif "endswith" in modifier_names:
        modifier, ending, anchor = "endswith", "begins with '.*' or '^'", "ending with '$'"
    else:
        return None
    if not isinstance(pattern, str):
        return None
    try:
        item = SigmaDetectionItem.from_mapping(key, pattern)
    except SigmaError:
        return None  # reported with the rest of pySigma's errors
    regexp = item.value[0] if len(item.value) == 1 else None
    if not isinstance(regexp, SigmaRegularExpression) or regexp.regexp.original != pattern:
        return None  # rewritten with the `.*` that anchors it
    return (
        f"{key!r}: '{modifier}' adds nothing to {pattern!r}, which already {ending}, so it "
        f"would be searched for anywhere in the value like a plain 're'; write "
        f"'{field_name}|re' with a pattern {anchor} instead"
    )


# Modifiers whose values are read again here; the others are reported by name above.
_CHECKED_MODIFIERS = frozenset(modifier_mapping.values()) - {
    *_MEANINGLESS_MODIFIERS,
    SigmaExpandModifier,
}
_REGEX_FLAGS = frozenset({"i", "m", "s", "ignorecase", "multiline", "dotall"})
_STRING_MODIFIERS = frozenset(
    {"contains", "startswith", "endswith", "re", "cased", "base64", "base64offset", "windash"}
    | {"fieldref"}
)
_TAKES = {
    **dict.fromkeys(_STRING_MODIFIERS, "a string"),
    **dict.fromkeys(("gt", "gte", "lt", "lte"), "a number"),
    **dict.fromkeys(("minute", "hour", "day", "week", "month", "year"), "a number"),
    "exists": "true or false, unquoted",
    "cidr": "a network in CIDR notation, such as 10.0.0.0/8",
}


def _check_values(
    key: str, value: Any, key_path: tuple[str | int, ...], report: Report, section: str
) -> None:
    """What pySigma rejects in a key's values, at the value's line, naming the modifier as written.

    pySigma's own errors point at `detection:` and name its classes (`SigmaContainsModifier
    incompatible to value type of ...`); each value is read again here to find the one at fault
    and the first modifier that cannot take it.
    """
    try:
        SigmaDetectionItem.from_mapping(key, value)
        return
    except Exception as error:  # pySigma raises TypeError too, e.g. for `re|startswith: 5`
        failure = error
    field_name, *modifier_names = key.split("|")
    for where, item in _each_value(value, key_path):
        for count in range(len(modifier_names) + 1):
            try:
                SigmaDetectionItem.from_mapping(
                    "|".join([field_name, *modifier_names[:count]]), item
                )
            except Exception as error:
                modifier = modifier_names[count - 1] if count else None
                report(_value_problem(key, modifier, item, error), section, *where)
                return
    report(f"{key!r}: {readable_sigma_message(failure)}", section, *key_path)


def _value_problem(key: str, modifier: str | None, value: Any, error: Exception) -> str:
    field_name, *modifier_names = key.split("|")
    if modifier is None:
        if isinstance(value, dict | list):
            hint = (
                "; a nested field is named with dots, e.g. 'requestParameters.bucketName'"
                if isinstance(value, dict)
                else ""
            )
            return (
                f"{key!r}: values are strings, numbers, booleans or null, "
                f"not {_describe(value)}{hint}"
            )
        return f"{key!r}: {readable_sigma_message(error)}"
    if modifier in _REGEX_FLAGS:
        return (
            f"{key!r}: '{modifier}' is a flag of regular expressions and needs 're' before it, "
            f"as in '{field_name}|re|{modifier}'"
        )
    if modifier == "re" and modifier_names.index("re") > 0:
        return f"{key!r}: 're' must come right after the field name, as in '{field_name}|re|...'"
    if value is None and modifier in _STRING_MODIFIERS:
        return (
            f"{key!r}: '{modifier}' takes a string, not null; to match an absent field or JSON "
            f"null, write '{field_name}: null'"
        )
    if modifier == "cidr" and isinstance(value, str):
        reason = readable_sigma_message(error).removeprefix("Invalid CIDR expression: ")
        return f"{key!r}: {reason}; 'cidr' takes {_TAKES[modifier]}"
    if modifier in _TAKES:
        return f"{key!r}: '{modifier}' takes {_TAKES[modifier]}, not {_describe(value)}"
    return f"{key!r}: '{modifier}': {readable_sigma_message(error)}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


_SIGMA_NULL = re.compile(r"'?<sigma\.types\.SigmaNull object at 0x[0-9a-fA-F]+>'?")
_SIGMA_MODIFIER = re.compile(r"\bSigma\w+Modifier\b")


def readable_sigma_message(error: BaseException) -> str:
    """pySigma's message, naming modifiers and null as a rule writes them."""
    message = str(error.args[0]) if error.args else str(error)
    message = _SIGMA_NULL.sub("null", message)
    message = _SIGMA_MODIFIER.sub(
        lambda found: repr(reverse_modifier_mapping.get(found.group(0), found.group(0))), message
    )
    return message.rstrip(".")


def _value_at(definition: Any, key_path: tuple[str | int, ...]) -> Any:
    for step in key_path:
        definition = definition[step]
    return definition


def detection_keys(
    definition: Any, key_path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str | None]]:
    """Every field key of a detection definition (None for a keyword value) with its key path."""
    if isinstance(definition, dict):
        for key in definition:
            yield (*key_path, key), str(key)
    elif isinstance(definition, list):
        for index, item in enumerate(definition):
            if isinstance(item, dict | list):
                yield from detection_keys(item, (*key_path, index))
            else:
                yield (*key_path, index), None
    else:
        yield key_path, None

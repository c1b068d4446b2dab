"""Checks shared by rules and filters: what pySigma accepts but trailhound cannot honour."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from sigma.modifiers import (
    SigmaExpandModifier,
    SigmaUTF16BEModifier,
    SigmaUTF16Modifier,
    SigmaWideModifier,
    modifier_mapping,
)

from trailhound.engine.compiler import CompileError, compile_regex

# Encoding modifiers that turn a value into UTF-16 bytes: meaningful for Windows logs, never for
# CloudTrail's JSON, so a rule using them could never fire.
_MEANINGLESS_MODIFIERS = {
    SigmaWideModifier: "wide",
    SigmaUTF16Modifier: "utf16",
    SigmaUTF16BEModifier: "utf16be",
}


def check_logsource(logsource: Any, report: Any) -> None:
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


def check_detection_items(detection: Any, report: Any, section: str = "detection") -> None:
    """Reject what pySigma accepts but trailhound cannot honour, pointing at the exact key."""
    if not isinstance(detection, dict):
        return
    for identifier, definition in detection.items():
        if identifier == "condition":
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
            for name in modifier_names:
                modifier = modifier_mapping.get(name)
                if modifier is None:
                    hint = difflib.get_close_matches(name, sorted(modifier_mapping), n=1)
                    suffix = f"; did you mean {hint[0]!r}?" if hint else ""
                    report(f"unknown modifier {name!r} in {key!r}{suffix}", section, *key_path)
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
            if "re" in modifier_names:
                _check_regexes(key, _value_at(definition, key_path[1:]), key_path, report, section)


def _check_regexes(
    key: str, value: Any, key_path: tuple[str | int, ...], report: Any, section: str
) -> None:
    """Compile `re` values on RE2 here, so a bad pattern points at its own line."""
    # pySigma checks them too, but its error only names the detection, not the line.
    patterns = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, pattern in patterns:
        if isinstance(pattern, dict | list) or pattern is None:
            continue
        try:
            compile_regex(str(pattern))
        except CompileError as error:
            where = key_path if index is None else (*key_path, index)
            report(
                f"{key!r}: {error.message} (RE2 has no backreferences or lookaround)",
                section,
                *where,
            )


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

"""Rule files → validated, compiled rules; every problem becomes an error naming file and line.

A rule file is a Sigma rule (parsed by pySigma) plus the trailhound keys (validated by pydantic).
Loading never stops at a broken file: each file either loads or yields errors, so one bad rule
cannot blind the others.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from trailhound.engine.compiler import CompileError, compile_conditions
from trailhound.engine.errors import RuleError, RuleFileError
from trailhound.engine.filters import apply_filters, is_filter, load_filter_document
from trailhound.engine.keys import TRAILHOUND_KEYS, TrailhoundKeys
from trailhound.engine.rule import CompiledRule, LoadResult, Rule, Severity, find_rule_files
from trailhound.engine.validation import (
    check_detection_items,
    check_logsource,
    detection_keys,
    readable_sigma_message,
)
from trailhound.engine.yamlsource import YamlDocument, YamlSourceError, read_yaml

__all__ = [
    "CompiledRule",
    "LoadResult",
    "RuleError",
    "RuleFileError",
    "find_rule_files",
    "load_rule_document",
    "load_rule_file",
    "load_rules",
]

# The Sigma specification's top-level keys for detection rules; anything else is most likely a
# typo of one of these or of a trailhound key, and a typo must not be silently ignored.
SIGMA_KEYS = frozenset(
    {
        "title",
        "id",
        "related",
        "name",
        "taxonomy",
        "status",
        "description",
        "license",
        "author",
        "references",
        "date",
        "modified",
        "logsource",
        "detection",
        "fields",
        "falsepositives",
        "level",
        "tags",
        "scope",
    }
)
KNOWN_KEYS = SIGMA_KEYS | TRAILHOUND_KEYS


def load_rules(paths: Iterable[Path]) -> LoadResult:
    """Load and compile every rule and filter file under `paths`; duplicate ids are errors.

    Of two rules with the same file name or the same Sigma id, the first found loads and the
    other is reported and left out.
    """
    result = LoadResult()
    first_seen: dict[str, Path] = {}
    first_sigma_ids: dict[str, Path] = {}
    loaded: list[CompiledRule] = []
    for path in find_rule_files(paths):
        result.files += 1
        try:
            document = read_yaml(path)
            if is_filter(document):
                result.filters.append(load_filter_document(path, document))
                continue
            compiled = load_rule_document(path, document)
        except YamlSourceError as error:
            result.errors.append(RuleError(path, error.line, error.message))
            continue
        except RuleFileError as error:
            result.errors.extend(error.errors)
            continue
        except Exception as error:  # whatever a file does to the parsers, the others still load
            message = f"rule not loaded: {type(error).__name__}: {error}"
            result.errors.append(RuleError(path, None, message[:500]))
            continue
        rule_id = compiled.rule_id
        if rule_id in first_seen:
            result.errors.append(
                RuleError(path, 1, f"duplicate rule id {rule_id!r}: also {first_seen[rule_id]}")
            )
            continue
        sigma_id = compiled.rule.sigma_id
        if sigma_id is not None and sigma_id in first_sigma_ids:
            result.errors.append(
                RuleError(
                    path,
                    document.line_of("id") or 1,
                    f"duplicate Sigma id {sigma_id}: also the id of {first_sigma_ids[sigma_id]}; "
                    "filters name rules by id, so only that rule is loaded, not this one: "
                    "give one of them a new id",
                )
            )
            continue
        first_seen[rule_id] = path
        if sigma_id is not None:
            first_sigma_ids[sigma_id] = path
        loaded.append(compiled)
    filtered, filter_errors = apply_filters(loaded, result.filters)
    result.errors.extend(filter_errors)
    for compiled in filtered:
        (result.rules if compiled.rule.enabled else result.disabled).append(compiled)
    return result


def load_rule_file(path: Path) -> CompiledRule:
    """Parse, validate and compile one rule file, or raise RuleFileError listing what is wrong."""
    try:
        document = read_yaml(path)
    except YamlSourceError as error:
        raise RuleFileError([RuleError(path, error.line, error.message)]) from error
    return load_rule_document(path, document)


def load_rule_document(path: Path, document: YamlDocument) -> CompiledRule:
    data = document.data
    errors: list[RuleError] = []

    def report(message: str, *key_path: str | int) -> None:
        errors.append(RuleError(path, document.line_of(*key_path) or 1, message))

    for key in data:
        if key in ("correlation", "filter", "rules", "action"):
            report(_unsupported_document(key), key)
        elif key not in KNOWN_KEYS:
            hint = difflib.get_close_matches(str(key), sorted(KNOWN_KEYS), n=1)
            suffix = f"; did you mean {hint[0]!r}?" if hint else ""
            report(f"unknown top-level key {key!r}{suffix}", key)
    if errors:
        raise RuleFileError(errors)

    keys = _validate_trailhound_keys(data, report)
    sigma_data = {key: value for key, value in data.items() if key in SIGMA_KEYS}
    check_logsource(sigma_data.get("logsource"), report)
    check_detection_items(sigma_data.get("detection"), report)
    if "level" not in sigma_data:
        report("missing 'level': it is the alert's severity (informational ... critical)")
    if errors:
        raise RuleFileError(errors)

    sigma_rule = SigmaRule.from_dict(
        sigma_data, collect_errors=True, source=SigmaRuleLocation(path)
    )
    for sigma_error in sigma_rule.errors:
        report(_sigma_message(sigma_error), *_sigma_error_key(sigma_error))
    if errors or keys is None:
        raise RuleFileError(errors)

    try:
        condition = compile_conditions(
            parsed.parsed for parsed in sigma_rule.detection.parsed_condition
        )
    except CompileError as error:
        report(error.message, *_detection_key_of_field(data.get("detection"), error.field))
        raise RuleFileError(errors) from error
    except SigmaError as error:
        # pyparsing's "Expected ..." messages do not say they are about the condition.
        report(f"condition: {_sigma_message(error)}", "detection", "condition")
        raise RuleFileError(errors) from error

    rule = Rule(
        rule_id=path.stem,
        path=path,
        title=str(sigma_rule.title or path.stem),
        severity=Severity(sigma_rule.level.name.lower() if sigma_rule.level else "medium"),
        description=str(sigma_rule.description or "").strip(),
        tags=tuple(str(tag) for tag in sigma_rule.tags),
        falsepositives=tuple(str(item) for item in sigma_rule.falsepositives or ()),
        references=tuple(str(item) for item in sigma_rule.references or ()),
        sigma_id=str(sigma_rule.id) if sigma_rule.id else None,
        runbook=keys.runbook,
        title_template=keys.alert.title,
        enabled=keys.enabled,
        tests=tuple(keys.tests),
        sigma=sigma_rule,
        document=document,
    )
    return CompiledRule(rule=rule, condition=condition)


def _validate_trailhound_keys(data: dict[str, Any], report: Any) -> TrailhoundKeys | None:
    try:
        return TrailhoundKeys.model_validate(
            {key: value for key, value in data.items() if key in TRAILHOUND_KEYS}
        )
    except ValidationError as error:
        for problem in error.errors():
            location = tuple(problem["loc"])
            dotted = ".".join(str(part) for part in location)
            report(f"{dotted}: {problem['msg']}", *location)
        return None


def _detection_key_of_field(detection: Any, field_name: str | None) -> tuple[str | int, ...]:
    if not isinstance(detection, dict) or field_name is None:
        return ("detection",)
    for identifier, definition in detection.items():
        if identifier == "condition":
            continue
        for key_path, key in detection_keys(definition, (identifier,)):
            if key is not None and key.split("|")[0] == field_name:
                return ("detection", *key_path)
    return ("detection",)


def _unsupported_document(key: str) -> str:
    kinds = {
        "correlation": "Sigma correlation rules are not supported yet",
        "filter": "this is a Sigma filter, not a rule: load it with the rules it applies to",
        "rules": "this looks like a Sigma correlation or filter, not a rule",
        "action": "Sigma rule collections (action: global/reset/repeat) are not supported; "
        "write one complete rule per file",
    }
    return kinds[key]


_SIGMA_ERROR_KEYS = {
    "SigmaLogsourceError": ("logsource",),
    "SigmaConditionError": ("detection", "condition"),
    "SigmaDetectionError": ("detection",),
    "SigmaModifierError": ("detection",),
    "SigmaTypeError": ("detection",),
    "SigmaValueError": ("detection",),
    "SigmaRegularExpressionError": ("detection",),
    "SigmaIdentifierError": ("id",),
    "SigmaFalsePositivesError": ("falsepositives",),
    "SigmaReferencesError": ("references",),
    "SigmaTagError": ("tags",),
}


def _sigma_error_key(error: SigmaError) -> tuple[str, ...]:
    name = type(error).__name__
    if name in _SIGMA_ERROR_KEYS:
        return _SIGMA_ERROR_KEYS[name]
    # SigmaLevelError → level, SigmaDateError → date, SigmaModifiedError → modified, ...
    if name.startswith("Sigma") and name.endswith("Error"):
        return (name[len("Sigma") : -len("Error")].lower(),)
    return ()


def _sigma_message(error: SigmaError) -> str:
    # pySigma appends " in <path>" to its messages (outside args[0]); ours start with the path.
    return readable_sigma_message(error)

"""Rule files → validated, compiled rules; every problem becomes an error naming file and line.

A rule file is a Sigma rule (parsed by pySigma) plus the trailhound keys (validated by pydantic).
Loading never stops at a broken file: each file either loads or yields errors, so one bad rule
cannot blind the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from trailhound.authoring.compiler import compile_conditions
from trailhound.authoring.filters import (
    LoadedFilter,
    apply_filters,
    is_filter,
    load_filter_document,
)
from trailhound.authoring.keys import TRAILHOUND_KEYS, TrailhoundKeys
from trailhound.authoring.problems import FileProblems, Report, did_you_mean
from trailhound.authoring.rulefile import AuthoredRule
from trailhound.authoring.schema import RuleFile
from trailhound.authoring.validation import (
    check_detection_items,
    check_logsource,
    detection_keys,
    readable_sigma_message,
)
from trailhound.authoring.yamlsource import YamlDocument, read_yaml
from trailhound.engine.rule import LoadResult, Rule, Severity, find_rule_files
from trailhound.errors import CompileError, RuleFileError, RuleProblem, YamlSourceError

# The Sigma specification's top-level keys for detection rules; anything else is most likely a
# typo of one of these or of a trailhound key, and a typo must not be silently ignored.
SIGMA_KEYS = frozenset(RuleFile.model_fields) - TRAILHOUND_KEYS
KNOWN_KEYS = SIGMA_KEYS | TRAILHOUND_KEYS


@dataclass
class LoadedRules:
    """What loading rule files gave: rules that work, filters, and problems of what did not."""

    rules: list[AuthoredRule] = field(default_factory=list)
    disabled: list[AuthoredRule] = field(default_factory=list)
    errors: list[RuleProblem] = field(default_factory=list)
    filters: list[LoadedFilter] = field(default_factory=list)
    files: int = 0

    def result(self) -> LoadResult:
        """The same rules as the engine takes them, from a bundle or from files."""
        return LoadResult(list(self.rules), list(self.disabled), list(self.errors), self.files)


def load_rules(paths: Iterable[Path]) -> LoadedRules:
    """Load and compile every rule and filter file under `paths`; duplicate ids are errors.

    Of two rules with the same file name or the same Sigma id, the first found loads and the
    other is reported and left out.
    """
    result = LoadedRules()
    first_seen: dict[str, Path] = {}
    first_sigma_ids: dict[str, Path] = {}
    loaded: list[AuthoredRule] = []
    for path in find_rule_files(paths):
        result.files += 1
        try:
            document = read_yaml(path)
            if is_filter(document):
                result.filters.append(load_filter_document(path, document))
                continue
            compiled = load_rule_document(path, document)
        except YamlSourceError as error:
            result.errors.append(RuleProblem(path, error.line, error.message))
            continue
        except RuleFileError as error:
            result.errors.extend(error.errors)
            continue
        except Exception as error:  # whatever a file does to the parsers, the others still load
            message = f"rule not loaded: {type(error).__name__}: {error}"
            result.errors.append(RuleProblem(path, None, message[:500]))
            continue
        rule_id = compiled.rule_id
        if rule_id in first_seen:
            result.errors.append(
                RuleProblem(path, 1, f"duplicate rule id {rule_id!r}: also {first_seen[rule_id]}")
            )
            continue
        sigma_id = compiled.rule.sigma_id
        if sigma_id is not None and sigma_id in first_sigma_ids:
            result.errors.append(
                RuleProblem(
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


def load_rule_file(path: Path) -> AuthoredRule:
    """Parse, validate and compile one rule file, or raise RuleFileError listing what is wrong."""
    try:
        document = read_yaml(path)
    except YamlSourceError as error:
        raise RuleFileError([RuleProblem(path, error.line, error.message)]) from error
    return load_rule_document(path, document)


def load_rule_document(path: Path, document: YamlDocument) -> AuthoredRule:
    """Validate and compile one parsed rule file, or raise RuleFileError listing what is wrong."""
    data = document.data
    report = FileProblems(path, document)
    for key in data:
        if key in ("correlation", "filter", "rules", "action"):
            report(_unsupported_document(key), key)
        elif key not in KNOWN_KEYS:
            report(f"unknown top-level key {key!r}{did_you_mean(str(key), KNOWN_KEYS)}", key)
    report.raise_any()

    keys = _validate_trailhound_keys(data, report)
    sigma_data = {key: value for key, value in data.items() if key in SIGMA_KEYS}
    check_logsource(sigma_data.get("logsource"), report)
    check_detection_items(sigma_data.get("detection"), report)
    if "level" not in sigma_data:
        report("missing 'level': it is the alert's severity (informational ... critical)")
    report.raise_any()

    sigma_rule = SigmaRule.from_dict(
        sigma_data, collect_errors=True, source=SigmaRuleLocation(path)
    )
    for sigma_error in sigma_rule.errors:
        report(readable_sigma_message(sigma_error), *_sigma_error_key(sigma_error))
    report.raise_any()
    assert keys is not None  # Invalid keys were reported.

    try:
        condition = compile_conditions(
            parsed.parsed for parsed in sigma_rule.detection.parsed_condition
        )
    except CompileError as error:
        report(error.message, *_detection_key_of_field(data.get("detection"), error.field))
        raise RuleFileError(report.problems) from error
    except SigmaError as error:
        # pyparsing's "Expected ..." messages do not say they are about the condition.
        report(f"condition: {readable_sigma_message(error)}", "detection", "condition")
        raise RuleFileError(report.problems) from error

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
    )
    return AuthoredRule(
        rule=rule,
        condition=condition,
        sigma=sigma_rule,
        document=document,
        tests=tuple(keys.tests),
    )


def _validate_trailhound_keys(data: dict[str, Any], report: Report) -> TrailhoundKeys | None:
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

"""Sigma filters: allowlists for one environment, written once and applied to the rules they name.

A filter file follows the Sigma filters specification (`filter: {rules: [...], <selections>,
condition: ...}`) and is parsed by pySigma. A rule it names matches only when the rule's own
condition holds and the filter's condition holds too, so `condition: not terraform` lets the
Terraform role change security groups without waking anyone.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter

from trailhound.authoring.compiler import compile_conditions
from trailhound.authoring.keys import FilterKeys
from trailhound.authoring.problems import FileProblems, did_you_mean
from trailhound.authoring.rulefile import AuthoredRule
from trailhound.authoring.schema import FilterFile
from trailhound.authoring.validation import (
    check_detection_items,
    check_logsource,
    readable_sigma_message,
)
from trailhound.authoring.yamlsource import YamlDocument
from trailhound.errors import CompileError, RuleFileError, RuleProblem

# The Sigma filters specification's top-level keys, and trailhound's `enabled`.
FILTER_KEYS = frozenset(FilterFile.model_fields)


@dataclass(frozen=True, slots=True)
class LoadedFilter:
    """A filter file that loaded; `references` is "any" or the rules it names."""

    filter_id: str
    path: Path
    title: str
    references: str | tuple[str, ...]
    enabled: bool
    sigma: Any = dataclasses.field(repr=False, compare=False)
    document: YamlDocument = dataclasses.field(repr=False, compare=False)


def is_filter(document: YamlDocument) -> bool:
    return "filter" in document.data


def load_filter_document(path: Path, document: YamlDocument) -> LoadedFilter:
    """Validate one filter file, or raise RuleFileError listing what is wrong."""
    data = document.data
    report = FileProblems(path, document)
    for key in data:
        if key not in FILTER_KEYS:
            hint = did_you_mean(str(key), FILTER_KEYS)
            report(f"unknown top-level key {key!r} in a filter{hint}", key)
    try:
        keys = FilterKeys.model_validate({"enabled": data.get("enabled", True)})
    except ValidationError as error:
        report(f"enabled: {error.errors()[0]['msg']}", "enabled")
        keys = FilterKeys()
    check_logsource(data.get("logsource"), report)
    section = data.get("filter")
    if not isinstance(section, dict):
        report("'filter' must be a map with 'rules', selections and a 'condition'", "filter")
        raise RuleFileError(report.problems)
    if "rules" not in section:
        report("filter needs 'rules': the rule ids it applies to, or 'any'", "filter")
    selections = {key: value for key, value in section.items() if key != "rules"}
    check_detection_items(selections, report, section="filter")
    report.raise_any()

    sigma_data = {key: value for key, value in data.items() if key != "enabled"}
    sigma_filter = SigmaFilter.from_dict(
        sigma_data, collect_errors=True, source=SigmaRuleLocation(path)
    )
    for sigma_error in sigma_filter.errors:
        report(readable_sigma_message(sigma_error), "filter")
    report.raise_any()
    try:
        compile_conditions(parsed.parsed for parsed in sigma_filter.filter.parsed_condition)
    except CompileError as error:
        report(error.message, "filter")
    except SigmaError as error:
        report(f"condition: {readable_sigma_message(error)}", "filter", "condition")
    report.raise_any()

    rules = sigma_filter.filter.rules
    references: str | tuple[str, ...] = (
        "any" if isinstance(rules, str) else tuple(str(ref.reference) for ref in rules)
    )
    return LoadedFilter(
        filter_id=path.stem,
        path=path,
        title=str(sigma_filter.title or path.stem),
        references=references,
        enabled=keys.enabled,
        sigma=sigma_filter,
        document=document,
    )


def apply_filters(
    rules: Sequence[AuthoredRule], filters: Sequence[LoadedFilter]
) -> tuple[list[AuthoredRule], list[RuleProblem]]:
    """Each rule with the enabled filters that name it folded into its condition.

    A filter naming a rule that is not loaded is an error: an allowlist that silently applies to
    nothing is an allowlist someone believes in wrongly.
    """
    errors: list[RuleProblem] = []
    applying: dict[str, list[LoadedFilter]] = {}
    for loaded in filters:
        # Disabled filters are checked too: switching one on must not reveal a broken reference.
        for index, target in enumerate(_targets(loaded, rules)):
            if target is None:
                reference = loaded.references[index]
                errors.append(
                    RuleProblem(
                        loaded.path,
                        loaded.document.line_of("filter", "rules", index),
                        f"filter names rule {reference!r}, which is not loaded",
                    )
                )
                continue
            if loaded.enabled:
                for compiled in target:
                    applying.setdefault(compiled.rule_id, []).append(loaded)
    result = []
    for compiled in rules:
        chosen = applying.get(compiled.rule_id)
        if not chosen:
            result.append(compiled)
            continue
        try:
            result.append(_filtered(compiled, chosen))
        except (CompileError, SigmaError) as error:
            message = (
                error.message if isinstance(error, CompileError) else readable_sigma_message(error)
            )
            errors.append(
                RuleProblem(
                    chosen[0].path,
                    chosen[0].document.line_of("filter"),
                    f"cannot apply to {compiled.rule_id}: {message}",
                )
            )
            result.append(compiled)
    return result, errors


def _targets(
    loaded: LoadedFilter, rules: Sequence[AuthoredRule]
) -> list[list[AuthoredRule] | None]:
    if loaded.references == "any":
        return [list(rules)]
    found: list[list[AuthoredRule] | None] = []
    for reference in loaded.references:
        matched = [compiled for compiled in rules if _named(compiled, reference)]
        found.append(matched or None)
    return found


def _named(compiled: AuthoredRule, reference: str) -> bool:
    rule = compiled.rule
    names = (rule.rule_id, rule.sigma_id, compiled.sigma.name)
    return reference in names


def _filtered(compiled: AuthoredRule, filters: list[LoadedFilter]) -> AuthoredRule:
    sigma_rule = copy.deepcopy(compiled.sigma)
    for loaded in filters:
        sigma_filter = copy.deepcopy(loaded.sigma)
        # The references were resolved above (by file stem too, which pySigma does not know).
        sigma_filter.filter.rules = "any"
        sigma_rule = sigma_filter.apply_on_rule(sigma_rule)
    condition = compile_conditions(
        parsed.parsed for parsed in sigma_rule.detection.parsed_condition
    )
    rule = dataclasses.replace(compiled.rule, filters=tuple(loaded.filter_id for loaded in filters))
    return dataclasses.replace(compiled, rule=rule, condition=condition, sigma=sigma_rule)

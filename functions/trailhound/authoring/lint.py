"""`trailhound lint`: everything that can be wrong with rule files, found before deploy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from trailhound.authoring.catalogue import ApiCatalogue, load_catalogue
from trailhound.authoring.loader import load_rules
from trailhound.authoring.rulefile import AuthoredRule
from trailhound.authoring.ruletests import load_test_event
from trailhound.errors import RuleProblem, TestEventError

KeyPath = tuple[str | int, ...]

MAX_UNKNOWN_NAMES = 20

# Modifiers that keep a value an exact name (wildcards allowed): only those values are checked.
_NAME_MODIFIERS = frozenset({"", "cased"})


@dataclass
class LintReport:
    files: int = 0
    rules: int = 0
    filters: int = 0
    errors: list[RuleProblem] = field(default_factory=list)

    @property
    def warnings(self) -> int:
        return sum(1 for error in self.errors if error.warning)

    def failed(self, strict: bool = False) -> bool:
        """Errors always fail; warnings fail in strict mode."""
        return any(strict or not error.warning for error in self.errors)


def lint(paths: Iterable[Path], catalogue: ApiCatalogue | None = None) -> LintReport:
    """Load every rule file under `paths` and check what loading alone cannot."""
    loaded = load_rules(paths)
    report = LintReport(files=loaded.files, filters=len(loaded.filters), errors=list(loaded.errors))
    api = catalogue or load_catalogue()
    for compiled in [*loaded.rules, *loaded.disabled]:
        report.rules += 1
        report.errors.extend(_check_api_names(compiled, api))
        report.errors.extend(_check_test_events(compiled))
    report.errors.sort(key=lambda error: (str(error.path), error.line or 0))
    return report


def _check_api_names(compiled: AuthoredRule, api: ApiCatalogue) -> Iterator[RuleProblem]:
    """eventName/eventSource values must exist in AWS's API catalogue: a typo never fires.

    The first `MAX_UNKNOWN_NAMES` get a message with a suggestion each; the rest are counted in
    one, since a suggestion costs a search of the catalogue and a thousand typos need no more.
    """
    unknown = _unknown_names(compiled, api)
    for found in islice(unknown, MAX_UNKNOWN_NAMES):
        yield found.error(compiled)
    more = sum(1 for _ in unknown)
    if more:
        yield RuleProblem(
            compiled.rule.path,
            1,
            f"{more:,} more eventName/eventSource values unknown to botocore",
            warning=True,
        )


@dataclass(frozen=True, slots=True)
class _UnknownName:
    line: int | None
    field_name: str
    value: str
    suggest: Callable[[str], str | None]
    elsewhere: Callable[[], list[str]] | None = None

    def error(self, compiled: AuthoredRule) -> RuleProblem:
        # A warning, not an error: botocore can lag behind a brand-new API, and a value
        # CloudTrail never records only makes one selection dead. `lint --strict` fails on it.
        field_name, value = self.field_name, self.value
        hint = self.suggest(value)
        elsewhere = self.elsewhere() if self.elsewhere is not None else None
        message = (
            f"{field_name} {value!r} is not an AWS API call or CloudTrail event known to botocore"
        )
        if elsewhere is not None:
            message = f"{field_name} {value!r} is not an API of the rule's eventSource"
        if hint and hint != value:
            message += f"; did you mean {hint!r}?"
        if elsewhere:
            message += f" ({value} is an API of {', '.join(elsewhere[:3])})"
        return RuleProblem(compiled.rule.path, self.line, message, warning=True)


def _unknown_names(compiled: AuthoredRule, api: ApiCatalogue) -> Iterator[_UnknownName]:
    document = compiled.document
    detection = document.data.get("detection")
    if not isinstance(detection, dict):
        return
    for identifier, definition in detection.items():
        if identifier == "condition":
            continue
        for key_path, mapping in _mappings(definition, ("detection", identifier)):
            sources = _values_for(mapping, "eventSource")
            for key, values in _name_fields(mapping):
                line = document.line_of(*key_path, key)
                for value in values:
                    if key.startswith("eventSource"):
                        if not api.knows_source(value):
                            yield _UnknownName(line, "eventSource", value, api.suggest_source)
                        continue
                    if _known_name(api, value, sources):
                        continue
                    source = sources[0] if len(sources) == 1 else None
                    yield _UnknownName(
                        line,
                        "eventName",
                        value,
                        partial(_suggest_name, api, source=source),
                        partial(_sources_of, api, value) if sources else None,
                    )


def _known_name(api: ApiCatalogue, name: str, sources: list[str]) -> bool:
    if not sources:
        return api.knows_name(name)
    return any(api.knows_name(name, source) for source in sources)


def _sources_of(api: ApiCatalogue, name: str) -> list[str]:
    """The event sources that do record `name` (exact names only)."""
    lowered = name.lower()
    return sorted(
        source
        for source, names in api.operations_by_source.items()
        if any(known.lower() == lowered for known in names)
    )


def _suggest_name(api: ApiCatalogue, name: str, source: str | None) -> str | None:
    return api.suggest_name(name, source)


def _check_test_events(compiled: AuthoredRule) -> Iterator[RuleProblem]:
    rule = compiled.rule
    for index, test in enumerate(compiled.tests):
        if isinstance(test.event, str):
            try:
                load_test_event(rule.path, test)
            except TestEventError as error:
                line = compiled.document.line_of("tests", index, "event")
                yield RuleProblem(rule.path, line, f"tests[{index}]: {error}")


def _mappings(definition: Any, key_path: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    if isinstance(definition, dict):
        yield key_path, definition
    elif isinstance(definition, list):
        for index, item in enumerate(definition):
            yield from _mappings(item, (*key_path, index))


def _name_fields(mapping: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for key, value in mapping.items():
        field_name, _, modifiers = str(key).partition("|")
        if field_name in ("eventName", "eventSource") and modifiers in _NAME_MODIFIERS:
            values = value if isinstance(value, list) else [value]
            yield str(key), [item for item in values if isinstance(item, str)]


def _values_for(mapping: dict[str, Any], field_name: str) -> list[str]:
    for key, values in _name_fields(mapping):
        if key.partition("|")[0] == field_name:
            return values
    return []

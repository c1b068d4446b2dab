"""A loaded rule: its metadata and compiled condition, and where rule files are found.

Nothing here parses YAML or Sigma: the Lambda builds these from a rule bundle, and the authoring
side (`trailhound.authoring.loader`) from rule files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from trailhound.engine.conditions import CompiledCondition
from trailhound.errors import RuleProblem

RULE_SUFFIXES = (".yml", ".yaml")


class Severity(StrEnum):
    """Sigma's `level`, which trailhound uses as the alert's severity."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True, slots=True)
class Rule:
    """What a rule says of itself: its Sigma metadata and trailhound keys, as alerts show them."""

    rule_id: str
    path: Path
    title: str
    severity: Severity
    description: str = ""
    tags: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    sigma_id: str | None = None
    runbook: str | None = None
    title_template: str | None = None
    enabled: bool = True
    # Ids of the Sigma filters (allowlists) folded into this rule's condition.
    filters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to match: its metadata and its compiled condition."""

    rule: Rule
    condition: CompiledCondition

    @property
    def rule_id(self) -> str:
        return self.rule.rule_id


@dataclass
class LoadResult:
    """What loading a set of rules gave: rules that work, and the problems of those that do not."""

    rules: list[CompiledRule] = field(default_factory=list)
    disabled: list[CompiledRule] = field(default_factory=list)
    errors: list[RuleProblem] = field(default_factory=list)
    files: int = 0


def find_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Rule files under `paths` (files as given, directories recursively, hidden ones skipped).

    Within a directory, files come in the order of their path's parts, as sorted() orders paths.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for _parts, found in rule_files_in(path):
            yield Path(found)


def rule_files_in(folder: Path) -> list[tuple[tuple[str, ...], str]]:
    """The rule files under `folder`, as `find_rule_files` finds them: each as its path's parts
    below `folder` and its whole path, in the order of those parts.

    Plain strings, not `Path`s: a cold start checks every rule file of a bundle with these.
    """
    top = os.fspath(folder)
    found: list[tuple[tuple[str, ...], str]] = []
    for directory, directories, files in os.walk(top):
        directories[:] = [name for name in directories if not name.startswith(".")]
        below = directory[len(top) :].strip(os.sep)
        relative = tuple(below.split(os.sep)) if below else ()  # noqa: PTH206 (strings)
        for name in files:
            if name.startswith(".") or not name.endswith(RULE_SUFFIXES):
                continue
            candidate = os.path.join(directory, name)  # noqa: PTH118 (strings)
            if os.path.isfile(candidate):  # noqa: PTH113 (not a broken link or a socket)
                found.append(((*relative, name), candidate))
    found.sort(key=lambda item: item[0])
    return found

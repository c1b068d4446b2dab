"""Every error trailhound raises is a `TrailhoundError`; problems in rule files are values.

Loading rules collects a `RuleProblem` for each thing wrong with a file and goes on, so one broken
file never hides the others; `RuleFileError` carries the problems of the one file it was raised
for. The other errors stop what they interrupt, each for a reason a caller can act on; those that
carry a module's own values (`delivery.publisher.DeliveryError`) live beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class TrailhoundError(Exception):
    """The base of every error trailhound raises."""


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A problem in a rule file, printed as `path:line: message` like a compiler's.

    Warnings are problems that do not stop the rule from loading (`lint --strict` fails on them).
    """

    path: Path
    line: int | None
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.path}:{self.line or 1}: {kind}{self.message}"


class RuleFileError(TrailhoundError):
    """A rule file that cannot be loaded; carries every problem found in it."""

    def __init__(self, errors: list[RuleProblem]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


class YamlSourceError(TrailhoundError):
    """The file is not a single, well-formed YAML mapping; `line` points at the problem."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class CompileError(TrailhoundError):
    """A rule uses something the matcher does not support; `field` helps find the line."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TestEventError(TrailhoundError):
    """A rule test's `event` path that does not lead to a CloudTrail record."""


class BundleUnusable(TrailhoundError):
    """Why a rule bundle cannot stand in for the rule files; the caller loads the files instead."""


class BundleForOtherFolders(BundleUnusable):
    """The bundle was built for other rule folders: a choice of configuration, not an accident."""


class BundleOutOfDate(BundleUnusable):
    """The bundle was built for these folders, but their files changed or it is damaged."""


class NoRulesError(TrailhoundError):
    """No rule loaded at all: a function that can never alert must not look healthy."""


class PayloadError(TrailhoundError):
    """The subscription payload itself is unreadable, so none of its records can be trusted."""


class SettingsError(TrailhoundError):
    """An environment variable is missing or wrong; the message names each one."""

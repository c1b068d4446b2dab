"""Problems found in rule files, each naming the file and the line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RuleError:
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


class RuleFileError(Exception):
    """A rule file that cannot be loaded; carries every error found in it."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors

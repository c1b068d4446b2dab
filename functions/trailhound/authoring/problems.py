"""The problems of one rule or filter file, each at the line of the key it concerns."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from trailhound.authoring.yamlsource import YamlDocument
from trailhound.errors import RuleFileError, RuleProblem


class Report(Protocol):
    """Records a problem at the line of `key_path` (the file's first line if it has none)."""

    def __call__(self, message: str, *key_path: str | int) -> None: ...


class FileProblems:
    """A `Report` that collects the problems of one file, to raise them all at once."""

    def __init__(self, path: Path, document: YamlDocument) -> None:
        self.path = path
        self.document = document
        self.problems: list[RuleProblem] = []

    def __call__(self, message: str, *key_path: str | int) -> None:
        line = self.document.line_of(*key_path) or 1
        self.problems.append(RuleProblem(self.path, line, message))

    def raise_any(self) -> None:
        """Raise RuleFileError with every problem so far, if there is one."""
        if self.problems:
            raise RuleFileError(self.problems)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the known name closest to `name`, or "" if none is close."""
    hint = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else ""

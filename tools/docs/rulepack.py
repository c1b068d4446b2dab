"""What the documentation scripts share: where the rules and the corpus are, and how to replay it.

The corpus goes through trailhound's own path (`read_inputs` → `detect`, as `trailhound replay`
does), so the generated documents say what a deployment would really have alerted on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.docs.markdown import DOCS, ROOT
from trailhound.authoring.loader import LoadedRules, load_rules
from trailhound.engine.rule import CompiledRule
from trailhound.engine.ruleset import RuleSet
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.logfiles import read_inputs
from trailhound.pipeline.records import SourceItem, SourceRecord

RULES = ROOT / "rules"
SIGMAHQ_PACK = ROOT / "packs" / "sigmahq"
# Real CloudTrail records (see its README for sources and licenses).
CORPUS = ROOT / "tests" / "data" / "corpus"
STRATUS = CORPUS / "stratus-red-team.jsonl"
INVICTUS = CORPUS / "invictus-aws-dataset.jsonl"
TRAILDISCOVER = CORPUS / "traildiscover.jsonl"


class RulePackError(Exception):
    """Rules or corpus that cannot be read as they are: a document built on them would mislead."""


@dataclass(frozen=True, slots=True)
class Firing:
    """One alert from a replay: which rule fired on which line of the corpus file."""

    line: int
    rule_id: str
    event_name: str


def load_pack(folder: Path) -> LoadedRules:
    """Every rule under `folder`, or RulePackError listing the files that do not load."""
    loaded = load_rules([folder])
    if loaded.errors:
        problems = "\n".join(str(error) for error in loaded.errors)
        raise RulePackError(f"rules that do not load (run trailhound lint):\n{problems}")
    return loaded


def replay(path: Path, rules: Sequence[CompiledRule]) -> list[Firing]:
    """Run the JSON Lines file at `path` through `rules`, one alert per (event, rule) that fired."""
    if not path.is_file():
        raise RulePackError(f"corpus file not found: {path}")
    return _firings(read_inputs([str(path)]), rules, path.name)


def replay_records(
    records: Sequence[dict[str, Any]], rules: Sequence[CompiledRule]
) -> list[Firing]:
    """Run `records` through `rules`; a firing's `line` is the record's position, from 1."""
    items = [SourceRecord(record, f"record:{number}") for number, record in enumerate(records, 1)]
    return _firings(items, rules, "records")


def _firings(items: Iterable[SourceItem], rules: Sequence[CompiledRule], name: str) -> list[Firing]:
    ruleset = RuleSet(rules)
    summary = DetectionSummary()
    firings: list[Firing] = []
    for item in items:
        # One item at a time, so that each alert can be traced to the line it came from.
        for alert in detect([item], ruleset, summary):
            line = int(item.location.rsplit(":", 1)[1])
            firings.append(Firing(line, alert.rule_id, alert.what.event_name or ""))
    failures = [*summary.rule_failures, *summary.alert_failures]
    if summary.bad_inputs or failures:
        problems = [f"{bad.location}: {bad.message}" for bad in summary.bad_inputs]
        problems += [f"{f.location}: {f.failure.rule_id}: {f.failure.error}" for f in failures]
        raise RulePackError(f"replay of {name} went wrong:\n" + "\n".join(problems))
    return firings


def link(path: Path, start: Path) -> str:
    """A relative link from a document in `start` to `path`, as markdown renderers resolve it."""
    return Path(os.path.relpath(path, start)).as_posix()


def corpus_path(path: Path) -> str:
    """A corpus file as the repository's documents name it."""
    return f"tests/data/corpus/{path.name}"


def rule_link(rule: CompiledRule, start: Path) -> str:
    """A rule named in a document in `start`: a link to its file, except in the docs site,
    whose links cannot leave docs/ (the catalogue says where each rule's file is)."""
    if start.is_relative_to(DOCS):
        return f"`{rule.rule_id}`"
    return f"[`{rule.rule_id}`]({link(rule.rule.path, start)})"

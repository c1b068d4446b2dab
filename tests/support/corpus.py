"""The real CloudTrail records the tests run on, and SigmaHQ's rules as the pack ships them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[2]
# Real CloudTrail records from public projects, each under its license (see its README).
CORPUS = REPO / "tests" / "data" / "corpus"
# SigmaHQ's CloudTrail rules, as the optional pack ships them.
SIGMAHQ_RULES = REPO / "packs" / "sigmahq"


def read_corpus() -> list[dict[str, Any]]:
    """Every CloudTrail record of the corpus (stratus-red-team lines wrap theirs)."""
    records: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                item = orjson.loads(line)
                records.append(item["event"] if "technique" in item else item)
    return records

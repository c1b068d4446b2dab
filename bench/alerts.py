"""Microseconds per `build_alert` call over the real CloudTrail corpus.

Run: .venv/bin/python bench/alerts.py [--corpus DIR] [--repeat N] [--orjson] [--baseline FILE]

Loads every record of tests/data/corpus/*.jsonl (stratus-red-team.jsonl lines are
`{"technique": ..., "event": {...}}`, the others one record a line) with json.loads, or with
orjson.loads as the Lambda does (--orjson), then times `build_alert(rule, record)` over all of
them; each figure is the best of --repeat passes.

Timings on a shared machine drift by tens of percent from one minute to the next, so compare
versions in one run: --baseline loads another copy of trailhound/alerts.py (e.g. from
`git show HEAD~1:functions/trailhound/alerts.py > /tmp/alerts_before.py`) and alternates
passes of the two.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from trailhound import alerts
from trailhound.engine.rule import Rule, Severity

ROOT = Path(__file__).resolve().parent.parent

BuildAlert = Callable[[Rule, Mapping[str, Any]], object]


def corpus_records(corpus: Path, loads: Callable[[str], Any]) -> list[Any]:
    records = []
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            data = loads(line)
            if isinstance(data, dict) and "technique" in data and "event" in data:
                data = data["event"]
            records.append(data)
    return records


def load_module(path: Path) -> ModuleType:
    """Another copy of the alerts module, under its own name."""
    name = "alerts_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


def one_pass(build_alert: BuildAlert, rule: Rule, records: list[Any]) -> float:
    start = time.perf_counter()
    for record in records:
        build_alert(rule, record)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--orjson", action="store_true", help="parse records as the Lambda does")
    parser.add_argument("--baseline", type=Path, help="another alerts.py to time alongside")
    args = parser.parse_args()

    records = corpus_records(args.corpus, orjson.loads if args.orjson else json.loads)
    if not records:
        print(f"no records found in {args.corpus}", file=sys.stderr)
        return 2
    rule = Rule(
        rule_id="x",
        path=Path("rules/x.yml"),
        title="t",
        severity=Severity.HIGH,
        title_template="From {sourceIPAddress}",
    )
    versions: dict[str, BuildAlert] = {"build_alert": alerts.build_alert}
    if args.baseline is not None:
        versions = {"baseline": load_module(args.baseline).build_alert, **versions}
    best = dict.fromkeys(versions, float("inf"))
    for _ in range(args.repeat):
        for name, build_alert in versions.items():
            best[name] = min(best[name], one_pass(build_alert, rule, records))

    parser_name = "orjson" if args.orjson else "json"
    print(
        f"{len(records)} records ({parser_name}), best of {args.repeat} passes; "
        f"Python {sys.version.split()[0]}"
    )
    for name, seconds in best.items():
        print(f"{name:<12} {seconds / len(records) * 1e6:6.1f} µs per alert")
    if args.baseline is not None:
        print(f"speed-up     {best['baseline'] / best['build_alert']:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""trailhound against two other ways to evaluate the same Sigma rules on the same events.

Run: .venv/bin/python -m bench.comparison [--corpus DIR] [--repeat N] [--batch N]

The 57 SigmaHQ CloudTrail rules (packs/sigmahq) on the real corpus (tests/data/corpus), in batches
of 1,000 events given as JSON lines, as CloudWatch Logs delivers them once unpacked. Each figure is
the best of --repeat passes over all batches, measured in this run; the Python evaluators' passes
alternate, half of them before DuckDB's and half after:

- trailhound: each line parsed (`sources.parse_record`), then `RuleSet.match`;
- pySigma tree walk (bench/pysigma_evaluator.py): each line parsed with the same orjson, then
  every rule's parsed condition tree walked for the event;
- pysigma-backend-duckdb (bench/duckdb_evaluator.py, in .venv-bench): every rule converted to SQL
  once, then per batch the lines loaded into DuckDB and one query for all rules.

"matching only" times the Python evaluators on events already parsed. The last part lists every
(event, rule) pair on which the three do not agree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.markdown import block
from bench.pysigma_evaluator import PySigmaEvaluator
from bench.throughput import ROOT, corpus_records
from trailhound.authoring.loader import load_rules
from trailhound.engine.ruleset import RuleSet
from trailhound.pipeline.records import SourceRecord, parse_record

BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
Match = tuple[str, str]
"""(eventID, rule id)"""


def trailhound_batch(ruleset: RuleSet) -> Callable[[str], set[Match]]:
    def run(batch: str) -> set[Match]:
        found = set()
        for number, line in enumerate(batch.splitlines()):
            item = parse_record(line, str(number))
            if isinstance(item, SourceRecord):
                for compiled in ruleset.match(item.record).matched:
                    found.add((item.record["eventID"], compiled.rule_id))
        return found

    return run


def walker_batch(evaluator: PySigmaEvaluator) -> Callable[[str], set[Match]]:
    def run(batch: str) -> set[Match]:
        found = set()
        for line in batch.splitlines():
            event = orjson.loads(line)
            for rule_id in evaluator.match(event):
                found.add((event["eventID"], rule_id))
        return found

    return run


def best_passes(
    runs: dict[str, Callable[[str], set[Match]]], batches: list[str], repeat: int
) -> dict[str, tuple[float, set[Match]]]:
    """Each run's best pass over all batches, the passes of all runs interleaved by rounds."""
    best: dict[str, tuple[float, set[Match]]] = {}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            found = set().union(*(run(batch) for batch in batches))
            seconds = time.perf_counter() - start
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, found)
    return best


def best_matching_only(
    matchers: dict[str, Callable[[dict[str, Any]], object]], events: list[Any], repeat: int
) -> dict[str, float]:
    """Each matcher's best pass over the parsed events, interleaved by rounds, µs per event."""
    best = dict.fromkeys(matchers, float("inf"))
    for _ in range(repeat):
        for name, match in matchers.items():
            start = time.perf_counter()
            for event in events:
                match(event)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds / len(events) * 1e6 for name, seconds in best.items()}


def duckdb_pass(
    rules: Path, batches: list[str], repeat: int
) -> tuple[float, set[Match], dict[str, Any]] | None:
    """Best pass of the DuckDB backend in its own environment, or None without .venv-bench."""
    if not BENCH_PYTHON.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for index, batch in enumerate(batches):
            path = Path(folder) / f"batch_{index:03d}.jsonl"
            path.write_text(batch, encoding="utf-8")
            files.append(str(path))
        script = str(ROOT / "bench" / "duckdb_evaluator.py")
        done = subprocess.run(
            [str(BENCH_PYTHON), script, str(rules), *files, f"--repeat={repeat}"],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode:
        raise SystemExit(f"duckdb_evaluator.py failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    found = {(event_id, rule) for event_id, rule in report["matches"]}
    return min(report["passes"]), found, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--rules", type=Path, default=ROOT / "packs" / "sigmahq")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N events")
    args = parser.parse_args()

    records = corpus_records(args.corpus)
    if args.limit:
        records = records[: args.limit]
    lines = [orjson.dumps(record).decode() for record in records]
    batches = [
        "\n".join(lines[start : start + args.batch]) for start in range(0, len(lines), args.batch)
    ]
    paths = sorted(args.rules.glob("*.yml"))
    loaded = load_rules(paths)
    ruleset = RuleSet(loaded.rules)
    evaluator = PySigmaEvaluator(paths)

    print(
        f"{len(records):,} real CloudTrail events in {len(batches)} batches of up to "
        f"{args.batch:,}, {len(loaded.rules)} SigmaHQ rules; best of {args.repeat} passes; "
        f"Python {sys.version.split()[0]}\n"
    )
    runs = {"trailhound": trailhound_batch(ruleset), "pySigma tree walk": walker_batch(evaluator)}
    # Half the in-process passes before DuckDB's and half after, so that a slow spell of a
    # shared machine weighs on every evaluator alike.
    results = best_passes(runs, batches, (args.repeat + 1) // 2)
    duck = duckdb_pass(args.rules, batches, args.repeat)
    for name, (seconds, found) in best_passes(runs, batches, args.repeat // 2 or 1).items():
        if seconds < results[name][0]:
            results[name] = (seconds, found)
    if duck is not None:
        seconds, found, report = duck
        results[f"pysigma-backend-duckdb (DuckDB {report['duckdb']})"] = (seconds, found)

    mine = results["trailhound"][0]
    matching = best_matching_only(
        {"trailhound": ruleset.match, "walk": evaluator.match}, records, args.repeat
    )
    ours = matching["trailhound"]
    alone = {"trailhound": ours, "pySigma tree walk": matching["walk"]}
    if duck is not None:
        passes, loading = duck[2]["passes"], duck[2]["loading"]
        best = passes.index(min(passes))
        alone[list(results)[-1]] = (passes[best] - loading[best]) / len(records) * 1e6
    rows = []
    for label, (seconds, found) in results.items():
        match = alone.get(label)
        faster = "" if label == "trailhound" else f"{seconds / mine:.1f}× faster"
        rows.append(
            [
                label,
                f"{len(records) / seconds:,.0f}",
                f"{seconds / len(records) * 1e6:.1f}",
                faster,
                "" if match is None else f"{match:.1f}",
                "" if label == "trailhound" or match is None else f"{match / ours:.0f}× faster",
                f"{len(found):,}",
            ]
        )
    header = ["evaluator", "events/s", "µs/event", "trailhound is"]
    print(
        block("comparison", [*header, "matching alone, µs/event", "trailhound is", "matches"], rows)
    )
    if duck is None:
        print("pysigma-backend-duckdb: skipped, no .venv-bench (make install-bench)")
    elif duck[2]["unconverted"]:
        print(f"rules the DuckDB backend could not convert: {duck[2]['unconverted']}")

    print("\ndisagreements (eventID, rule) against trailhound:")
    reference = results["trailhound"][1]
    quiet = True
    for label, (_seconds, found) in list(results.items())[1:]:
        for kind, pairs in (("only", found - reference), ("missing", reference - found)):
            by_rule: dict[str, list[str]] = {}
            for event_id, rule in sorted(pairs):
                by_rule.setdefault(rule, []).append(event_id)
            for rule, event_ids in sorted(by_rule.items()):
                quiet = False
                print(f"  {label}, {kind} {len(event_ids):>4}: {rule} (e.g. {event_ids[0]})")
    if quiet:
        print("  none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Events per second through decode → parse → match → alert, next to the decode-only floor.

Run: .venv/bin/python -m bench.throughput [--corpus DIR] [--repeat N]

The input is the real CloudTrail corpus (tests/data/corpus), packed into CloudWatch Logs
subscription payloads of 100 events each with the real encoding (gzip + base64 JSON). Each figure
is the best of --repeat passes over all payloads, measured in the same run, with the passes of
all paths interleaved:

- floor: base64 + gzip + json.loads of each payload and of every log event's message, nothing else;
- trailhound: the Lambda's path (sources.decode_subscription, RuleSet.match, build_alert) with
  10, 100 and 1,000 rules.

Two series of rule sets, both seeded so that every run uses the same rules. Past the real rules
(rules/ and the SigmaHQ CloudTrail pack), sets are topped up with variants of the real rules that
pin an API call, each retargeted at other calls of one service from botocore's catalogue: calls
that change something, as detections watch, never Describe*, Get*, List*.

- ten rules and variants: ten real rules, topped up with variants. The alerts stay close to those
  of the ten rules, so the figures show what the rule count itself costs an event: the index at
  work;
- the pack grows: the same ten rules, then the rest of the real rules in a seeded order, then the
  same variants. Larger sets take in more of the real rules, written for the attacks the corpus
  records, so the alerts grow with the rules.

"tried" is the rules an event meets on average: the candidates the index hands the matcher.

Rules that pin no eventName/eventSource appear once, as in real packs: each such rule is tested
against every event.
"""

from __future__ import annotations

import argparse
import base64
import copy
import gzip
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from tests.support.payloads import encode_subscription

from bench.markdown import block
from trailhound.authoring.catalogue import load_catalogue
from trailhound.authoring.loader import load_rules
from trailhound.authoring.rulefile import AuthoredRule
from trailhound.engine.requirements import INDEX_FIELDS
from trailhound.engine.ruleset import RuleSet
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.logfiles import read_inputs
from trailhound.pipeline.records import SourceRecord
from trailhound.pipeline.subscription import decode_subscription

ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_PAYLOAD = 100
# The markdown blocks of the two series, as docs/performance.md names them.
BLOCKS = ("throughput-variants", "throughput-pack-grows")
RULE_COUNTS = (10, 100, 1000)
# API calls named so read and change nothing. Detections watch calls that change something
# (DeleteTrail, PutBucketPolicy); a rule on every DescribeRouteTables would page all day.
READ_PREFIXES = (
    "BatchGet",
    "Check",
    "Describe",
    "Estimate",
    "Filter",
    "Get",
    "Head",
    "List",
    "Lookup",
    "Preview",
    "Query",
    "Scan",
    "Search",
    "Select",
    "Simulate",
    "Validate",
    "View",
)


def corpus_records(corpus: Path) -> list[dict[str, Any]]:
    records = []
    for item in read_inputs([str(path) for path in sorted(corpus.glob("*.jsonl"))]):
        if hasattr(item, "record"):
            records.append(item.record)
    return records


def payloads(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        encode_subscription(records[start : start + EVENTS_PER_PAYLOAD])
        for start in range(0, len(records), EVENTS_PER_PAYLOAD)
    ]


def decode_floor(event: dict[str, Any]) -> int:
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    for log_event in data["logEvents"]:
        json.loads(log_event["message"])
    return len(data["logEvents"])


def trailhound_path(ruleset: RuleSet) -> Callable[[dict[str, Any]], int]:
    def run(event: dict[str, Any]) -> int:
        batch = decode_subscription(event)
        summary = DetectionSummary()
        for _alert in detect(batch.items, ruleset, summary):
            pass
        return summary.events

    return run


def best_rates(
    runs: dict[str, Callable[[dict[str, Any]], int]], batches: list[dict[str, Any]], repeat: int
) -> dict[str, float]:
    """Events per second of each run, best of `repeat` passes over all batches.

    The passes are interleaved, every run once per round and each round starting one run
    further on, so a shared machine's drift weighs on all runs alike rather than on the last.
    """
    best = dict.fromkeys(runs, 0.0)
    names = list(runs)
    for round_number in range(repeat):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            events = 0
            start = time.perf_counter()
            for batch in batches:
                events += runs[name](batch)
            best[name] = max(best[name], events / (time.perf_counter() - start))
    return best


def match_costs(
    rulesets: dict[str, RuleSet], records: list[dict[str, Any]], repeat: int
) -> dict[str, float]:
    """Microseconds per event spent in RuleSet.match alone, best of interleaved passes."""
    best = dict.fromkeys(rulesets, float("inf"))
    names = list(rulesets)
    for round_number in range(repeat):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            match = rulesets[name].match
            start = time.perf_counter()
            for record in records:
                match(record)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds / len(records) * 1e6 for name, seconds in best.items()}


def rule_sets(
    real: list[AuthoredRule], folder: Path, counts: tuple[int, ...] = RULE_COUNTS
) -> dict[str, dict[int, RuleSet]]:
    """Rule sets of each size in both series (see the module's docstring), by series name."""
    fewest, most = min(counts), max(counts)
    real, paths = _variants(real, folder, most - min(fewest, len(real)))
    variants = load_rules(paths)
    if variants.errors:
        raise SystemExit(f"variant rules failed to load: {variants.errors[:3]}")
    grown = real + variants.rules
    fixed = real[:fewest] + variants.rules
    return {
        f"{fewest} rules and variants": {count: RuleSet(fixed[:count]) for count in counts},
        "the pack grows": {count: RuleSet(grown[:count]) for count in counts},
    }


def write_rule_folder(real: list[AuthoredRule], folder: Path, count: int) -> list[Path]:
    """`count` rule files in `folder`, the same rules as the growing pack's: real ones copied."""
    real, paths = _variants(real, folder, count - len(real))
    for rule in real[:count]:
        path = folder / f"{rule.rule_id}.yml"
        path.write_bytes(rule.rule.path.read_bytes())
        paths.append(path)
    return paths[:count]


def _variants(
    real: list[AuthoredRule], folder: Path, count: int
) -> tuple[list[AuthoredRule], list[Path]]:
    """The real rules in a seeded order, and files of `count` variants of the indexed ones."""
    catalogue = load_catalogue()
    writes = {
        source: sorted(name for name in names if not name.startswith(READ_PREFIXES))
        for source, names in catalogue.operations_by_source.items()
        if source.endswith(".amazonaws.com")
    }
    services = sorted((source, names) for source, names in writes.items() if names)
    rng = random.Random(20261123)
    # Real rules in a seeded order, so that each smaller set is a sample of the same pack
    # (indexed and unindexed rules alike) rather than whichever files sort first.
    real = rng.sample(real, k=len(real))
    # Templates pin an API call, which each variant moves to another.
    indexed = [
        rule
        for rule in real
        if rule.condition.requirement is not None
        and rule.condition.requirement.field in INDEX_FIELDS
    ]
    paths = []
    for number in range(max(0, count)):
        template = indexed[number % len(indexed)].document
        assert template is not None
        data = copy.deepcopy(template.data)
        source, names = rng.choice(services)
        _retarget(data["detection"], source, rng.sample(names, k=min(len(names), 3)))
        data.pop("tests", None)
        path = folder / f"variant_{number:04d}.yml"
        if "id" in data:  # Sigma ids are unique: a copy's would be refused.
            data["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"trailhound-bench/{path.name}"))
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    return real, paths


def _retarget(detection: Any, source: str, names: list[str]) -> None:
    if isinstance(detection, dict):
        for key in list(detection):
            field = str(key).split("|")[0]
            if field == "eventName":
                detection[key] = names if isinstance(detection[key], list) else names[0]
            elif field == "eventSource":
                detection[key] = source
            else:
                _retarget(detection[key], source, names)
    elif isinstance(detection, list):
        for item in detection:
            _retarget(item, source, names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--sigma", type=Path, default=ROOT / "packs" / "sigmahq")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--rule-counts",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        default=RULE_COUNTS,
        help="rule-set sizes, comma-separated (default 10,100,1000)",
    )
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2

    records = corpus_records(args.corpus)
    batches = payloads(records)
    real = load_rules([ROOT / "rules", args.sigma]).rules
    with tempfile.TemporaryDirectory() as folder:
        sets = rule_sets(real, Path(folder), args.rule_counts)

    print(f"{len(records)} real CloudTrail events in {len(batches)} subscription payloads")
    print(f"best of {args.repeat} passes; Python {sys.version.split()[0]}")
    records_only = [
        item.record
        for batch in batches
        for item in decode_subscription(batch).items
        if isinstance(item, SourceRecord)
    ]
    rulesets = {
        (series, count): ruleset
        for series, by_count in sets.items()
        for count, ruleset in by_count.items()
    }
    runs: dict[str, Callable[[dict[str, Any]], int]] = {"floor": decode_floor}
    runs.update(
        {f"{series}/{count}": trailhound_path(rs) for (series, count), rs in rulesets.items()}
    )
    rates = best_rates(runs, batches, args.repeat)
    matching = match_costs(
        {f"{series}/{count}": rs for (series, count), rs in rulesets.items()},
        records_only,
        args.repeat,
    )
    floor = rates["floor"]
    for (series, by_count), name in zip(sets.items(), BLOCKS, strict=True):
        per_event: dict[int, float] = {}
        per_match: dict[int, float] = {}
        rows = [["floor: gzip + base64 + `json.loads`", f"{floor:,.0f}", f"{1e6 / floor:.1f}"]]
        rows[0] += ["1.00", "", "", ""]
        for count, ruleset in by_count.items():
            rate = rates[f"{series}/{count}"]
            per_event[count] = 1e6 / rate
            per_match[count] = matching[f"{series}/{count}"]
            alerts = sum(len(ruleset.match(record).matched) for record in records_only)
            tried = sum(len(ruleset.candidates(record)) for record in records_only)
            rows.append(
                [
                    f"trailhound, {count:,} rules",
                    f"{rate:,.0f}",
                    f"{1e6 / rate:.1f}",
                    f"{rate / floor:.2f}",
                    f"{per_match[count]:.2f}",
                    f"{tried / len(records_only):.2f}",
                    f"{alerts:,}",
                ]
            )
        header = [series, "events/s", "µs/event", "× floor", "matching alone, µs/event"]
        print("\n" + block(name, [*header, "rules tried", "alerts"], rows))
        low, high = args.rule_counts[0], args.rule_counts[-1]
        print(
            f"per-event cost, {high:,} vs {low} rules: {per_event[high] / per_event[low]:.2f}x "
            f"end to end, {per_match[high] / per_match[low]:.2f}x for matching alone"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

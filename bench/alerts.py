"""Microseconds per `build_alert` call over the real CloudTrail corpus.

Run: .venv/bin/python -m bench.alerts [--corpus DIR] [--repeat N] [--orjson] [--baseline SRC]

Loads every record of tests/data/corpus/*.jsonl (stratus-red-team.jsonl lines are
`{"technique": ..., "event": {...}}`, the others one record a line) with json.loads, or with
orjson.loads as the Lambda does (--orjson), then times `build_alert(rule, record)` over all of
them; each figure is the best of --repeat passes.

Timings on a shared machine drift by tens of percent from one minute to the next, so compare
versions in one run: --baseline names the `functions/` folder of another checkout (for example
`git worktree add /tmp/before HEAD~1`, then `--baseline /tmp/before/functions`). Each version
runs in a child process of its own, in turns, and each child reports its best pass.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent

BuildAlert = Callable[[Any, Mapping[str, Any]], object]


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


def build_alert_function() -> BuildAlert:
    """`build_alert` of whichever trailhound is on the path, as it was laid out then."""
    try:
        from trailhound.alerts.build import build_alert
    except ImportError:  # a checkout from before the alerts package
        from trailhound.alerts import build_alert  # type: ignore[attr-defined,no-redef]
    return build_alert  # type: ignore[return-value]


def one_pass(build_alert: BuildAlert, rule: Any, records: list[Any]) -> float:
    start = time.perf_counter()
    for record in records:
        build_alert(rule, record)
    return time.perf_counter() - start


def child(args: argparse.Namespace) -> int:
    """Time this interpreter's trailhound; print the best pass, in seconds per record."""
    from trailhound.engine.rule import Rule, Severity

    records = corpus_records(args.corpus, orjson.loads if args.orjson else json.loads)
    rule = Rule(
        rule_id="x",
        path=Path("rules/x.yml"),
        title="t",
        severity=Severity.HIGH,
        title_template="From {sourceIPAddress}",
    )
    build_alert = build_alert_function()
    best = min(one_pass(build_alert, rule, records) for _ in range(args.repeat))
    print(json.dumps({"records": len(records), "seconds": best / len(records)}))
    return 0


def run_child(args: argparse.Namespace, source: Path | None, repeat: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.alerts", "--child", "--repeat", str(repeat)]
    command += ["--corpus", str(args.corpus)] + (["--orjson"] if args.orjson else [])
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4, help="turns of the versions' children")
    parser.add_argument("--orjson", action="store_true", help="parse records as the Lambda does")
    parser.add_argument("--baseline", type=Path, help="the functions/ folder of another checkout")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    versions: dict[str, Path | None] = {"build_alert": None}
    if args.baseline is not None:
        versions = {"baseline": args.baseline.resolve(), **versions}
    best = dict.fromkeys(versions, float("inf"))
    records = 0
    for _ in range(args.rounds):
        for name, source in versions.items():
            result = run_child(args, source, args.repeat)
            records = result["records"]
            best[name] = min(best[name], result["seconds"])
    if not records:
        print(f"no records found in {args.corpus}", file=sys.stderr)
        return 2
    parser_name = "orjson" if args.orjson else "json"
    print(
        f"{records} records ({parser_name}), best of {args.rounds} rounds of {args.repeat} passes; "
        f"Python {sys.version.split()[0]}"
    )
    for name, seconds in best.items():
        print(f"{name:<12} {seconds * 1e6:6.1f} µs per alert")
    if args.baseline is not None:
        print(f"speed-up     {best['baseline'] / best['build_alert']:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The Lambda end to end: `lambda_handler` itself on real CloudTrail events, in payloads as
CloudWatch Logs delivers them, with SNS and DynamoDB answered inside the SDK.

Run: .venv/bin/python -m bench.handler [--corpus DIR] [--passes N]

Each set of payloads runs in a fresh interpreter set up as Lambda sets one up: the template's
environment (its default rules, `/opt/rules` with its rule bundle, here a bundle of `rules/`),
X-Ray tracing on as in a sampled invocation (segments go to a daemon address nobody listens
on), and the handler's logs written to a file as Lambda writes them to its log. SNS and DynamoDB
calls are answered at botocore's `before-send` hook (`tests/support/aws_answers.py`): the SDK
validates, serializes, signs and parses each call; only the network is left out. The ledger
answers every claim as new, so each pass finds the state fresh.

The sets: the corpus in payloads of 100 events (a real attack corpus, far more alerting than an
account's day), the corpus events that match no rule (what most events cost), and the worst
case: the largest invocation CloudWatch Logs can make (1 MB), filled with corpus events that
each alert. The floor is base64, gzip and orjson, the handler's JSON parser, over the same
payloads and their log events. "cold" is the first pass of a fresh interpreter after its cold
start, caches empty; the other figures are the median of the passes after it.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import yaml
from tests.support.payloads import encode_subscription

from bench.markdown import block
from bench.throughput import ROOT, corpus_records
from trailhound.authoring.bundle import write_bundle
from trailhound.authoring.loader import load_rules
from trailhound.engine.ruleset import RuleSet
from trailhound.pipeline.subscription import MAX_DECOMPRESSED_BYTES, declared_size

INVOCATION_MAX_BYTES = 1 << 20
"""The largest asynchronous invocation Lambda accepts, so the largest subscription payload."""
ONE_VCPU_MB = 1769
"""Lambda gives a function one vCPU at 1,769 MB of memory, and a share in proportion below."""
BATCH = 100

CHILD = """
import gc, json, os, statistics, sys, time
# The function's log goes where Lambda's goes: out of the process, here into a file.
log = os.open(os.environ["BENCH_LOG"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.dup2(log, 1)
from dataclasses import dataclass
import boto3
from tests.support.aws_answers import AwsAnswers

answers = AwsAnswers()
boto3.setup_default_session()
answers.install(boto3.DEFAULT_SESSION.events)
try:
    from trailhound.lambda_function import handler
except ImportError:  # a checkout from before the lambda_function package (--baseline)
    from trailhound import handler

@dataclass
class Context:
    function_name: str = "trailhound-AlertFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:trailhound"
    aws_request_id: str = "bench"
    def get_remaining_time_in_millis(self) -> int:
        return 900_000

payloads = [json.load(open(path)) for path in sys.argv[2:]]
passes = int(sys.argv[1])
start = time.perf_counter()
handler.runtime_for(handler.load_settings())
cold_start = time.perf_counter() - start
times, alerts = [], 0
for number in range(passes + 1):
    gc.collect()
    start = time.perf_counter()
    for payload in payloads:
        result = handler.lambda_handler(payload, Context())
        alerts += result["alerts"] if number == 0 else 0
    times.append(time.perf_counter() - start)
sys.stdout.flush()
result = {"cold": times[0], "warm": statistics.median(times[1:]), "alerts": alerts,
          "calls": dict(answers.calls), "cold_start": cold_start}
with open(os.environ["BENCH_RESULT"], "w") as out:
    json.dump(result, out)
"""


def payload_files(records: list[dict[str, Any]], folder: Path, name: str) -> list[Path]:
    """The records in subscription payloads of BATCH events, written as the Lambda's events."""
    paths = []
    for index in range(0, len(records), BATCH):
        path = folder / f"{name}-{index // BATCH}.json"
        path.write_bytes(orjson.dumps(encode_subscription(records[index : index + BATCH])))
        paths.append(path)
    return paths


def worst_case(
    alerting: list[dict[str, Any]], folder: Path, invocation_bytes: int = INVOCATION_MAX_BYTES
) -> tuple[Path, int]:
    """The largest invocation the function accepts, every event alerting: the smallest alerting
    records of the corpus, again and again under fresh event ids, as many as fit in 1 MB of
    invocation (gzip compresses repeats far) and in the 32 MB of log events the function
    decodes at most."""
    smallest = sorted(alerting, key=lambda record: len(orjson.dumps(record)))[:20]

    def payload(count: int) -> dict[str, Any]:
        return encode_subscription(
            {**smallest[index % len(smallest)], "eventID": str(uuid.UUID(int=index + 1))}
            for index in range(count)
        )

    def fits(count: int) -> bool:
        event = payload(count)
        declared = declared_size(event["awslogs"]["data"]) or 0
        return len(orjson.dumps(event)) <= invocation_bytes and (declared <= MAX_DECOMPRESSED_BYTES)

    low, high = 1, 1 << 17
    while low < high:  # The most events that fit.
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    path = folder / "worst-case.json"
    path.write_bytes(orjson.dumps(payload(low)))
    return path, low


def floor(paths: list[Path], passes: int) -> float:
    """The median time to decode the payloads: base64, gzip, orjson of the envelope and lines."""
    events = [orjson.loads(path.read_bytes()) for path in paths]
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        for event in events:
            payload = orjson.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
            for log_event in payload["logEvents"]:
                orjson.loads(log_event["message"])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_child(
    paths: list[Path], passes: int, env: dict[str, str], source: Path | None = None
) -> dict[str, Any]:
    """The CHILD's figures; `source`: another checkout's `functions/` to run instead."""
    command = [sys.executable, "-c", CHILD, str(passes), *map(str, paths)]
    if source is not None:
        env = {**env, "PYTHONPATH": os.pathsep.join([str(source), str(ROOT)])}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the handler failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(Path(env["BENCH_RESULT"]).read_text())
    return result


def lambda_environment(folder: Path) -> dict[str, str]:
    """What the template and Lambda set, with `rules/` and its bundle as the rules layer."""
    bundle = folder / "rules.bundle.json"
    write_bundle(bundle, [ROOT / "rules"])
    return {
        **os.environ,
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:trailhound-AlertTopic",
        "IDEMPOTENCY_TABLE": "trailhound-IdempotencyTable",
        "RULES_PATHS": str(ROOT / "rules"),
        "RULES_BUNDLES": str(bundle),
        "POWERTOOLS_SERVICE_NAME": "trailhound",
        "POWERTOOLS_METRICS_NAMESPACE": "trailhound",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": "trailhound-AlertFunction",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
        "_X_AMZN_TRACE_ID": "Root=1-67890abc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "BENCH_LOG": str(folder / "function.log"),
        "BENCH_RESULT": str(folder / "result.json"),
    }


def template_function() -> tuple[int, int]:
    """The function's memory (MB) and timeout (s), as template.yaml sets them."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    properties = template["Resources"]["AlertFunction"]["Properties"]
    return int(properties["MemorySize"]), int(properties["Timeout"])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument(
        "--invocation-bytes",
        type=int,
        default=INVOCATION_MAX_BYTES,
        help="the largest invocation event, for the worst case (default: Lambda's 1 MB)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the functions/ folder of another checkout, whose cost per alert is measured too",
    )
    args = parser.parse_args()

    records = corpus_records(args.corpus)
    ruleset = RuleSet(load_rules([ROOT / "rules"]).rules)
    alerting = [record for record in records if ruleset.match(record).matched]
    quiet = [record for record in records if not ruleset.match(record).matched]
    memory, timeout = template_function()
    share = ONE_VCPU_MB / memory
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        env = lambda_environment(folder)
        worst, worst_events = worst_case(alerting, folder, args.invocation_bytes)
        sets = {
            "quiet: corpus events that match no rule": (
                payload_files(quiet, folder, "q"),
                len(quiet),
            ),
            "the corpus, 100 events a payload": (payload_files(records, folder, "c"), len(records)),
            "worst case: the largest invocation accepted, every event alerting": (
                [worst],
                worst_events,
            ),
        }
        results = {name: run_child(paths, args.passes, env) for name, (paths, _) in sets.items()}
        floors = {name: floor(paths, args.passes) for name, (paths, _) in sets.items()}
        baseline = {}
        if args.baseline is not None:
            quiet_paths, corpus_paths = (paths for paths, _ in list(sets.values())[:2])
            source = args.baseline.resolve()
            # In turns, so that a slow spell of the machine weighs on both alike.
            baseline = {
                "quiet": run_child(quiet_paths, args.passes, env, source),
                "now quiet": run_child(quiet_paths, args.passes, env),
                "corpus": run_child(corpus_paths, args.passes, env, source),
                "now corpus": run_child(corpus_paths, args.passes, env),
            }

    quiet_name, _, worst_name = sets
    per_quiet_event = results[quiet_name]["warm"] / sets[quiet_name][1]
    for name, (_paths, events) in sets.items():
        result = results[name]
        alerts = result["alerts"]
        warm, cold = result["warm"], result["cold"]
        per_alert = (warm - events * per_quiet_event) / alerts if alerts else None
        rows.append(
            [
                name,
                f"{events:,}",
                f"{alerts:,}",
                f"{floors[name] / events * 1e6:.1f}",
                f"{warm / events * 1e6:.1f}",
                f"{cold / events * 1e6:.1f}",
                "" if per_alert is None else f"{per_alert * 1e3:.2f}",
                f"{warm:.2f} s",
            ]
        )
    print(
        f"{len(records):,} corpus events, {len(alerting):,} of them alerting with rules/; "
        f"median of {args.passes} passes after a cold one; Python {sys.version.split()[0]}\n"
    )
    header = ["payloads", "events", "alerts", "floor, µs/event", "µs/event", "cold, µs/event"]
    print(block("handler", [*header, "ms/alert", "all payloads, one core here"], rows))
    worst_seconds = results[worst_name]["warm"]
    print(
        block(
            "worst-case",
            ["", "one core here", f"Lambda at {memory:,} MB ({share:.2f}× here)", "timeout"],
            [
                [
                    f"the largest invocation accepted, {sets[worst_name][1]:,} events, "
                    f"{results[worst_name]['alerts']:,} alerts",
                    f"{worst_seconds:.1f} s",
                    f"{worst_seconds * share:.1f} s",
                    f"{timeout} s",
                ]
            ],
        )
    )
    if baseline:
        quiet_events, corpus_events = (events for _, events in list(sets.values())[:2])

        def per_alert(quiet: dict[str, Any], corpus: dict[str, Any]) -> float:
            rest = corpus["warm"] - corpus_events * quiet["warm"] / quiet_events
            return float(rest / corpus["alerts"] * 1e3)

        before = per_alert(baseline["quiet"], baseline["corpus"])
        now = per_alert(baseline["now quiet"], baseline["now corpus"])
        print(
            f"\nms per alert on the corpus, measured in turns: {args.baseline}: {before:.2f}, "
            f"this checkout: {now:.2f} ({now / before:.2f}×)"
        )
    print("\ncalls answered per set:")
    for name, result in results.items():
        print(f"  {name}: {result['calls']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

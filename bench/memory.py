"""Peak memory on the largest subscription payload, and what a million events cost in Lambda.

Run: .venv/bin/python -m bench.memory [--corpus DIR] [--limit BYTES]

CloudWatch Logs invokes the function asynchronously with the log events gzipped and base64
encoded in `awslogs.data`, so the largest payload is the largest asynchronous invocation Lambda
accepts: 1 MB since October 2025 (256 KB before). The payload here is filled up to --limit bytes
of invocation event (default 1,048,576) with real CloudTrail events from the corpus, cycled with
fresh event ids; a 256 KB one is measured too.

Each payload goes through the handler's path in a fresh interpreter that has first done what a
cold start does (`runtime_for`: the rule pack and the SigmaHQ pack loaded, boto3's SNS and
DynamoDB clients made): decode, parse, match, build each alert and its SNS message; only the SNS
and DynamoDB calls are left out. The figures are the process's peak resident set (VmHWM, what
Lambda's "Max Memory Used" reports for the function's process), before and after the payload, and
tracemalloc's peak of Python allocations during it. As the publisher does, the alerts of a batch
are kept and their SNS messages built ten at a time.

The cost table takes times measured here on one core, on the largest payload: decoding and
matching, per event; building an alert and its SNS message, per alert (the corpus is an attack
corpus and alerts far more than an account does, so alerts are counted apart); and the fixed
time of one invocation (`lambda_handler` on one event that matches nothing). It scales them to
Lambda's CPU share, one vCPU at 1,769 MB and a share in proportion below, and rounds each
invocation up to the millisecond as Lambda bills it. The SNS and DynamoDB calls of an alert add
their network time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.payloads import encode_subscription

from bench.handler import template_function, worst_case
from bench.markdown import block
from bench.throughput import ROOT, corpus_records
from trailhound.authoring.loader import load_rules
from trailhound.engine.ruleset import RuleSet
from trailhound.pipeline.subscription import decode_subscription

RULES = (ROOT / "rules", ROOT / "packs" / "sigmahq")
MEGABYTE = 1024 * 1024
ONE_VCPU_MB = 1769
"""https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"""
# US East (N. Virginia), https://aws.amazon.com/lambda/pricing/ and
# https://aws.amazon.com/cloudwatch/pricing/ (Logs, Standard log class, data ingestion).
ARM_GB_SECOND = 0.0000133334
REQUEST = 0.20 / 1_000_000
LOGS_INGESTED_GB = 0.50
BATCH_SIZES = (100, 1)
ALERTS_PER_MILLION = 1000

CHILD = """
import gc, json, os, resource, sys, time, tracemalloc
from dataclasses import dataclass
from trailhound.lambda_function import handler
from trailhound.alerts.build import build_alert
from trailhound.delivery.notifications import build_notification
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.records import SourceRecord
from trailhound.pipeline.subscription import decode_subscription

@dataclass
class Context:
    function_name: str = "trailhound-AlertFunction"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:trailhound"
    aws_request_id: str = "bench"
    def get_remaining_time_in_millis(self) -> int:
        return 60_000

def kilobytes():
    # VmHWM, the peak resident set of this process image; ru_maxrss would carry the parent's
    # peak across fork and exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def run(event):
    batch = decode_subscription(event)
    alerts = list(detect(batch.items, runtime.ruleset, DetectionSummary()))
    # The publisher builds the SNS messages ten alerts at a time (one PublishBatch call).
    for start in range(0, len(alerts), 10):
        messages = [build_notification(alert) for alert in alerts[start : start + 10]]
    return len(batch.items), len(alerts)

def matches(event):
    batch = decode_subscription(event)
    records = [item.record for item in batch.items if type(item) is SourceRecord]
    return [(compiled.rule, record) for record in records
            for compiled in runtime.ruleset.match(record).matched]

def build(pairs):
    for rule, record in pairs:
        build_notification(build_alert(rule, record))

def best(call, times=3):
    fastest = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        call()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest

runtime = handler.runtime_for(handler.load_settings())
gc.collect()
cold = kilobytes()
payload, quiet_event = (json.load(open(path)) for path in sys.argv[1:3])
events, alerts = run(payload)
peak = kilobytes()
# Traced after the peak is read: tracemalloc's own bookkeeping takes memory too.
tracemalloc.start()
run(payload)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
pairs = matches(payload)
matching = best(lambda: matches(payload))
alerting = best(lambda: build(pairs))
stdout, sys.stdout = sys.stdout, open(os.devnull, "w")
invocation = best(lambda: handler.lambda_handler(quiet_event, Context()), 20)
sys.stdout = stdout
print(json.dumps({"events": events, "alerts": alerts, "cold_kb": cold, "peak_kb": peak,
                  "traced": traced, "matching": matching, "alerting": alerting,
                  "invocation": invocation}))
"""


def fill(records: list[dict[str, Any]], limit: int) -> tuple[dict[str, Any], int, int]:
    """The largest payload of cycled corpus events whose invocation event fits in `limit` bytes."""

    def payload(count: int) -> dict[str, Any]:
        events = []
        for index in range(count):
            record = dict(records[index % len(records)])
            record["eventID"] = f"{record.get('eventID')}-{index // len(records)}"
            events.append(record)
        return encode_subscription(events)

    low, high = 1, 1
    while len(json.dumps(payload(high))) <= limit:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if len(json.dumps(payload(middle))) <= limit:
            low = middle
        else:
            high = middle
    raw = sum(
        len(json.dumps(records[index % len(records)], separators=(",", ":")))
        for index in range(low)
    )
    return payload(low), low, raw


def measure(payloads: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    files = []
    for index, payload in enumerate(payloads):
        path = folder / f"payload_{index}.json"
        path.write_text(json.dumps(payload))
        files.append(str(path))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "functions"),
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:trailhound-alerts",
        "IDEMPOTENCY_TABLE": "trailhound-ledger",
        "RULES_PATHS": ",".join(str(path) for path in RULES),
        "POWERTOOLS_SERVICE_NAME": "trailhound",
        "POWERTOOLS_METRICS_NAMESPACE": "trailhound",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *files], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"the handler's path failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--limit", type=int, default=MEGABYTE)
    args = parser.parse_args()

    records = corpus_records(args.corpus)
    average = sum(len(json.dumps(r, separators=(",", ":"))) for r in records) / len(records)
    ruleset = RuleSet(load_rules(RULES).rules)
    quiet = [record for record in records if not ruleset.match(record).matched]
    if not quiet:
        raise SystemExit("every event of the corpus matches a rule: none to time the quiet path")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        single = encode_subscription(quiet[:1])
        for limit in sorted({args.limit, min(args.limit, 256 * 1024)}):
            payload, count, raw = fill(records, limit)
            result = measure([payload, single], Path(folder))
            rows.append((f"{limit / 1024:,.0f} KB", count, raw, result))
        # The worst case of bench/handler.py: the largest invocation accepted, every event
        # alerting, of the smallest alerting events, which gzip packs tightly.
        alerting = [record for record in records if ruleset.match(record).matched]
        worst, _ = worst_case(alerting, Path(folder))
        payload = json.loads(worst.read_text())
        events = decode_subscription(payload).items
        raw = sum(len(json.dumps(item.record, separators=(",", ":"))) for item in events)  # type: ignore[union-attr]
        result = measure([payload, single], Path(folder))
        rows.append(("1,024 KB, largest accepted", len(events), raw, result))

    print(f"Python {sys.version.split()[0]}; rules: rules/ and packs/sigmahq\n")
    table = [
        [
            label,
            f"{count:,}",
            f"{raw / MEGABYTE:.1f} MB",
            f"{result['alerts']:,}",
            f"{result['cold_kb'] / 1024:.0f} MB",
            f"{result['peak_kb'] / 1024:.0f} MB",
            f"{result['traced'] / MEGABYTE:.0f} MB",
        ]
        for label, count, raw, result in rows
    ]
    header = ["invocation event", "events", "CloudTrail JSON", "alerts"]
    header += ["resident after cold start", "peak resident", "peak Python heap during the payload"]
    print(block("memory", header, table))

    largest = rows[-2][3]
    per_event = largest["matching"] / largest["events"]
    per_alert = largest["alerting"] / largest["alerts"]
    invocation = max(largest["invocation"] - per_event, 0.0)
    memory_mb, _timeout = template_function()
    slowdown = ONE_VCPU_MB / memory_mb
    print(
        f"\non one core here: {per_event * 1e6:.1f} us per event to decode and match, "
        f"{per_alert * 1e3:.2f} ms per alert, {invocation * 1e3:.2f} ms per invocation; "
        f"Lambda at {memory_mb} MB has {memory_mb}/{ONE_VCPU_MB} of a vCPU: {slowdown:.1f}x longer"
    )
    print(
        f"\na million CloudTrail events of {average:,.0f} bytes on average, "
        f"{ALERTS_PER_MILLION:,} of them alerting, arm64 at {memory_mb} MB:\n"
    )
    costs = []
    for batch in BATCH_SIZES:
        invocations = 1_000_000 / batch
        alerts = ALERTS_PER_MILLION / invocations
        seconds = (batch * per_event + alerts * per_alert + invocation) * slowdown
        billed_ms = math.ceil(seconds * 1e3)
        gb_seconds = invocations * billed_ms / 1e3 * memory_mb / 1024
        cost = gb_seconds * ARM_GB_SECOND + invocations * REQUEST
        each = "event" if batch == 1 else "events"
        costs.append(
            [
                f"Lambda, {batch} {each} per invocation",
                f"{invocations:,.0f}",
                f"{billed_ms:.0f} ms",
                f"{gb_seconds:,.0f}",
                f"${cost:.3f}",
            ]
        )
    ingested = 1_000_000 * average / 1e9 * LOGS_INGESTED_GB
    costs.append(
        [
            "CloudWatch Logs ingestion of the same events "
            f"({average:,.0f} bytes on average in the corpus)",
            "",
            "",
            "",
            f"${ingested:.2f}",
        ]
    )
    print(block("cost", ["", "invocations", "billed each", "GB-seconds", "cost"], costs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

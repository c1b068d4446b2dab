"""Regenerate the files in events/ that are built from the sample CloudTrail events.

Run `.venv/bin/python -m tools.build.sample_events` after adding or editing a file in events/cloudtrail/, and
commit the result; `--check` only reports stale files and exits 1 if there are any.

`subscription/corpus-batch.json` is built from real records of the corpus in
`tests/data/corpus/`.

The output depends only on the sample events (records sorted by eventTime, log event ids counted
from a fixed start, timestamps taken from eventTime, gzip mtime 0), so a rebuild never drifts. A
file is rewritten only when its decoded content changed: zlib builds may compress the same bytes
differently, and that alone should not show up as a diff.
"""

from __future__ import annotations

import base64
import gzip
import sys
from pathlib import Path
from typing import Any

import orjson

from trailhound.pipeline.subscription import CONTROL_MESSAGE
from tests.support.payloads import encode_payload, encode_subscription

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLOUDTRAIL = EVENTS / "cloudtrail"
LOG_FILE = CLOUDTRAIL / "sample-log-file.json.gz"
BATCH = EVENTS / "subscription" / "cloudtrail-batch.json"
CONTROL = EVENTS / "subscription" / "control-message.json"
MIXED = EVENTS / "edge-cases" / "mixed-batch.json"
OVERSIZED = EVENTS / "edge-cases" / "oversized-event.json"
MISSING_IDENTITY = EVENTS / "edge-cases" / "missing-identity.json"
CORPUS_BATCH = EVENTS / "subscription" / "corpus-batch.json"
STRATUS_RED_TEAM = EVENTS.parent / "tests" / "data" / "corpus" / "stratus-red-team.jsonl"

# Stratus Red Team detonations whose CloudTrail records make `CORPUS_BATCH`: an attacker blinds
# the trail and the flow logs, shares a snapshot out, and leaves users, keys and tokens behind.
# Every record each one logged is kept, the calls no rule fires on included.
CORPUS_TECHNIQUES = (
    "aws.defense-evasion.cloudtrail-event-selectors",
    "aws.defense-evasion.cloudtrail-stop",
    "aws.defense-evasion.vpc-remove-flow-logs",
    "aws.exfiltration.ec2-share-ebs-snapshot",
    "aws.persistence.iam-create-admin-user",
    "aws.persistence.iam-create-user-login-profile",
    "aws.persistence.sts-federation-token",
)

# Log lines that are not CloudTrail records, as a misconfigured subscription or a truncated
# write would deliver them; each must be reported and the records around them still matched.
GARBAGE_LINES = (
    "not JSON at all",
    '{"eventName": "TerminateInstances", "eventSource": "ec2.amazon',
    "[1, 2, 3]",
    '{"level": "info", "msg": "application log line in the trail\'s log group"}',
)
OVERSIZED_INSTANCES = 1000

# What CloudWatch Logs sends when a subscription is created, to check that the destination works.
CONTROL_PAYLOAD = {
    "messageType": CONTROL_MESSAGE,
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": 1715674800000,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ],
}


def sample_records() -> list[dict[str, Any]]:
    """The sample events in the order CloudTrail would have logged them."""
    records = [orjson.loads(path.read_bytes()) for path in sorted(CLOUDTRAIL.glob("*.json"))]
    return sorted(records, key=lambda record: str(record["eventTime"]))


def build() -> dict[Path, bytes]:
    """The generated files and their bytes."""
    records = sample_records()
    return {
        LOG_FILE: gzip.compress(orjson.dumps({"Records": records}), mtime=0),
        BATCH: _json_file(encode_subscription(records)),
        CONTROL: _json_file(encode_payload(CONTROL_PAYLOAD)),
        MIXED: _json_file(mixed_payload()),
        OVERSIZED: _json_file(encode_subscription([oversized_record()])),
        MISSING_IDENTITY: _json_file(encode_subscription(missing_identity_records())),
    }


def corpus_records() -> list[dict[str, Any]]:
    """The records `CORPUS_TECHNIQUES` logged, unchanged, in eventTime order."""
    records = []
    for line in STRATUS_RED_TEAM.read_bytes().splitlines():
        item = orjson.loads(line) if line.strip() else {}
        if item.get("technique") in CORPUS_TECHNIQUES:
            records.append(item["event"])
    return sorted(records, key=lambda record: str(record["eventTime"]))


def build_corpus() -> dict[Path, bytes]:
    """The file built from the corpus."""
    return {CORPUS_BATCH: _json_file(encode_subscription(corpus_records()))}


def sample(name: str) -> dict[str, Any]:
    """One sample event from cloudtrail/, by file stem."""
    record: dict[str, Any] = orjson.loads((CLOUDTRAIL / f"{name}.json").read_bytes())
    return record


def mixed_payload() -> dict[str, Any]:
    """Two records with `GARBAGE_LINES` between them, in one DATA_MESSAGE."""
    good = encode_subscription([sample("s3_delete_bucket"), sample("ec2_terminate_instances")])
    payload = orjson.loads(gzip.decompress(base64.b64decode(good["awslogs"]["data"])))
    first, last = payload["logEvents"]
    garbage = [
        {"id": str(int(first["id"]) + index), "timestamp": first["timestamp"], "message": line}
        for index, line in enumerate(GARBAGE_LINES, 1)
    ]
    last["id"] = str(int(first["id"]) + len(garbage) + 1)
    payload["logEvents"] = [first, *garbage, last]
    return encode_payload(payload)


def oversized_record() -> dict[str, Any]:
    """TerminateInstances of 1,000 instances: about 170 KB, under CloudWatch Logs' 256 KB cap."""
    record = sample("ec2_terminate_instances")
    ids = [f"i-{number:017x}" for number in range(OVERSIZED_INSTANCES)]
    record["requestParameters"] = {"instancesSet": {"items": [{"instanceId": i} for i in ids]}}
    states = {"currentState": {"code": 32, "name": "shutting-down"}}
    states["previousState"] = {"code": 16, "name": "running"}
    record["responseElements"]["instancesSet"]["items"] = [
        {"instanceId": instance_id, **states} for instance_id in ids
    ]
    record["eventID"] = "7d3b1c56-0c2e-4f8a-9a51-3c1f0e6b2a10"
    return record


def missing_identity_records() -> list[dict[str, Any]]:
    """A bucket deleted by a record without userIdentity, instances terminated without an IP."""
    no_identity = sample("s3_delete_bucket")
    del no_identity["userIdentity"]
    no_identity["eventID"] = "0b6f4a1e-5d7c-4e2b-8f3a-6c9d1e2f3a4b"
    no_address = sample("ec2_terminate_instances")
    del no_address["sourceIPAddress"]
    no_address["eventID"] = "e2c4a6b8-1d3f-4a5b-9c7e-0f2a4b6c8d1e"
    return [no_identity, no_address]


def decoded(path: Path, data: bytes) -> bytes:
    """What a generated file holds once its gzip layer is undone, for comparing rebuilds."""
    if path.suffix == ".gz":
        return gzip.decompress(data)
    event = orjson.loads(data)
    return gzip.decompress(base64.b64decode(event["awslogs"]["data"]))


def main(argv: list[str]) -> int:
    """Write the generated files whose content changed; with --check, only list them."""
    check = "--check" in argv
    stale = {
        path: data
        for path, data in {**build(), **build_corpus()}.items()
        if not path.exists() or decoded(path, path.read_bytes()) != decoded(path, data)
    }
    for path, data in stale.items():
        print(f"{'stale' if check else 'wrote'}: {path.relative_to(EVENTS.parent)}")
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return 1 if check and stale else 0


def _json_file(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

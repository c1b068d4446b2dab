"""Regenerate the files in events/ that are built from the sample CloudTrail events.

Run `.venv/bin/python events/build.py` after adding or editing a file in events/cloudtrail/, and
commit the result; `--check` only reports stale files and exits 1 if there are any.

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

from trailhound.sources import CONTROL_MESSAGE, encode_payload, encode_subscription

EVENTS = Path(__file__).resolve().parent
CLOUDTRAIL = EVENTS / "cloudtrail"
LOG_FILE = CLOUDTRAIL / "sample-log-file.json.gz"
BATCH = EVENTS / "subscription" / "cloudtrail-batch.json"
CONTROL = EVENTS / "subscription" / "control-message.json"

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
    }


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
        for path, data in build().items()
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

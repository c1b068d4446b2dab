"""CloudWatch Logs subscription payloads made from CloudTrail records, as CloudWatch Logs makes
them: log events of JSON messages, gzipped, base64-encoded, under `awslogs.data`.

For tests, benchmarks and the sample events; the function only ever decodes them.
"""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from trailhound.pipeline.subscription import DATA_MESSAGE

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
# A realistic 56-digit CloudWatch Logs event id; ids in an encoded batch count up from it.
_FIRST_EVENT_ID = 36690253058932233582162273576985234625775848062548869120


def encode_subscription(
    records: Iterable[Mapping[str, Any]],
    *,
    owner: str = "123456789012",
    log_group: str = "aws-cloudtrail-logs",
    log_stream: str = "123456789012_CloudTrail_us-east-1",
    message_type: str = DATA_MESSAGE,
    filters: Sequence[str] = ("trailhound",),
    start_id: int = _FIRST_EVENT_ID,
) -> dict[str, Any]:
    """Build the Lambda event CloudWatch Logs would deliver for these records (tests, samples)."""
    log_events = [
        {
            "id": str(start_id + index),
            "timestamp": _timestamp_ms(record),
            "message": orjson.dumps(dict(record)).decode(),
        }
        for index, record in enumerate(records)
    ]
    return encode_payload(
        {
            "messageType": message_type,
            "owner": owner,
            "logGroup": log_group,
            "logStream": log_stream,
            "subscriptionFilters": list(filters),
            "logEvents": log_events,
        }
    )


def encode_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a decoded subscription payload as Lambda receives it: gzip, base64, under awslogs."""
    # mtime=0 keeps the bytes reproducible, so generated sample events do not drift.
    compressed = gzip.compress(orjson.dumps(dict(payload)), mtime=0)
    return {"awslogs": {"data": base64.b64encode(compressed).decode("ascii")}}


def _timestamp_ms(record: Mapping[str, Any]) -> int:
    event_time = record.get("eventTime")
    if isinstance(event_time, str):
        try:
            moment = datetime.fromisoformat(event_time)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - _EPOCH) // _MILLISECOND
    # CloudWatch Logs would stamp the ingestion time.
    return time.time_ns() // 1_000_000

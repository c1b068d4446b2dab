"""A batch too big for the time left: the function publishes what fits, records it, and fails,
and Lambda's retry publishes only the rest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.lambda_stack import (
    EVENTS,
    AlertStack,
    InvokeWith,
    LambdaContext,
    logs,
    metric_totals,
)
from tests.support.payloads import encode_subscription
from trailhound.delivery.publisher import CLAIMS_PER_ROUND, DeliveryError

pytestmark = pytest.mark.integration

ALERTS = 2 * CLAIMS_PER_ROUND + 50


@dataclass
class NearingDeadline(LambdaContext):
    """Lambda's context as an invocation's deadline nears: time enough for the first `plenty`
    reads, then a second left."""

    plenty: int = 2
    reads: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.reads += 1
        return 60_000 if self.reads <= self.plenty else 1_000


def deleted_buckets(count: int) -> dict[str, Any]:
    """One payload of `count` DeleteBucket records, each its own alert."""
    record = json.loads((EVENTS / "cloudtrail" / "s3_delete_bucket.json").read_bytes())
    records = [
        {**record, "eventID": f"00000000-0000-4000-8000-{index:012d}"} for index in range(count)
    ]
    return encode_subscription(records)


def event_ids(notifications: list[dict[str, Any]]) -> list[str]:
    return [
        json.loads(notification["Message"].split("\n\nEvent excerpt:\n")[1])["eventID"]
        for notification in notifications
    ]


def test_near_its_deadline_the_function_publishes_what_fits_and_the_retry_the_rest(
    invoke_with: InvokeWith, alert_stack: AlertStack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = deleted_buckets(ALERTS)

    with pytest.raises(DeliveryError, match="not published"):
        invoke_with(event, NearingDeadline())

    first = event_ids(alert_stack.delivered())
    output = capsys.readouterr().out
    assert len(first) == len(set(first)) == CLAIMS_PER_ROUND
    assert metric_totals(output)["AlertsDeferred"] == ALERTS - CLAIMS_PER_ROUND
    (warning,) = logs(
        output,
        "the invocation's time ran short: alerts left for Lambda's retry, which publishes only "
        "what this invocation did not",
    )
    assert warning["alerts"] == ALERTS - CLAIMS_PER_ROUND
    assert not logs(output, "alert not published")  # Left for the retry is not a failure.

    result = invoke_with(event, LambdaContext())

    rest = event_ids(alert_stack.delivered())
    assert result["published"] == ALERTS - CLAIMS_PER_ROUND
    assert result["alreadyDelivered"] == CLAIMS_PER_ROUND
    assert sorted(first + rest) == sorted(set(first + rest)) and len(first + rest) == ALERTS

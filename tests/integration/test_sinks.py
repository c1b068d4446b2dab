"""The SNS publisher and the delivery ledger in moto: batching, retries, at most once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.models import botocore_stubber

from tests.support.lambda_stack import REGION, TABLE, AlertStack, sample_record
from trailhound.alerts.build import build_alert
from trailhound.alerts.model import Alert
from trailhound.aws import RETRY_ATTEMPTS, retry_config
from trailhound.delivery.ledger import AlertLedger, Claim
from trailhound.delivery.notifications import SNS_MAX_BYTES
from trailhound.delivery.publisher import DeliveryError, SnsPublisher
from trailhound.engine.rule import Rule, Severity

pytestmark = pytest.mark.integration

Answer = Callable[[AWSPreparedRequest], AWSResponse]
XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"


def make_alert(
    event_id: str | None = "e-1", runbook: str | None = "1. Check.", **record: Any
) -> Alert:
    rule = Rule(
        rule_id="s3_bucket_deleted",
        path=Path("rules/s3/s3_bucket_deleted.yml"),
        title="S3 bucket deleted",
        severity=Severity.HIGH,
        runbook=runbook,
    )
    event = {**sample_record("s3_delete_bucket"), "eventID": event_id, **record}
    if event_id is None:
        del event["eventID"]
    return build_alert(rule, event)


class Body:
    """A urllib3-like raw body, as botocore reads responses."""

    def __init__(self, body: str) -> None:
        self._body = body.encode()

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class SnsEndpoint:
    """SNS as a client sees it: `answers` for the first PublishBatch calls, then moto.

    Installed in place of moto's hook on one client, so a call answered here is never also
    carried out by moto, just as a throttled call is not carried out by SNS.
    """

    def __init__(self, client: Any, answers: list[Answer]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register("before-send", self)

    def __call__(
        self, event_name: str, request: AWSPreparedRequest, **kwargs: Any
    ) -> AWSResponse | None:
        if event_name == "before-send.sns.PublishBatch":
            self.calls.append(entry_ids(request))
            if self.answers:
                return self.answers.pop(0)(request)
        response: AWSResponse | None = botocore_stubber(
            event_name=event_name, request=request, **kwargs
        )
        return response


def entry_ids(request: AWSPreparedRequest) -> list[str]:
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    form = parse_qs(body)
    return [
        values[0]
        for name, values in sorted(form.items(), key=lambda item: item[0])
        if name.startswith("PublishBatchRequestEntries.member.") and name.endswith(".Id")
    ]


def throttled(request: AWSPreparedRequest) -> AWSResponse:
    body = (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>Throttled</Code>'
        "<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )
    return AWSResponse(request.url, 429, {"Content-Type": "text/xml"}, Body(body))


def entries_failed(sender_fault: bool) -> Answer:
    """A PublishBatch answer in which every entry failed."""

    def answer(request: AWSPreparedRequest) -> AWSResponse:
        members = "".join(
            f"<member><Id>{entry_id}</Id><Code>InternalError</Code>"
            f"<Message>try again</Message><SenderFault>{str(sender_fault).lower()}</SenderFault>"
            "</member>"
            for entry_id in entry_ids(request)
        )
        body = (
            f'<PublishBatchResponse xmlns="{XMLNS}"><PublishBatchResult><Successful/>'
            f"<Failed>{members}</Failed></PublishBatchResult>"
            "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>"
        )
        return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, Body(body))

    return answer


@pytest.fixture
def sns_client(alert_stack: AlertStack) -> Any:
    """A client of its own, with trailhound's retry configuration."""
    return boto3.client(
        "sns",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=retry_config(),
    )


@pytest.fixture
def ledger(alert_stack: AlertStack) -> AlertLedger:
    return AlertLedger(TABLE, 3600, alert_stack.dynamodb)


def publisher(client: Any, stack: AlertStack, ledger: AlertLedger | None = None) -> SnsPublisher:
    return SnsPublisher(client, stack.topic_arn, ledger=ledger, sleep=lambda _: None)


def test_alerts_are_published_ten_per_call(sns_client: Any, alert_stack: AlertStack) -> None:
    endpoint = SnsEndpoint(sns_client, [])
    alerts = [make_alert(f"e-{number}") for number in range(25)]

    report = publisher(sns_client, alert_stack).publish(alerts)

    assert [len(call) for call in endpoint.calls] == [10, 10, 5]
    assert len(report.published) == 25
    assert len(alert_stack.delivered()) == 25


def test_large_alerts_are_packed_within_the_size_limit_of_one_call(
    sns_client: Any, alert_stack: AlertStack
) -> None:
    endpoint = SnsEndpoint(sns_client, [])
    # About 100 KB of message each: the runbook is in the e-mail text.
    alerts = [make_alert(f"e-{n}", runbook=f"{n}. " + "Step. " * 17000) for n in range(5)]

    report = publisher(sns_client, alert_stack).publish(alerts)

    assert [len(call) for call in endpoint.calls] == [2, 2, 1]
    assert len(report.published) == 5 and report.shortened == 0
    assert len(alert_stack.delivered()) == 5
    assert all(len(message["default"]) < SNS_MAX_BYTES / 2 for message in alert_stack.published())


def test_a_throttled_call_is_retried_by_botocore_and_published_once(
    sns_client: Any, alert_stack: AlertStack
) -> None:
    endpoint = SnsEndpoint(sns_client, [throttled])

    report = publisher(sns_client, alert_stack).publish([make_alert()])

    assert len(endpoint.calls) == 2
    assert len(report.published) == 1
    assert len(alert_stack.delivered()) == 1


def test_entries_sns_failed_are_retried_and_published_once(
    sns_client: Any, alert_stack: AlertStack
) -> None:
    endpoint = SnsEndpoint(sns_client, [entries_failed(sender_fault=False)])
    alerts = [make_alert("e-1"), make_alert("e-2")]

    report = publisher(sns_client, alert_stack).publish(alerts)

    assert endpoint.calls == [["0", "1"], ["0", "1"]]
    assert report.published == alerts
    assert len(alert_stack.delivered()) == 2


def test_entries_rejected_for_the_senders_fault_fail_without_a_retry(
    sns_client: Any, alert_stack: AlertStack
) -> None:
    endpoint = SnsEndpoint(sns_client, [entries_failed(sender_fault=True)])

    with pytest.raises(DeliveryError, match="1 alerts not published") as raised:
        publisher(sns_client, alert_stack).publish([make_alert()])

    assert len(endpoint.calls) == 1
    assert raised.value.report.failed[0].reason == "InternalError: try again"
    assert alert_stack.delivered() == []


def test_entries_failing_every_time_fail_after_three_attempts_and_are_released(
    sns_client: Any, alert_stack: AlertStack, ledger: AlertLedger
) -> None:
    endpoint = SnsEndpoint(sns_client, [entries_failed(sender_fault=False)] * 3)
    alert = make_alert()

    with pytest.raises(DeliveryError):
        publisher(sns_client, alert_stack, ledger).publish([alert])

    assert len(endpoint.calls) == 3
    assert alert_stack.delivered() == []
    assert ledger.claim(alert, 60_000) is Claim.NEW


def test_a_delivered_alert_is_skipped_by_every_later_publish(
    sns_client: Any, alert_stack: AlertStack, ledger: AlertLedger
) -> None:
    sns = publisher(sns_client, alert_stack, ledger)
    sns.publish([make_alert("e-1")])

    report = sns.publish([make_alert("e-1"), make_alert("e-2")])

    assert [alert.event_id for alert in report.already_delivered] == ["e-1"]
    assert [alert.event_id for alert in report.published] == ["e-2"]
    assert len(alert_stack.delivered()) == 2


def test_the_same_alert_twice_in_one_publish_goes_once(
    sns_client: Any, alert_stack: AlertStack
) -> None:
    report = publisher(sns_client, alert_stack).publish([make_alert(), make_alert()])

    assert len(report.published) == 1 and len(report.already_delivered) == 1
    assert len(alert_stack.delivered()) == 1


def test_an_alert_being_published_by_another_invocation_fails_this_one(
    sns_client: Any, alert_stack: AlertStack, ledger: AlertLedger
) -> None:
    alert = make_alert()
    assert ledger.claim(alert, 60_000) is Claim.NEW

    with pytest.raises(DeliveryError, match="another invocation is publishing it"):
        publisher(sns_client, alert_stack, ledger).publish([alert])

    assert alert_stack.delivered() == []


def test_the_claim_of_an_invocation_that_timed_out_lapses_with_its_deadline(
    ledger: AlertLedger,
) -> None:
    alert = make_alert()
    # Its deadline had passed: as if Lambda stopped it between claiming and publishing.
    assert ledger.claim(alert, -1_000) is Claim.NEW

    assert ledger.claim(alert, 60_000) is Claim.NEW
    assert ledger.claim(alert, 60_000) is Claim.IN_PROGRESS


def test_a_publish_that_fails_releases_its_claims(
    sns_client: Any, alert_stack: AlertStack, ledger: AlertLedger
) -> None:
    alert_stack.sns.delete_topic(TopicArn=alert_stack.topic_arn)

    with pytest.raises(DeliveryError, match="NotFound"):
        publisher(sns_client, alert_stack, ledger).publish([make_alert()])

    assert ledger.claim(make_alert(), 60_000) is Claim.NEW


def test_alerts_without_an_event_id_are_told_apart_by_their_content(
    sns_client: Any, alert_stack: AlertStack, ledger: AlertLedger
) -> None:
    sns = publisher(sns_client, alert_stack, ledger)
    first = make_alert(None, sourceIPAddress="203.0.113.1")
    second = make_alert(None, sourceIPAddress="203.0.113.2")

    sns.publish([first, second])
    again = sns.publish([first])

    assert len(alert_stack.delivered()) == 2
    assert again.already_delivered == [first]


def test_delivery_records_expire_after_the_ttl(
    sns_client: Any, alert_stack: AlertStack, ledger: AlertLedger
) -> None:
    publisher(sns_client, alert_stack, ledger).publish([make_alert()])

    (item,) = alert_stack.dynamodb.scan(TableName=TABLE)["Items"]
    assert item["status"]["S"] == "COMPLETED"
    assert item["id"]["S"].startswith("trailhound.alert#")
    assert abs(int(item["expiration"]["N"]) - (time.time() + 3600)) < 300


def unavailable_dynamodb(operation: str) -> tuple[AlertLedger, dict[str, int]]:
    """A ledger whose DynamoDB fails `operation` on every attempt of botocore's first call
    (the first and its `max_attempts` retries), then answers through moto."""
    dynamodb = boto3.client(
        "dynamodb",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=retry_config(),
    )
    failures = {"left": RETRY_ATTEMPTS + 1}

    def unavailable(event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
        if event_name == f"before-send.dynamodb.{operation}" and failures["left"]:
            failures["left"] -= 1
            body = '{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}'
            return AWSResponse(request.url, 500, {"Content-Type": "application/json"}, Body(body))
        return botocore_stubber(event_name=event_name, request=request, **kwargs)

    # In place of moto's hook, so that a failed call is not also carried out by moto.
    dynamodb.meta.events.unregister("before-send", botocore_stubber)
    dynamodb.meta.events.register("before-send", unavailable)
    return AlertLedger(TABLE, 3600, dynamodb), failures


@pytest.mark.parametrize(
    "operation",
    [pytest.param("TransactWriteItems", id="claim"), pytest.param("BatchWriteItem", id="record")],
)
def test_the_ledger_is_tried_again_after_botocore_gives_up(
    sns_client: Any, alert_stack: AlertStack, operation: str
) -> None:
    ledger, failures = unavailable_dynamodb(operation)
    sns = publisher(sns_client, alert_stack, ledger)

    report = sns.publish([make_alert("e-1")])

    assert failures["left"] == 0
    assert not report.unrecorded and not report.failed
    assert len(report.published) == 1
    assert sns.publish([make_alert("e-1")]).already_delivered
    assert len(alert_stack.delivered()) == 1

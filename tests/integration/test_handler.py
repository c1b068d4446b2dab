"""The alert Lambda end to end in moto: real subscription payloads in, SNS messages out."""

from __future__ import annotations

import base64
import functools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.lambda_stack import (
    REPO,
    RULES,
    AlertStack,
    Invoke,
    logs,
    metric_totals,
    read_event,
    sample_record,
)
from tests.support.payloads import encode_subscription
from trailhound.alerts.model import Alert
from trailhound.authoring.loader import load_rules
from trailhound.delivery.chat import render_chat
from trailhound.delivery.email import render_subject, render_text
from trailhound.delivery.publisher import DeliveryError
from trailhound.engine.ruleset import RuleSet
from trailhound.errors import NoRulesError, PayloadError, SettingsError
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.subscription import decode_subscription

pytestmark = pytest.mark.integration

BROKEN_RULE = REPO / "tests" / "unit" / "broken_rules" / "condition_syntax.yml"
SNS_MAX_BYTES = 262_144
SAMPLE_BATCH = "subscription/cloudtrail-batch.json"
CORPUS_BATCH = "subscription/corpus-batch.json"


@functools.cache
def ruleset(rules: Path) -> RuleSet:
    return RuleSet(load_rules([rules]).rules)


def expected_alerts(event: dict[str, Any], rules: Path) -> dict[tuple[str, str], Alert]:
    """What `trailhound replay` makes of the same payload with the same rules, by key."""
    alerts = detect(decode_subscription(event).items, ruleset(rules), DetectionSummary())
    return {(alert.rule_id, str(alert.event_id)): alert for alert in alerts}


def attributes(notification: dict[str, Any]) -> dict[str, str]:
    return {name: value["Value"] for name, value in notification["MessageAttributes"].items()}


def key(notification: dict[str, Any]) -> tuple[str, str]:
    """The rule id (an attribute) and event id (in the excerpt) of a delivered e-mail."""
    excerpt = notification["Message"].split("\n\nEvent excerpt:\n")[1]
    return attributes(notification)["rule_id"], json.loads(excerpt)["eventID"]


def rule_ids(notifications: list[dict[str, Any]]) -> list[str]:
    return sorted(attributes(notification)["rule_id"] for notification in notifications)


def labelled(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_sample_batch_alerts_arrive_by_email_with_subject_and_attributes(
    invoke: Invoke, alert_stack: AlertStack, task_root: Path
) -> None:
    event = read_event(SAMPLE_BATCH)
    expected = expected_alerts(event, task_root / "rules")

    result = invoke(event)

    notifications = alert_stack.delivered()
    assert result["published"] == len(notifications) == len(expected) == 4
    assert sorted(map(key, notifications)) == sorted(expected)
    for notification in notifications:
        alert = expected[key(notification)]
        assert notification["Type"] == "Notification"
        assert notification["TopicArn"] == alert_stack.topic_arn
        assert notification["Message"] == render_text(alert)
        assert notification["Subject"] == render_subject(alert)
        assert attributes(notification) == {
            "severity": alert.severity.value,
            "rule_id": alert.rule_id,
            "account_id": "123456789012",
            "region": "us-east-1",
            "event_name": str(alert.what.event_name),
        }


def test_root_sign_in_email_says_who_what_when_where(
    invoke: Invoke, alert_stack: AlertStack
) -> None:
    invoke(encode_subscription([sample_record("signin_root_console_login_success")]))

    (notification,) = alert_stack.delivered()
    assert notification["Subject"] == "[CRITICAL] Root console sign-in (Success) from 203.0.113.87"
    fields = labelled(notification["Message"])
    assert fields["Severity"] == "CRITICAL"
    assert fields["Who"] == "root (Root)"
    assert fields["MFA"] == "no"
    assert fields["What"] == "signin:ConsoleLogin"
    assert fields["When"] == "2024-05-14 08:04:02 UTC"
    assert fields["Where"] == "account 123456789012 · us-east-1"
    assert "\n\nRunbook:\n1. Call the root account's owner" in notification["Message"]
    assert attributes(notification)["severity"] == "critical"


def test_chat_subscribers_get_the_chatbot_custom_notification(
    invoke: Invoke, alert_stack: AlertStack, task_root: Path
) -> None:
    event = read_event(SAMPLE_BATCH)
    expected = expected_alerts(event, task_root / "rules")

    invoke(event)

    published = alert_stack.published()
    assert len(published) == len(expected)
    for message in published:
        assert set(message) == {"default", "https"}
        chat = json.loads(message["https"])
        context = chat["metadata"]["additionalContext"]
        alert = expected[(context["rule_id"], context["event_id"])]
        assert chat == render_chat(alert)
        assert chat["version"] == "1.0" and chat["source"] == "custom"
        assert chat["content"]["textType"] == "client-markdown"


def test_the_rules_the_package_ships_alert_as_replay_says(
    invoke: Invoke, alert_stack: AlertStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(REPO))
    event = read_event(SAMPLE_BATCH)

    invoke(event)

    assert sorted(map(key, alert_stack.delivered())) == sorted(expected_alerts(event, RULES))


def test_real_corpus_events_alert_as_replay_says(
    invoke: Invoke, alert_stack: AlertStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(REPO))
    # Stratus Red Team's CloudTrail records: calls several rules fire on, and calls none does.
    event = read_event(CORPUS_BATCH)
    log_events = decode_subscription(event).items
    expected = expected_alerts(event, RULES)

    result = invoke(event)

    assert result["events"] == len(log_events)
    assert sorted(map(key, alert_stack.delivered())) == sorted(expected)
    assert len({rule_id for rule_id, _ in expected}) >= 5
    assert len({event_id for _, event_id in expected}) < len(log_events)


def test_control_message_is_acknowledged_and_publishes_nothing(
    invoke: Invoke, alert_stack: AlertStack, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(read_event("subscription/control-message.json"))

    assert result == {"messageType": "CONTROL_MESSAGE", "events": 0, "alerts": 0}
    assert alert_stack.delivered() == []
    output = capsys.readouterr().out
    assert logs(output, "CloudWatch Logs control message acknowledged")
    assert metric_totals(output)["ControlMessages"] == 1


def test_garbage_lines_are_counted_and_the_records_around_them_alert(
    invoke: Invoke, alert_stack: AlertStack, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(read_event("edge-cases/mixed-batch.json"))

    assert result["events"] == 2
    assert rule_ids(alert_stack.delivered()) == ["ec2_instances_terminated", "s3_bucket_deleted"]
    output = capsys.readouterr().out
    totals = metric_totals(output)
    assert totals["EventsReceived"] == 6
    assert totals["ParseFailures"] == 4
    assert totals["AlertsPublished"] == 2
    warnings = logs(output, "log event is not a CloudTrail record")
    assert [warning["error"].split(":")[0] for warning in warnings] == [
        "not JSON",
        "not JSON",
        "not a CloudTrail record",
        "not a CloudTrail record",
    ]
    assert all(warning["log_event"].startswith("logEvent 3669") for warning in warnings)


def test_an_oversized_event_alerts_within_the_sns_limit(
    invoke: Invoke, alert_stack: AlertStack
) -> None:
    invoke(read_event("edge-cases/oversized-event.json"))

    (notification,) = alert_stack.delivered()
    (message,) = alert_stack.published()
    assert len(json.dumps(message, ensure_ascii=False).encode()) < SNS_MAX_BYTES
    fields = labelled(notification["Message"])
    assert fields["Who"] == "OpsAdmin (AssumedRole)"
    assert fields["What"] == "ec2:TerminateInstances"
    assert fields["When"] == "2024-05-14 08:17:42 UTC"
    # The alert keeps the first 20 instances; the excerpt, request parameters cut to 2 KB.
    assert fields["Resources"].endswith("(+17 more)")
    assert len(notification["Message"].split("\n\nEvent excerpt:\n")[1].encode()) < 2200


def test_events_missing_user_identity_or_source_ip_still_alert(
    invoke: Invoke, alert_stack: AlertStack
) -> None:
    invoke(read_event("edge-cases/missing-identity.json"))

    notifications = {attributes(n)["rule_id"]: n for n in alert_stack.delivered()}
    assert set(notifications) == {"s3_bucket_deleted", "ec2_instances_terminated"}
    bucket = notifications["s3_bucket_deleted"]
    assert bucket["Subject"] == "[HIGH] S3 bucket example-corp-audit-exports deleted by ?"
    fields = labelled(bucket["Message"])
    assert fields["Who"] == "unknown"
    assert "ARN" not in fields
    assert fields["From"].startswith("198.51.100.42 · ")
    assert fields["Where"] == "account 123456789012 · us-east-1"
    fields = labelled(notifications["ec2_instances_terminated"]["Message"])
    assert fields["Who"] == "OpsAdmin (AssumedRole)"
    assert fields["From"].startswith("aws-cli/2.15.40")


def test_a_broken_rule_is_logged_and_the_other_rules_still_alert(
    invoke: Invoke,
    alert_stack: AlertStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES / "s3" / "s3_bucket_deleted.yml", rules)
    shutil.copy(BROKEN_RULE, rules / "broken.yml")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))

    invoke(read_event(SAMPLE_BATCH))

    assert rule_ids(alert_stack.delivered()) == ["s3_bucket_deleted"]
    output = capsys.readouterr().out
    (error,) = logs(output, "rule not loaded")
    assert error["level"] == "ERROR"
    assert error["path"] == str(rules / "broken.yml")
    assert error["rule_error"].startswith(f"{rules / 'broken.yml'}:")
    assert metric_totals(output)["RuleLoadErrors"] == 1


def test_rules_folders_are_comma_separated_under_the_task_root(
    invoke: Invoke, alert_stack: AlertStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder, rule in (("storage", "s3/s3_bucket_deleted.yml"), ("compute", "ec2/ec2_*.yml")):
        (tmp_path / folder).mkdir()
        for path in RULES.glob(rule):
            shutil.copy(path, tmp_path / folder)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv("RULES_PATHS", "storage, compute")

    invoke(encode_subscription([sample_record("s3_delete_bucket")]))

    assert rule_ids(alert_stack.delivered()) == ["s3_bucket_deleted"]


def test_no_rule_at_all_fails_the_invocation(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))

    with pytest.raises(NoRulesError, match="no rules loaded from"):
        invoke(read_event(SAMPLE_BATCH))


def test_the_same_batch_delivered_twice_notifies_no_one_twice(
    invoke: Invoke, alert_stack: AlertStack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = read_event(SAMPLE_BATCH)
    first = invoke(event)
    delivered = alert_stack.delivered()
    capsys.readouterr()

    again = invoke(event)

    assert alert_stack.delivered() == []
    assert again["published"] == 0
    assert again["alreadyDelivered"] == first["published"] == len(delivered) == 4
    totals = metric_totals(capsys.readouterr().out)
    assert totals["AlertsAlreadyDelivered"] == 4
    assert totals["AlertsPublished"] == 0


def test_a_batch_overlapping_an_earlier_one_sends_only_the_new_alerts(
    invoke: Invoke, alert_stack: AlertStack
) -> None:
    bucket, instances = sample_record("s3_delete_bucket"), sample_record("ec2_terminate_instances")
    invoke(encode_subscription([bucket]))
    assert rule_ids(alert_stack.delivered()) == ["s3_bucket_deleted"]

    invoke(encode_subscription([bucket, instances]))

    assert rule_ids(alert_stack.delivered()) == ["ec2_instances_terminated"]


def test_sns_failing_fails_the_invocation_and_the_retry_delivers_everything(
    invoke: Invoke, alert_stack: AlertStack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = encode_subscription(
        [sample_record("s3_delete_bucket"), sample_record("ec2_terminate_instances")]
    )
    alert_stack.sns.delete_topic(TopicArn=alert_stack.topic_arn)

    with pytest.raises(DeliveryError, match="2 alerts not published") as raised:
        invoke(event)

    assert "NotFound" in str(raised.value)
    output = capsys.readouterr().out
    assert metric_totals(output)["PublishFailures"] == 2
    assert len(logs(output, "alert not published")) == 2
    # Lambda retries the event; with the topic back, both alerts go, as none was marked done.
    alert_stack.sns.create_topic(Name=alert_stack.topic_arn.rsplit(":", 1)[1])
    alert_stack.subscribe_queue()
    assert invoke(event)["published"] == 2
    assert rule_ids(alert_stack.delivered()) == ["ec2_instances_terminated", "s3_bucket_deleted"]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_settings_missing_fail_the_invocation_naming_the_variables(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERT_TOPIC_ARN")
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "ten")

    with pytest.raises(SettingsError, match="ALERT_TOPIC_ARN: Field required") as raised:
        invoke(read_event(SAMPLE_BATCH))
    assert "IDEMPOTENCY_TTL_SECONDS: Input should be a valid integer" in str(raised.value)


def test_an_unreadable_payload_fails_the_invocation_and_is_counted(
    invoke: Invoke, alert_stack: AlertStack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = {"awslogs": {"data": base64.b64encode(b"not gzip").decode()}}

    with pytest.raises(PayloadError, match="not valid gzip"):
        invoke(event)

    output = capsys.readouterr().out
    assert metric_totals(output)["ParseFailures"] == 1
    assert logs(output, "subscription payload not readable")
    assert alert_stack.delivered() == []


def test_metrics_count_events_matches_per_rule_and_publishes(
    invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(read_event(SAMPLE_BATCH))

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert {blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] for blob in blobs} == {
        "trailhound-tests"
    }
    matches = {blob["rule_id"]: blob["RuleMatches"] for blob in blobs if "RuleMatches" in blob}
    assert matches == {
        "s3_bucket_deleted": [1.0],
        "ec2_instances_terminated": [1.0],
        "signin_root_console_login": [2.0],
    }
    totals = metric_totals("\n".join(json.dumps(blob) for blob in blobs))
    assert totals["EventsReceived"] == result["events"] == 7
    assert totals["AlertsPublished"] == 4
    assert totals["PublishFailures"] == 0

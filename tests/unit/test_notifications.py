import json
from pathlib import Path
from typing import Any

import orjson

from trailhound.alerts.build import build_alert
from trailhound.alerts.model import Alert
from trailhound.delivery.chat import render_chat
from trailhound.delivery.email import render_text
from trailhound.delivery.notifications import (
    LEFT_OUT,
    SNS_MAX_BYTES,
    build_notification,
    message_attributes,
)
from trailhound.engine.rule import Rule, Severity

EVENTS = Path(__file__).resolve().parents[2] / "events"
TERMINATE = orjson.loads((EVENTS / "cloudtrail" / "ec2_terminate_instances.json").read_bytes())
RUNBOOK = "1. Check the change ticket.\n2. Contain the principal."


def make_alert(record: dict[str, Any], **rule: Any) -> Alert:
    fields: dict[str, Any] = {
        "rule_id": "ec2_instances_terminated",
        "path": Path("rules/ec2/ec2_instances_terminated.yml"),
        "title": "EC2 instances terminated",
        "severity": Severity.MEDIUM,
        "description": "Someone terminated EC2 instances.",
        "runbook": RUNBOOK,
        "title_template": "EC2 instances terminated by {userIdentity.arn}",
        "tags": ("attack.impact",),
    }
    fields.update(rule)
    return build_alert(Rule(**fields), record)


def message(alert: Alert, max_bytes: int = SNS_MAX_BYTES) -> dict[str, str]:
    decoded: dict[str, str] = json.loads(build_notification(alert, max_bytes).message)
    return decoded


def labelled(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_message_gives_email_the_text_and_chat_the_chatbot_json() -> None:
    alert = make_alert(TERMINATE)

    structured = message(alert)

    # E-mail subscribers take "default", as any protocol without a key of its own does.
    assert set(structured) == {"default", "https"}
    assert structured["default"] == render_text(alert)
    assert json.loads(structured["https"]) == render_chat(alert)


def test_entry_is_a_json_structured_publish_batch_entry() -> None:
    notification = build_notification(make_alert(TERMINATE))

    entry = notification.entry("7")

    assert entry["Id"] == "7"
    assert entry["MessageStructure"] == "json"
    assert entry["Message"] == notification.message
    assert entry["Subject"] == (
        "[MEDIUM] EC2 instances terminated by "
        "arn:aws:sts::123456789012:assumed-role/OpsAdmin/jane.doe"
    )
    assert entry["MessageAttributes"] == notification.attributes


def test_attributes_carry_severity_rule_account_region_and_event_name() -> None:
    attributes = message_attributes(make_alert(TERMINATE))

    assert attributes == {
        "severity": {"DataType": "String", "StringValue": "medium"},
        "rule_id": {"DataType": "String", "StringValue": "ec2_instances_terminated"},
        "account_id": {"DataType": "String", "StringValue": "123456789012"},
        "region": {"DataType": "String", "StringValue": "us-east-1"},
        "event_name": {"DataType": "String", "StringValue": "TerminateInstances"},
    }


def test_attributes_unknown_to_the_event_are_left_out() -> None:
    assert set(message_attributes(make_alert({}))) == {"severity", "rule_id"}


def test_attribute_values_are_one_line_and_capped() -> None:
    record = {**TERMINATE, "eventName": "Terminate\nInstances\u202e" + "x" * 1000}

    value = message_attributes(make_alert(record))["event_name"]["StringValue"]

    assert value.startswith("Terminate Instancesxxx")
    assert len(value) == 256


def test_an_alert_within_the_limit_is_sent_whole() -> None:
    notification = build_notification(make_alert(TERMINATE))

    assert not notification.shortened
    assert notification.size < 20_000
    assert "i-0f9e8d7c6b5a40392" in json.loads(notification.message)["default"]


def test_request_parameters_are_left_out_first() -> None:
    alert = make_alert(TERMINATE)
    whole = build_notification(alert)

    shortened = build_notification(alert, max_bytes=whole.size - 1)

    assert shortened.shortened
    assert shortened.size < whole.size
    text = json.loads(shortened.message)["default"]
    assert LEFT_OUT in text
    assert "i-0f9e8d7c6b5a40392" not in text.split("Event excerpt:")[1]
    # Everything above the excerpt, runbook included, is as it was.
    whole_text = json.loads(whole.message)["default"]
    assert text.split("\n\nEvent excerpt:")[0] == whole_text.split("\n\nEvent excerpt:")[0]


def test_an_oversized_alert_fits_sns_and_keeps_who_what_when_where() -> None:
    huge = "\u6771" * 2000  # Three bytes each in UTF-8, and six once escaped for chat JSON.
    record = {
        **TERMINATE,
        "userAgent": huge,
        "errorCode": huge,
        "errorMessage": huge,
        "userIdentity": {**TERMINATE["userIdentity"], "arn": "arn:" + huge},
        "resources": [{"ARN": f"arn:aws:ec2:::{n}{huge}"} for n in range(20)],
        "requestParameters": {f"key{n}": huge for n in range(40)},
    }
    alert = make_alert(record, runbook=huge * 50, description=huge * 50, tags=(huge,) * 30)

    notification = build_notification(alert)

    assert notification.shortened
    assert notification.size <= SNS_MAX_BYTES
    assert len(notification.message.encode()) <= SNS_MAX_BYTES
    fields = labelled(json.loads(notification.message)["default"])
    assert fields["Who"] == "OpsAdmin (AssumedRole)"
    assert fields["ARN"].startswith("arn:\u6771\u6771")
    assert fields["What"].startswith("ec2:TerminateInstances FAILED \u6771")
    assert fields["When"] == "2024-05-14 08:17:42 UTC"
    assert fields["Where"] == "account 123456789012 · us-east-1"
    assert fields["Console"].endswith("#/events/5f244dec-810c-40ce-857f-a9f621ce899e")
    chat = json.loads(json.loads(notification.message)["https"])
    assert "*Who:* `OpsAdmin (AssumedRole)`" in chat["content"]["description"]


def test_shortening_keeps_the_alert_identity_for_deduplication() -> None:
    alert = make_alert({**TERMINATE, "requestParameters": {"policy": "x" * 1000}})

    notification = build_notification(alert, max_bytes=3500)

    assert notification.shortened
    assert notification.alert.dedup_key == alert.dedup_key
    assert notification.size <= 3500

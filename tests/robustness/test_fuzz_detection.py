"""The Lambda's path (decode → match → alert → message) on generated hostile payloads.

A reduced run of tests/robustness/fuzz_handler.py, which fuzzes 100,000 payloads and prints figures.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from tests.robustness.fuzz_handler import (
    PAYLOADS,
    Figures,
    Payload,
    alert_keys,
    alerting_records,
    ruleset,
    run_payload,
)
from tests.support.payloads import encode_subscription
from trailhound.delivery.notifications import build_notification
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.records import SourceRecord, parse_record
from trailhound.pipeline.subscription import decode_subscription


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(PAYLOADS)
def test_hostile_payloads_raise_nothing_but_payload_errors_and_good_records_alert(
    payload: Payload,
) -> None:
    figures = Figures()

    run_payload(payload, figures)

    assert figures.good_alerted == len(payload.good)


def test_a_record_with_json_orjson_refuses_is_matched_and_alerts() -> None:
    record = alerting_records()[0]
    text = json.dumps({**record, "fuzzExtra": "@"}).replace('"@"', "1e400")
    text = text.replace('"userAgent": ', '"userAgent": "\\ud800 lone", "ua": ', 1)

    item = parse_record(text, "logEvent 1")

    assert isinstance(item, SourceRecord), item
    assert item.record["fuzzExtra"] == float("inf")
    alerts = list(detect([item], ruleset(), DetectionSummary()))
    assert {(alert.rule_id, str(alert.event_id)) for alert in alerts} == alert_keys(record)
    for alert in alerts:
        assert "\ud800" not in build_notification(alert).message
        assert alert.who.user_agent == "? lone"


def test_the_good_records_of_the_fuzzer_alert_when_clean() -> None:
    event = encode_subscription(alerting_records())

    alerts = list(detect(decode_subscription(event).items, ruleset(), DetectionSummary()))

    expected = set().union(*(alert_keys(record) for record in alerting_records()))
    assert {(alert.rule_id, str(alert.event_id)) for alert in alerts} == expected
    assert len(alerting_records()) >= 4

"""What has the shape of a credential leaves alert text; what names a resource stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from trailhound.alerts import redaction
from trailhound.alerts.build import build_alert
from trailhound.alerts.redaction import (
    REDACTED,
    may_hold_secret,
    may_hold_secret_in_json,
    redact,
    redact_text,
)
from trailhound.engine.rule import Rule, Severity

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7EXAMPLE\n-----END RSA PRIVATE KEY-----"
)


def test_a_private_key_cut_before_its_end_is_redacted_to_the_end_of_the_text() -> None:
    cut = PRIVATE_KEY[:-6]

    assert redact_text(f"key {cut}") == f"key {REDACTED}"


def test_a_secret_named_pair_keeps_its_name_and_loses_its_value() -> None:
    text = "login failed: password=Hunter2Hunter2; aws_secret_access_key: " + SECRET_KEY

    redacted = redact_text(text)

    assert redacted == "login failed: password=REDACTED; aws_secret_access_key: REDACTED"


def test_access_key_ids_arns_and_digests_are_not_secrets() -> None:
    text = (
        "AKIAIOSFODNN7EXAMPLE arn:aws:iam::123456789012:role/deploy "
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    )

    assert redact_text(text) == text


def test_values_under_secret_named_keys_go_whole_but_names_of_secrets_stay() -> None:
    parameters = {"secretId": "prod/db", "secretString": "hunter2", "tokenName": "ci"}

    assert redact(parameters) == {
        "secretId": "prod/db",
        "secretString": REDACTED,
        "tokenName": "ci",
    }


PIECES = st.sampled_from(
    [
        "password=",
        "Secret",
        "TOKEN: ",
        "api-key=",
        "API",
        "key",
        "Key:",
        ".",
        '"',
        "'",
        ":",
        "Id",
        "secretId",
        "Bearer ",
        "authorization:",
        "https://u:p@h",
        "-----BEGIN EC PRIVATE KEY-----",
        "IQoJb3JpZ2lu",
        "A1b2/C3d+" * 5,
        "x",
        " ",
        "é",
        "İ",
        "\n",
    ]
)


@given(st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=8).map("".join))
def test_text_said_to_hold_no_secret_has_none_the_full_patterns_find(text: str) -> None:
    if not may_hold_secret(text):
        assert redaction._redacted(text) == text


def test_build_alert_redacts_before_cutting_long_values_short() -> None:
    rule = Rule(
        rule_id="probe",
        path=Path("probe.yml"),
        title="Probe",
        severity=Severity.HIGH,
        title_template="Bucket {requestParameters.bucketName}",
    )
    record = {
        "eventID": "e1",
        "userAgent": "a" * 2040 + " " + SECRET_KEY,
        "requestParameters": {"bucketName": "b" * 80 + " " + PRIVATE_KEY},
    }

    alert = build_alert(rule, record)

    sent = alert.to_json()
    assert "K7MDENG" not in sent and "MIIEowIBAAKCAQEA7EXAMPLE" not in sent
    assert alert.title.endswith(REDACTED)


def test_a_secret_arn_is_a_name_not_a_secret() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"

    assert redact_text(arn) == arn
    assert redact({"secretId": arn, "SecretArn": arn}) == {"secretId": arn, "SecretArn": arn}


def test_a_quoted_secret_keeps_its_quotes() -> None:
    assert redact_text('{"password": "hunter22"}') == '{"password": "REDACTED"}'


JSON_KEYS = st.one_of(PIECES, st.text(max_size=8), st.lists(PIECES, max_size=3).map("".join))
JSON_VALUES = st.recursive(
    st.one_of(st.lists(PIECES, max_size=6).map("".join), st.integers(-(2**60), 2**60)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(JSON_KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=4))
# A control character escaped in JSON (\u001f) beside a secret key hid the key's edge.
@example({"pass_word:": "\x1f" + "A1b2/C3d+x" * 4})
# A name that ends a key is the key's, judged as a key; in a value it still counts.
@example({"filters": [{"key": "x", "value": "api_key=A1b2C3d4"}]})
@example({"secretId": "token:abc", "secretArn": "x"})
def test_json_said_to_hold_no_secret_is_left_as_it_is_by_redact(
    parameters: dict[str, Any],
) -> None:
    if not may_hold_secret_in_json(orjson.dumps(parameters).decode()):
        assert redact(parameters) == parameters


def test_keys_that_name_no_secret_raise_no_false_alarm_in_request_parameters() -> None:
    parameters = {
        "filters": [{"key": "instance-id", "values": ["i-0123"]}],
        "tags": [{"key": "Name", "value": "web"}],
        "secretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        "keyId": "alias/prod",
    }

    assert not may_hold_secret_in_json(orjson.dumps(parameters).decode())
    assert may_hold_secret_in_json(orjson.dumps({"tags": [{"value": "apiKey: x"}]}).decode())
    assert redact({"tags": [{"value": "apiKey: x1234567"}]}) == {
        "tags": [{"value": "apiKey: REDACTED"}]
    }


@given(st.lists(st.sampled_from(["a", "password=x1", "b", "Bearer abcdefgh1", "a"]), max_size=12))
def test_a_remembered_verdict_is_the_texts_own(texts: list[str]) -> None:
    for text in texts:
        joined = f"user {text}"
        assert may_hold_secret(joined) == redaction._may_hold_secret(joined, in_json=False)
        encoded = orjson.dumps({"value": text}).decode()
        assert may_hold_secret_in_json(encoded) == redaction._may_hold_secret_in_json(encoded)


def test_remembered_verdicts_stay_within_a_bounded_memory() -> None:
    for number in range(5_000):
        may_hold_secret(f"agent/{number}")
        may_hold_secret_in_json(orjson.dumps({"n": number}).decode())
    memos = (redaction._remembered_text_verdict, redaction._remembered_json_verdict)
    misses = [memo.cache_info().misses for memo in memos]
    may_hold_secret("x" * 100_000)
    may_hold_secret_in_json(orjson.dumps({"x": "x" * 100_000}).decode())

    # A long text is tested, not remembered.
    assert [memo.cache_info().misses for memo in memos] == misses
    for memo in memos:
        assert memo.cache_info().currsize <= 512
        assert memo.cache_info().maxsize == 512


def test_an_event_id_that_is_not_a_uuid_is_tested_like_any_other_field() -> None:
    rule = Rule(rule_id="probe", path=Path("probe.yml"), title="Probe", severity=Severity.LOW)
    uuid = "6c8c8a9e-0c32-4b3c-9d1e-2f1b1d6f3e11"

    assert build_alert(rule, {"eventID": uuid}).event_id == uuid
    assert build_alert(rule, {"eventID": f"token={SECRET_KEY}"}).event_id == "token=REDACTED"
    assert SECRET_KEY not in build_alert(rule, {"eventID": SECRET_KEY}).to_json()


def test_a_key_shaped_like_a_credential_is_redacted_like_any_text() -> None:
    rule = Rule(rule_id="probe", path=Path("probe.yml"), title="Probe", severity=Severity.LOW)
    record = {
        "eventID": "e1",
        "requestParameters": {
            "environment": {"variables": {SECRET_KEY: "x", f"token={SECRET_KEY}": "y"}}
        },
    }

    sent = build_alert(rule, record).to_json()

    assert SECRET_KEY not in sent
    assert redact({"tags": {f"key {SECRET_KEY}": "v", "Name": "web"}}) == {
        "tags": {"key REDACTED": "v", "Name": "web"}
    }

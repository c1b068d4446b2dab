import copy
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from trailhound.alerts.build import build_alert
from trailhound.alerts.console import console_url
from trailhound.alerts.facts import MAX_RESOURCES
from trailhound.alerts.model import Alert
from trailhound.alerts.parameters import (
    REQUEST_PARAMETERS_MAX_BYTES,
    plain_json,
    request_parameters,
)
from trailhound.alerts.redaction import may_hold_secret_in_json, redact
from trailhound.alerts.title import render_title
from trailhound.engine.rule import Rule, Severity
from trailhound.text import _CONTROL, _WHITESPACE

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"

ROOT_CONSOLE_LOGIN: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "Root",
        "principalId": "123456789012",
        "arn": "arn:aws:iam::123456789012:root",
        "accountId": "123456789012",
    },
    "eventTime": "2024-07-30T21:31:21Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:102.0) Gecko/20100101 Firefox/102.0",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "70e5932e-9022-4b38-837e-ca10dad94eb7",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}

ASSUMED_ROLE_TERMINATE: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID:aws-go-sdk-1722375070115152000",
        "arn": "arn:aws:sts::123456789012:assumed-role/ci-deployer/aws-go-sdk-1722375070115152000",
        "accountId": "123456789012",
        "accessKeyId": "ASIAEXAMPLEKEYID0001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID",
                "arn": "arn:aws:iam::123456789012:role/ci-deployer",
                "accountId": "123456789012",
                "userName": "ci-deployer",
            },
            "attributes": {"creationDate": "2024-07-30T21:30:02Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2024-07-30T21:31:21Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "TerminateInstances",
    "awsRegion": "eu-west-1",
    "sourceIPAddress": "203.0.113.20",
    "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64",
    "requestParameters": {
        "instancesSet": {
            "items": [{"instanceId": "i-0a1b2c3d4e5f60718"}, {"instanceId": "i-0f1e2d3c4b5a69788"}]
        }
    },
    "responseElements": None,
    "requestID": "b20c2df5-71d5-44b6-9e0a-3f6a2b1c0d9e",
    "eventID": "450230d4-b39e-4a18-a6a0-d07a6e2105cb",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}

IAM_USER_CREATE_KEY: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSERID001",
        "arn": "arn:aws:iam::123456789012:user/alice",
        "accountId": "123456789012",
        "accessKeyId": "AKIAEXAMPLEKEYID0002",
        "userName": "alice",
    },
    "eventTime": "2024-08-18T09:21:20Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateAccessKey",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.42",
    "userAgent": "aws-cli/2.17.32 md/awscrt#0.21.2 ua/2.0 os/linux lang/python#3.11.9",
    "requestParameters": {"userName": "bob"},
    "responseElements": {"accessKey": {"accessKeyId": "AKIAEXAMPLEKEYID0003", "status": "Active"}},
    "eventID": "10e1548f-893e-46f6-852a-25a9f8cf93e1",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}

ACCESS_DENIED: dict[str, Any] = {
    **IAM_USER_CREATE_KEY,
    "eventSource": "ec2.amazonaws.com",
    "eventName": "GetPasswordData",
    "errorCode": "Client.UnauthorizedOperation",
    "errorMessage": "You are not authorized to perform this operation. User: "
    "arn:aws:iam::123456789012:user/alice is not authorized to perform: ec2:GetPasswordData",
    "requestParameters": {"instanceId": "i-0a1b2c3d4e5f60718"},
    "responseElements": None,
    "readOnly": True,
}


def make_rule(title_template: str | None = None, **overrides: Any) -> Rule:
    fields: dict[str, Any] = {
        "rule_id": "aws_root_console_login",
        "path": Path("rules/cloudtrail/signin/aws_root_console_login.yml"),
        "title": "Root console login",
        "severity": Severity.HIGH,
        "description": "Someone signed in to the console as the account root user.",
        "tags": ("attack.privilege_escalation", "attack.t1078.004"),
        "runbook": "Confirm with the account owner.",
        "title_template": title_template,
    }
    fields.update(overrides)
    return Rule(**fields)


def test_root_console_login_names_root_and_reads_mfa_from_additional_event_data() -> None:
    alert = build_alert(make_rule(), ROOT_CONSOLE_LOGIN)

    assert alert.who.type == "Root"
    assert alert.who.user_name == "root"
    assert alert.who.arn == "arn:aws:iam::123456789012:root"
    assert alert.who.mfa_authenticated is False
    assert alert.who.source_ip == "203.0.113.7"
    assert alert.who.access_key_id is None
    assert alert.what.event_name == "ConsoleLogin"
    assert alert.what.read_only is False
    assert alert.what.request_parameters is None
    assert alert.where.account_id == "123456789012"
    assert alert.where.region == "us-east-1"
    assert alert.event_time == datetime(2024, 7, 30, 21, 31, 21, tzinfo=UTC)


def test_console_login_with_mfa_used_yes_is_mfa_authenticated() -> None:
    record = copy.deepcopy(ROOT_CONSOLE_LOGIN)
    record["additionalEventData"]["MFAUsed"] = "Yes"

    assert build_alert(make_rule(), record).who.mfa_authenticated is True


def test_assumed_role_alert_takes_user_name_and_issuer_from_session_issuer() -> None:
    alert = build_alert(make_rule(), ASSUMED_ROLE_TERMINATE)

    assert alert.who.type == "AssumedRole"
    assert alert.who.user_name == "ci-deployer"
    assert alert.who.session_issuer_arn == "arn:aws:iam::123456789012:role/ci-deployer"
    assert alert.who.access_key_id == "ASIAEXAMPLEKEYID0001"
    assert alert.who.mfa_authenticated is False
    assert alert.what.resources == ["i-0a1b2c3d4e5f60718", "i-0f1e2d3c4b5a69788"]
    assert alert.where.region == "eu-west-1"


def test_iam_user_alert_uses_user_name_and_request_parameter_resources() -> None:
    alert = build_alert(make_rule(), IAM_USER_CREATE_KEY)

    assert alert.who.user_name == "alice"
    assert alert.who.principal_id == "AIDAEXAMPLEUSERID001"
    assert alert.who.session_issuer_arn is None
    assert alert.who.mfa_authenticated is None
    assert alert.what.event_source == "iam.amazonaws.com"
    assert alert.what.resources == ["bob"]
    assert alert.what.request_parameters == {"userName": "bob"}
    assert alert.what.error_code is None


def test_user_name_falls_back_to_last_part_of_arn() -> None:
    record = copy.deepcopy(IAM_USER_CREATE_KEY)
    record["userIdentity"] = {
        "type": "FederatedUser",
        "arn": "arn:aws:sts::123456789012:federated-user/carol",
    }

    assert build_alert(make_rule(), record).who.user_name == "carol"


def test_aws_service_identity_is_named_by_the_invoking_service() -> None:
    record = copy.deepcopy(IAM_USER_CREATE_KEY)
    record["userIdentity"] = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}

    alert = build_alert(make_rule(), record)

    assert alert.who.user_name == "cloudtrail.amazonaws.com"
    assert alert.who.invoked_by == "cloudtrail.amazonaws.com"
    assert alert.where.account_id == "123456789012"


def test_access_denied_alert_keeps_error_code_and_message() -> None:
    alert = build_alert(make_rule(), ACCESS_DENIED)

    assert alert.what.error_code == "Client.UnauthorizedOperation"
    assert alert.what.error_message is not None
    assert alert.what.error_message.startswith("You are not authorized")
    assert alert.what.read_only is True
    assert alert.what.resources == ["i-0a1b2c3d4e5f60718"]


def test_listed_resource_arns_win_over_request_parameters() -> None:
    record = copy.deepcopy(IAM_USER_CREATE_KEY)
    record["resources"] = [
        {"ARN": "arn:aws:iam::123456789012:user/bob", "accountId": "123456789012"},
        {"arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
        {"type": "AWS::IAM::User"},
        "not an object",
    ]

    assert build_alert(make_rule(), record).what.resources == [
        "arn:aws:iam::123456789012:user/bob",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ]


def test_resources_are_deduplicated_and_capped() -> None:
    record = copy.deepcopy(ASSUMED_ROLE_TERMINATE)
    items = [{"instanceId": f"i-{n:017x}"} for n in range(50)]
    record["requestParameters"] = {"instancesSet": {"items": items + items}}

    resources = build_alert(make_rule(), record).what.resources

    assert len(resources) == MAX_RESOURCES
    assert resources[0] == "i-00000000000000000"


def test_missing_user_identity_and_source_ip_become_null() -> None:
    record = {
        key: value
        for key, value in IAM_USER_CREATE_KEY.items()
        if key not in ("userIdentity", "sourceIPAddress", "recipientAccountId")
    }

    alert = build_alert(make_rule(), record)

    who = alert.who.model_dump()
    assert who.pop("user_agent") == IAM_USER_CREATE_KEY["userAgent"]
    assert who == {field: None for field in who}
    assert alert.where.account_id is None
    assert alert.what.event_name == "CreateAccessKey"


def test_empty_record_gives_an_alert_of_nulls() -> None:
    alert = build_alert(make_rule(), {})

    assert alert.event_id is None
    assert alert.event_time is None
    assert alert.console_url is None
    assert alert.what.resources == []
    assert alert.dedup_key == "None:aws_root_console_login"


WRONG_TYPES: dict[str, Any] = {
    "userIdentity": "arn:aws:iam::123456789012:root",
    "eventTime": "yesterday at noon",
    "eventSource": ["ec2.amazonaws.com"],
    "eventName": {"name": "TerminateInstances"},
    "awsRegion": 42,
    "sourceIPAddress": {"ip": "203.0.113.7"},
    "userAgent": None,
    "requestParameters": [{"instanceId": "i-0a1b2c3d4e5f60718"}],
    "resources": {"ARN": "arn:aws:s3:::example-bucket"},
    "readOnly": "true",
    "errorCode": 403,
    "errorMessage": ["denied"],
    "eventID": 7,
    "recipientAccountId": 123456789012,
    "additionalEventData": "MFAUsed=Yes",
}


def test_wrong_types_everywhere_give_nulls_without_raising() -> None:
    alert = build_alert(make_rule(), WRONG_TYPES)

    assert alert.who.model_dump() == {field: None for field in alert.who.model_dump()}
    assert alert.what.model_dump() == {
        "event_source": None,
        "event_name": None,
        "read_only": None,
        "error_code": None,
        "error_message": None,
        "resources": [],
        "request_parameters": None,
    }
    assert alert.where.model_dump() == {"account_id": None, "region": None}
    assert alert.event_id is None
    assert alert.event_time is None
    assert alert.console_url is None
    assert Alert.model_validate_json(alert.to_json()) == alert


@pytest.mark.parametrize(
    "identity",
    [
        {"type": ["Root"], "sessionContext": "x"},
        {"type": "AssumedRole", "sessionContext": {"sessionIssuer": ["x"], "attributes": 1}},
        {"sessionContext": {"attributes": {"mfaAuthenticated": "maybe"}}},
        {"arn": "arn:aws:iam::123456789012:user/", "userName": ""},
        None,
        [],
    ],
)
def test_malformed_user_identity_parts_become_null(identity: Any) -> None:
    record = {**ROOT_CONSOLE_LOGIN, "userIdentity": identity, "eventName": "CreateUser"}

    who = build_alert(make_rule(), record).who

    assert who.type is None or who.type == "AssumedRole"
    assert who.user_name is None
    assert who.session_issuer_arn is None
    assert who.mfa_authenticated is None


def test_mfa_authenticated_string_from_session_context_becomes_bool() -> None:
    record = copy.deepcopy(ASSUMED_ROLE_TERMINATE)
    record["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] = "true"

    assert build_alert(make_rule(), record).who.mfa_authenticated is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-07-30T21:31:21Z", datetime(2024, 7, 30, 21, 31, 21, tzinfo=UTC)),
        ("2024-07-30T23:31:21+02:00", datetime(2024, 7, 30, 21, 31, 21, tzinfo=UTC)),
        ("2024-07-30T21:31:21", datetime(2024, 7, 30, 21, 31, 21, tzinfo=UTC)),
        ("not a date", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("9" * 10_000, None),
        (1722375081, None),
        (None, None),
    ],
)
def test_event_time_is_utc_aware_or_null(raw: Any, expected: datetime | None) -> None:
    event_time = build_alert(make_rule(), {**ROOT_CONSOLE_LOGIN, "eventTime": raw}).event_time

    assert event_time == expected
    if event_time is not None:
        assert event_time.utcoffset() is not None


def test_small_request_parameters_are_kept_as_they_are() -> None:
    alert = build_alert(make_rule(), ASSUMED_ROLE_TERMINATE)

    assert alert.what.request_parameters == ASSUMED_ROLE_TERMINATE["requestParameters"]


LARGE_PARAMETERS: list[dict[str, Any]] = [
    {"policyDocument": "x" * 10_000, "roleName": "ci-deployer"},
    {"instancesSet": {"items": [{"instanceId": f"i-{n:017x}"} for n in range(500)]}},
    {"tags": {f"tag-key-{n}": f"value-{n}" for n in range(400)}},
    {"deep": json.loads("[" * 200 + "]" * 200)},
    {"filterSet": {"items": [{"name": "é" * 300, "valueSet": ['"\\' * 100]}] * 30}},
    {"k" * 5_000: "v", "quotes": '"' * 5_000},
    {"ints": [2**70, -(2**70), float("nan"), float("inf")] * 200},
    {f"{n}": {"nested": [{"a": "b" * 40}] * 5} for n in range(200)},
    {"\x00\x1b[2J": "\ud800" * 3_000},
]


@pytest.mark.parametrize("parameters", LARGE_PARAMETERS)
def test_large_request_parameters_are_truncated_under_the_limit_and_stay_json(
    parameters: dict[str, Any],
) -> None:
    record = {**IAM_USER_CREATE_KEY, "requestParameters": parameters}

    truncated = build_alert(make_rule(), record).what.request_parameters

    assert isinstance(truncated, dict)
    encoded = orjson.dumps(truncated)
    assert len(encoded) <= REQUEST_PARAMETERS_MAX_BYTES
    assert orjson.loads(encoded) == truncated


def test_truncation_keeps_short_fields_readable() -> None:
    record = {
        **IAM_USER_CREATE_KEY,
        "requestParameters": {"roleName": "ci-deployer", "policyDocument": "x" * 10_000},
    }

    truncated = build_alert(make_rule(), record).what.request_parameters

    assert truncated is not None
    assert truncated["roleName"] == "ci-deployer"
    assert truncated["policyDocument"].endswith("…")


def test_request_parameters_that_are_not_an_object_become_null() -> None:
    record = {**IAM_USER_CREATE_KEY, "requestParameters": ["userName", "bob"]}

    assert build_alert(make_rule(), record).what.request_parameters is None


def test_title_template_fills_placeholders_from_nested_fields() -> None:
    rule = make_rule("Root console login by {userIdentity.arn} from {sourceIPAddress}")

    assert build_alert(rule, ROOT_CONSOLE_LOGIN).title == (
        "Root console login by arn:aws:iam::123456789012:root from 203.0.113.7"
    )


def test_title_template_list_step_takes_the_first_element() -> None:
    template = "Terminate {requestParameters.instancesSet.items.instanceId}"
    second = "then {requestParameters.instancesSet.items.1.instanceId}"

    assert render_title(f"{template} {second}", ASSUMED_ROLE_TERMINATE) == (
        "Terminate i-0a1b2c3d4e5f60718 then i-0f1e2d3c4b5a69788"
    )


def test_title_template_missing_value_renders_as_question_mark() -> None:
    title = render_title("{eventName} on {requestParameters.bucketName}", ROOT_CONSOLE_LOGIN)

    assert title == "ConsoleLogin on ?"


def test_title_without_template_is_the_rule_title() -> None:
    assert build_alert(make_rule(None), ROOT_CONSOLE_LOGIN).title == "Root console login"


@pytest.mark.parametrize(
    "hostile",
    [
        "{0.__class__}",
        "{userIdentity.arn}",
        "{eventName!r:>{width}}",
        "%(eventName)s %s {}",
        "\\1 \\g<0>",
    ],
)
def test_braces_and_format_specs_in_event_values_are_inert(hostile: str) -> None:
    record = {**ROOT_CONSOLE_LOGIN, "userAgent": hostile}

    assert render_title("UA {userAgent} end", record) == f"UA {hostile} end"


def test_format_specs_in_the_template_are_left_as_text() -> None:
    title = render_title("{eventName!r} {0.__class__} {eventName:>40}", ROOT_CONSOLE_LOGIN)

    assert title == "{eventName!r} ? {eventName:>40}"


def test_title_values_are_one_line_and_capped() -> None:
    record = {**ROOT_CONSOLE_LOGIN, "userAgent": "evil\n\nSeverity: LOW\r\t" + "A" * 500}

    title = render_title("UA {userAgent} / {userAgent} / {userAgent}", record)

    assert "\n" not in title
    assert "\r" not in title
    assert title.startswith("UA evil Severity: LOW A")
    assert len(title) <= 200
    assert title.endswith("…")


def test_title_renders_non_string_values() -> None:
    record = {**ROOT_CONSOLE_LOGIN, "readOnly": False, "eventVersion": 1.08}

    assert render_title("{readOnly} {eventVersion} {responseElements}", record) == (
        'false 1.08 {"ConsoleLogin":"Success"}'
    )


@pytest.mark.parametrize(
    ("region", "event_id", "expected"),
    [
        (
            "us-east-1",
            "70e5932e-9022-4b38-837e-ca10dad94eb7",
            "https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1"
            "#/events/70e5932e-9022-4b38-837e-ca10dad94eb7",
        ),
        (
            "cn-north-1",
            "abc",
            "https://console.amazonaws.cn/cloudtrail/home?region=cn-north-1#/events/abc",
        ),
        (
            "us-gov-west-1",
            "abc",
            "https://console.amazonaws-us-gov.com/cloudtrail/home?region=us-gov-west-1#/events/abc",
        ),
        (
            "eu-west-1",
            "a/b?c#d e",
            "https://eu-west-1.console.aws.amazon.com/cloudtrail/home?region=eu-west-1"
            "#/events/a%2Fb%3Fc%23d%20e",
        ),
        (None, "abc", None),
        ("us-east-1", None, None),
        ("", "abc", None),
        ("apiso-northsouth-3r", "abc", None),
        ("us-east-1\n", "abc", None),
        ("evil.com/x-1", "abc", None),
        ("us-isob-east-1", "abc", None),
    ],
)
def test_console_url_points_at_the_partitions_event_history(
    region: str | None, event_id: str | None, expected: str | None
) -> None:
    assert console_url(region, event_id) == expected


def test_alert_console_url_comes_from_region_and_event_id() -> None:
    alert = build_alert(make_rule(), ASSUMED_ROLE_TERMINATE)

    assert alert.console_url == (
        "https://eu-west-1.console.aws.amazon.com/cloudtrail/home?region=eu-west-1"
        "#/events/450230d4-b39e-4a18-a6a0-d07a6e2105cb"
    )


def test_json_form_round_trips() -> None:
    for record in (ROOT_CONSOLE_LOGIN, ASSUMED_ROLE_TERMINATE, IAM_USER_CREATE_KEY, ACCESS_DENIED):
        alert = build_alert(make_rule("{eventName} by {userIdentity.arn}"), record)

        assert Alert.model_validate_json(alert.to_json()) == alert


def test_json_form_is_compact_with_declared_key_order() -> None:
    alert = build_alert(make_rule(), ASSUMED_ROLE_TERMINATE)
    text = alert.to_json()
    data = json.loads(text)

    assert text == json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    assert list(data) == [
        "rule_id",
        "title",
        "severity",
        "description",
        "runbook",
        "tags",
        "event_id",
        "event_time",
        "who",
        "what",
        "where",
        "console_url",
    ]
    assert list(data["who"]) == [
        "type",
        "arn",
        "principal_id",
        "account_id",
        "user_name",
        "access_key_id",
        "session_issuer_arn",
        "mfa_authenticated",
        "source_ip",
        "user_agent",
        "invoked_by",
    ]
    assert list(data["what"]) == [
        "event_source",
        "event_name",
        "read_only",
        "error_code",
        "error_message",
        "resources",
        "request_parameters",
    ]
    assert list(data["where"]) == ["account_id", "region"]
    assert data["severity"] == "high"
    assert data["event_time"] == "2024-07-30T21:31:21Z"
    assert data["tags"] == ["attack.privilege_escalation", "attack.t1078.004"]


def test_dedup_key_joins_event_id_and_rule_id() -> None:
    alert = build_alert(make_rule(), ROOT_CONSOLE_LOGIN)

    assert alert.dedup_key == "70e5932e-9022-4b38-837e-ca10dad94eb7:aws_root_console_login"


def corpus_records() -> list[tuple[str, Any]]:
    records = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                data = json.loads(line)
                if isinstance(data, dict) and "technique" in data and "event" in data:
                    data = data["event"]
                records.append((f"{path.name}:{number}", data))
    return records


def test_every_corpus_event_builds_an_alert() -> None:
    records = corpus_records()
    assert records
    rule = make_rule("{eventName} by {userIdentity.arn} on {resources.ARN} from {sourceIPAddress}")

    for where, record in records:
        alert = build_alert(rule, record)

        assert Alert.model_validate_json(alert.to_json()) == alert, where
        parameters = alert.what.request_parameters
        assert len(orjson.dumps(parameters)) <= REQUEST_PARAMETERS_MAX_BYTES, where


# build_alert makes its models without validating the values again (they are sanitised to the
# fields' types first); these tests hold it to what validation would have made.


def field_types(value: Any) -> Any:
    """Each value's type, all the way down, with each model's fields set, extra and private."""
    if isinstance(value, BaseModel):
        return (
            type(value),
            value.model_fields_set,
            value.__pydantic_extra__,
            value.__pydantic_private__,
            [(name, field_types(item)) for name, item in value.__dict__.items()],
        )
    if isinstance(value, dict):
        return [(type(key), key, field_types(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [list, *map(field_types, value)]
    return type(value)


def assert_as_if_validated(alert: Alert) -> None:
    validated = Alert.model_validate(alert.model_dump())

    assert validated == alert
    assert repr(validated) == repr(alert)
    assert field_types(validated) == field_types(alert)
    assert list(alert.__dict__) == list(Alert.model_fields)
    assert Alert.model_validate_json(alert.to_json()) == alert


@pytest.mark.parametrize(
    "record",
    [
        ROOT_CONSOLE_LOGIN,
        ASSUMED_ROLE_TERMINATE,
        IAM_USER_CREATE_KEY,
        ACCESS_DENIED,
        WRONG_TYPES,
        {},
    ],
)
def test_alert_is_the_one_validation_would_make(record: dict[str, Any]) -> None:
    assert_as_if_validated(build_alert(make_rule("{eventName} by {userIdentity.arn}"), record))


def test_every_corpus_alert_is_the_one_validation_would_make() -> None:
    records = corpus_records()
    assert records
    rule = make_rule("{eventName} by {userIdentity.arn} on {resources.ARN} from {sourceIPAddress}")

    for _where, record in records:
        assert_as_if_validated(build_alert(rule, record))


class Tagged(str):
    """A str subclass, as a record built in Python rather than parsed from JSON may hold."""

    def __str__(self) -> str:
        return "not the value"


def test_str_subclass_values_become_plain_strings() -> None:
    identity = {**IAM_USER_CREATE_KEY["userIdentity"], "arn": Tagged("arn:aws:iam::1:user/x")}
    record = {
        **IAM_USER_CREATE_KEY,
        "userIdentity": identity,
        "eventName": Tagged("CreateAccessKey"),
        "userAgent": Tagged("é" * 3000),
        "requestParameters": {Tagged("userName"): Tagged("bob")},
    }

    alert = build_alert(make_rule(), record)

    assert type(alert.who.arn) is str and alert.who.arn == "arn:aws:iam::1:user/x"
    assert type(alert.what.event_name) is str and alert.what.event_name == "CreateAccessKey"
    assert alert.who.user_agent == "é" * 2047 + "…"
    assert alert.what.request_parameters == {"not the value": "bob"}
    assert alert.what.resources == ["bob"]
    assert_as_if_validated(alert)


def test_rule_values_of_other_types_are_validated_as_before() -> None:
    rule = make_rule(severity="critical", tags=["attack.t1078"], description="Root login.")

    alert = build_alert(rule, ROOT_CONSOLE_LOGIN)

    assert alert.severity is Severity.CRITICAL
    assert alert.tags == ["attack.t1078"]
    assert_as_if_validated(alert)
    with pytest.raises(ValidationError):
        build_alert(make_rule(tags=("attack", 1078)), ROOT_CONSOLE_LOGIN)


def test_request_parameters_are_a_copy_of_the_records() -> None:
    record = copy.deepcopy(ASSUMED_ROLE_TERMINATE)
    alert = build_alert(make_rule(), record)

    record["requestParameters"]["instancesSet"]["items"].append({"instanceId": "i-new"})
    record["requestParameters"]["added"] = True

    assert alert.what.request_parameters == ASSUMED_ROLE_TERMINATE["requestParameters"]


def test_request_parameters_are_made_plain_json() -> None:
    parameters = {
        "tuple": ("a", 1),
        "floats": [1.5, float("nan"), float("-inf")],
        "ints": [2**64 - 1, 2**64, -(2**63), -(2**63) - 1],
        "surrogate": "a\ud800b",
        "keys": {1: "one", None: "none", "\udfff": "x"},
        "other": {1, 2},
        "deep": json.loads("[" * 40 + "]" * 40),
    }
    record = {**IAM_USER_CREATE_KEY, "requestParameters": parameters}

    kept = build_alert(make_rule(), record).what.request_parameters

    assert kept is not None
    assert kept["tuple"] == ["a", 1]
    assert kept["floats"] == [1.5, None, None]
    assert kept["ints"] == [2**64 - 1, str(2**64), -(2**63), str(-(2**63) - 1)]
    assert kept["surrogate"] == "a?b"
    assert kept["keys"] == {"1": "one", "None": "none", "?": "x"}
    assert kept["other"] == "<set>"
    depth, inner = 0, kept["deep"]
    while isinstance(inner, list) and inner:
        depth, inner = depth + 1, inner[0]
    assert (depth, inner) == (31, "…")


def test_title_templates_are_filled_from_each_record() -> None:
    rule = make_rule("{eventName}  from\t{sourceIPAddress}")

    first = build_alert(rule, ROOT_CONSOLE_LOGIN).title
    second = build_alert(rule, IAM_USER_CREATE_KEY).title

    assert first == "ConsoleLogin from 203.0.113.7"
    assert second == "CreateAccessKey from 203.0.113.42"
    assert render_title(" Root \u202elogin\n ", ROOT_CONSOLE_LOGIN) == "Root login"
    assert render_title("{a} {a.0} {a.b} {0}", MappingProxyType({"a": [{"b": 1}]})) == (
        '{"b":1} {"b":1} 1 ?'
    )


@pytest.mark.parametrize(
    "value",
    ["a  b", " a", "a ", "\u00ada", "\u2028", "\x85", "\ud800", "\u3000x", "é\u200b", "", "  "],
)
def test_title_values_are_cleaned_the_same_on_every_path(value: str) -> None:
    record = {"v": value, "n": [value], "m": {"v": value}}

    titles = {render_title(template, record) for template in ("<{v}>", "<{n}>", "<{m.v}>")}

    cleaned = " ".join(_CONTROL.sub("", _WHITESPACE.sub(" ", value)).split()).replace("\ud800", "?")
    assert titles == {f"<{cleaned or '?'}>"}


def test_printable_text_has_nothing_for_the_line_cleaning_regexes() -> None:
    # The fast paths skip the regexes for str.isprintable() text: it must hold no control or
    # invisible characters, no whitespace but " " and no surrogates, in this Python's Unicode.
    printable = "".join(char for char in map(chr, range(sys.maxunicode + 1)) if char.isprintable())

    assert not _CONTROL.search(printable)
    assert set(_WHITESPACE.findall(printable)) == {" "}
    assert "".join(printable.split()) == printable.replace(" ", "")
    assert len(printable.encode()) > len(printable)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", " ", "\ud800", "a\nb", "\u202e", "x" * 2100, "Root", "AssumedRole"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
RECORD_KEYS = [
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "resources",
    "readOnly",
    "errorCode",
    "errorMessage",
    "eventID",
    "recipientAccountId",
    "additionalEventData",
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {},
        optional={
            **dict.fromkeys(RECORD_KEYS, JSON_VALUES),
            "userIdentity": st.fixed_dictionaries(
                {},
                optional=dict.fromkeys(
                    ["type", "arn", "principalId", "accountId", "userName", "sessionContext"],
                    JSON_VALUES,
                ),
            ),
        },
    )
)
def test_any_json_record_gives_the_alert_validation_would_make(record: dict[str, Any]) -> None:
    alert = build_alert(make_rule("{userAgent} {requestParameters.a.0}"), record)

    assert_as_if_validated(alert)
    assert len(orjson.dumps(alert.what.request_parameters)) <= REQUEST_PARAMETERS_MAX_BYTES


DEEP_VALUES = st.recursive(
    JSON_VALUES, lambda children: st.lists(children, min_size=1, max_size=1), max_leaves=40
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=8), JSON_VALUES | DEEP_VALUES, max_size=4))
@example({"deep": json.loads("[" * 40 + "]" * 40), "big": 2**64, "nan": float("nan")})
@example({"deep": json.loads("[" * 40 + "]" * 40)})
def test_request_parameters_kept_whole_are_the_plain_json_copy_whichever_way_it_is_made(
    parameters: dict[str, Any],
) -> None:
    plain = plain_json(parameters, 0)
    expected = redact(plain) if may_hold_secret_in_json(orjson.dumps(plain).decode()) else plain
    if len(orjson.dumps(expected)) > REQUEST_PARAMETERS_MAX_BYTES:
        return  # Shrunk: other tests hold that.

    assert request_parameters(parameters) == expected

"""The JSON Schema of rule files: valid itself, strict on typos, and accepting real Sigma rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.corpus import SIGMAHQ_RULES
from tests.support.rules import rule_text
from trailhound import cli
from trailhound.authoring.schema import rule_file_schema

BROKEN_RULES = Path(__file__).parent / "broken_rules"

GOOD = rule_text("selection:\n  eventName: StopLogging\ncondition: selection")

FULL = rule_text(
    "selection:\n  eventName: StopLogging\ncondition: selection",
    """\
    id: 4db60cc0-36fb-42b7-9b58-a5b53019fb74
    status: experimental
    description: Someone stopped a trail.
    author: trailhound
    date: 2024-07-30
    tags: [attack.t1562.008]
    falsepositives: [Trail maintenance]
    enabled: true
    alert:
      title: "Trail stopped by {userIdentity.arn}"
    runbook: Restart the trail.
    tests:
      - name: stopping fires
        expect: true
        event: {eventName: StopLogging}
      - name: from a file
        expect: false
        event: events/cloudtrail/start_logging.json
    """,
)


def as_json(text: str) -> Any:
    """What an editor validates: YAML read as JSON, so unquoted dates are strings."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def jsonschema() -> Any:
    return pytest.importorskip(
        "jsonschema", reason="the jsonschema package is not installed in this environment"
    )


def schema_errors(document: Any) -> list[str]:
    validator = jsonschema().Draft202012Validator(rule_file_schema())
    return [error.message for error in validator.iter_errors(document)]


def test_schema_declares_json_schema_2020_12() -> None:
    assert rule_file_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_is_valid_json_schema() -> None:
    jsonschema().Draft202012Validator.check_schema(rule_file_schema())


def test_schema_is_json_serialisable() -> None:
    schema = rule_file_schema()
    assert json.loads(json.dumps(schema)) == schema


def test_schema_accepts_a_minimal_rule() -> None:
    assert schema_errors(as_json(GOOD)) == []


def test_schema_accepts_every_trailhound_key() -> None:
    assert schema_errors(as_json(FULL)) == []


def test_schema_rejects_an_unknown_top_level_key() -> None:
    errors = schema_errors(as_json(GOOD + "runbok: Restart the trail.\n"))
    assert len(errors) == 1
    assert "'runbok' was unexpected" in errors[0]


@pytest.mark.parametrize(
    ("replace", "by", "fragment"),
    [
        ("product: aws", "product: windows", "'aws' was expected"),
        ("level: medium", "level: urgent", "'urgent' is not one of"),
        ("level: medium\n", "", "'level' is a required property"),
        ("condition: selection", "filter: selection", "'condition' is a required property"),
    ],
)
def test_schema_rejects_what_the_loader_rejects(replace: str, by: str, fragment: str) -> None:
    assert replace in GOOD
    errors = schema_errors(as_json(GOOD.replace(replace, by)))
    assert any(fragment in error for error in errors), errors


@pytest.mark.parametrize(
    "stem",
    [
        "alert_key_typo",
        "bad_level",
        "bad_test_expect",
        "correlation_rule",
        "missing_level",
        "missing_logsource",
        "unknown_test_key",
        "unknown_top_level_key",
        "windows_logsource",
    ],
)
def test_schema_rejects_broken_rule_files(stem: str) -> None:
    text = (BROKEN_RULES / f"{stem}.yml").read_text(encoding="utf-8")
    assert schema_errors(as_json(text))


def test_condition_may_be_a_list_of_strings() -> None:
    text = GOOD.replace("condition: selection", "condition: [selection]")
    assert schema_errors(as_json(text)) == []
    assert schema_errors(as_json(GOOD.replace("condition: selection", "condition: 7")))


SIGMAHQ_FILES: list[Any] = sorted(SIGMAHQ_RULES.glob("*.yml")) or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"SigmaHQ rules absent ({SIGMAHQ_RULES})"))
]


@pytest.mark.parametrize("path", SIGMAHQ_FILES, ids=lambda path: getattr(path, "stem", "absent"))
def test_schema_accepts_sigmahq_cloudtrail_rule(path: Path) -> None:
    assert schema_errors(as_json(path.read_text(encoding="utf-8"))) == []


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == rule_file_schema()


FILTER = """\
title: The CI role may terminate its runners
logsource:
  product: aws
  service: cloudtrail
enabled: false
filter:
  rules:
    - ec2_instances_terminated
  ci_role:
    userIdentity.sessionContext.sessionIssuer.arn: arn:aws:iam::123456789012:role/ci
  condition: not ci_role
"""


def test_schema_accepts_the_filter_files_of_the_rule_pack() -> None:
    filters = sorted((Path(__file__).parents[2] / "rules" / "filters").glob("*.yml"))
    assert filters
    for path in filters:
        assert schema_errors(as_json(path.read_text(encoding="utf-8"))) == [], path
    assert schema_errors(as_json(FILTER)) == []
    assert schema_errors(as_json(FILTER.replace("    - ec2_instances_terminated", "  - x"))) == []


@pytest.mark.parametrize(
    ("replace", "by", "fragment"),
    [
        ("enabled: false", "enabeld: false", "'enabeld' was unexpected"),
        ("  rules:\n    - ec2_instances_terminated\n", "", "'rules' is a required property"),
        ("  condition: not ci_role\n", "", "'condition' is a required property"),
        ("product: aws", "product: gcp", "'aws' was expected"),
        ("  ci_role:", "  ci_role: 7\n  other:", "7 is not of type 'object', 'array'"),
    ],
)
def test_schema_checks_filter_files_as_the_loader_does(
    replace: str, by: str, fragment: str
) -> None:
    assert replace in FILTER
    errors = schema_errors(as_json(FILTER.replace(replace, by)))
    assert any(fragment in error for error in errors), errors
    # A filter is not held to a rule's keys: no complaint about 'detection' or 'level'.
    assert not any("detection" in error or "level" in error for error in errors), errors

"""The `trailhound` command as the security team uses it: test, replay, schema."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.corpus import CORPUS
from tests.support.payloads import encode_subscription
from tests.support.rules import WriteRule, rule_text
from trailhound.cli import main

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
EVENTS = REPO / "events"


def test_rule_tests_end_with_the_count_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(RULES)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    passed, failed = last.split(", ")
    assert passed.endswith(" passed") and int(passed.split()[0]) >= 12
    assert failed == "0 failed"


def test_a_failing_rule_test_names_the_rule_the_test_and_why(
    write_rule: WriteRule, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_rule(
        rule_text(
            "selection:\n  eventName: DeleteBucket\ncondition: selection",
            "tests:\n  - name: fires on a bucket deletion\n    expect: true\n"
            "    event: {eventName: DeleteTrail, eventSource: cloudtrail.amazonaws.com}\n",
        ),
        name="s3_delete.yml",
    )
    assert main(["test", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        "FAIL s3_delete :: fires on a bucket deletion: expected a match, got none (selection: no)"
    )
    assert lines[-1] == "0 passed, 1 failed"


def test_a_rule_that_does_not_load_counts_as_a_failure(
    write_rule: WriteRule, capsys: pytest.CaptureFixture[str]
) -> None:
    write_rule("title: [unclosed\n", name="broken.yml")
    good = write_rule(
        rule_text(
            "selection:\n  eventName: ConsoleLogin\ncondition: selection",
            "tests:\n  - name: fires\n    expect: true\n    event: {eventName: ConsoleLogin}\n",
        ),
        name="good.yml",
    )
    assert main(["test", str(good.parent)]) == 1
    out = capsys.readouterr().out
    assert "FAIL " in out and "broken.yml:2: invalid YAML" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


DESIGN_RULES = (
    "ec2/ec2_instances_terminated.yml",
    "s3/s3_bucket_deleted.yml",
    "signin/signin_root_console_login.yml",
)


def test_replay_prints_one_json_alert_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in DESIGN_RULES:
        (tmp_path / Path(name).name).write_bytes((RULES / name).read_bytes())
    subscription = str(EVENTS / "subscription")
    code = main(["replay", "--rules", str(tmp_path), "--format", "json", subscription])
    assert code == 0
    output = capsys.readouterr()
    alerts = [json.loads(line) for line in output.out.splitlines()]
    assert sorted(alert["rule_id"] for alert in alerts) == [
        "ec2_instances_terminated",
        "s3_bucket_deleted",
        "signin_root_console_login",
        "signin_root_console_login",
    ]
    assert all(alert["who"]["arn"] and alert["event_time"] for alert in alerts)
    assert "19 events read, 0 could not be parsed" in output.err
    assert "2  signin_root_console_login" in output.err


def test_replay_text_answers_who_what_when_where(capsys: pytest.CaptureFixture[str]) -> None:
    event = EVENTS / "cloudtrail" / "s3_delete_bucket.json"
    assert main(["replay", "--rules", str(RULES), str(event)]) == 0
    text = capsys.readouterr().out
    for label in ("Who:", "What: s3:DeleteBucket", "When: 2024-05-14", "Where: account"):
        assert label in text


def test_replay_reports_bad_input_and_still_alerts_on_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.loads((EVENTS / "cloudtrail" / "s3_delete_bucket.json").read_text())
    lines = tmp_path / "mixed.jsonl"
    lines.write_text("not json\n" + json.dumps(good) + '\n{"no": "record"}\n')
    code = main(["replay", "--rules", str(RULES), "--format", "json", str(lines)])
    assert code == 1
    output = capsys.readouterr()
    assert len(output.out.splitlines()) == 1
    assert f"skipped {lines}:1: not JSON" in output.err
    assert f"skipped {lines}:3:" in output.err
    assert "1 events read, 2 could not be parsed" in output.err


def test_replay_reads_a_subscription_payload_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    record = json.loads((EVENTS / "cloudtrail" / "s3_delete_bucket.json").read_text())
    payload = json.dumps(encode_subscription([record])).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload)))
    assert main(["replay", "--rules", str(RULES), "--format", "json", "-"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["rule_id"] == "s3_bucket_deleted"


def test_the_real_corpus_replays_without_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--rules", str(RULES), "--format", "json", str(CORPUS)]) == 0
    err = capsys.readouterr().err
    assert "3524 events read, 0 could not be parsed" in err


def test_schema_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "detection" in schema["$defs"]["RuleFile"]["required"]
    assert "filter" in schema["$defs"]["FilterFile"]["required"]


def test_the_installed_command_and_python_m_agree() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trailhound", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("trailhound ")


def test_replay_fails_loudly_when_an_alert_cannot_be_built(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("renderer out of order")

    monkeypatch.setattr("trailhound.pipeline.detection.build_alert", broken)

    status = main(
        [
            "replay",
            "--rules",
            str(RULES / "s3"),
            str(EVENTS / "cloudtrail" / "s3_delete_bucket.json"),
        ]
    )

    output = capsys.readouterr()
    assert status == 1
    assert "alert of rule s3_bucket_deleted on " in output.err
    assert "not built: RuntimeError: renderer out of order" in output.err

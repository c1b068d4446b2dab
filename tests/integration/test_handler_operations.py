"""What the operator sees of a batch: every bad line accounted for, metrics where the template
says, whenever the environment was set."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from tests.support.lambda_stack import RULES, AlertStack, Invoke, logs, metric_totals, read_event
from trailhound.lambda_function.observability import LOGGED_PER_KIND

pytestmark = pytest.mark.integration


def with_garbage_lines(event: dict[str, Any], count: int) -> dict[str, Any]:
    """The payload with `count` more log events that are not JSON, encoded as CloudWatch Logs."""
    document = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    first = int(document["logEvents"][-1]["id"]) + 1
    document["logEvents"] += [
        {"id": str(first + index), "timestamp": 1715674443000, "message": f"garbage {index}"}
        for index in range(count)
    ]
    data = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    return {"awslogs": {"data": data}}


def test_bad_lines_past_the_logged_ones_are_listed_in_one_more_line(
    invoke: Invoke, alert_stack: AlertStack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = with_garbage_lines(read_event("subscription/cloudtrail-batch.json"), 30)

    result = invoke(event)

    output = capsys.readouterr().out
    assert result["events"] == 7 and result["alerts"] == 4
    assert metric_totals(output)["ParseFailures"] == 30
    logged = logs(output, "log event is not a CloudTrail record")
    (rest,) = logs(output, "more log events are not CloudTrail records; only the first were logged")
    assert len(logged) == LOGGED_PER_KIND
    assert rest["not_logged"] == 30 - LOGGED_PER_KIND == len(rest["log_events"])
    every = [warning["log_event"] for warning in logged] + rest["log_events"]
    assert len(set(every)) == 30


def test_metrics_go_to_the_namespace_set_when_the_function_runs(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "security-pipeline")

    invoke(read_event("subscription/cloudtrail-batch.json"))

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert blobs
    assert {blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] for blob in blobs} == {
        "security-pipeline"
    }


def test_a_stack_named_without_trailhound_is_warned_that_it_is_not_self_watched(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    event = read_event("subscription/cloudtrail-batch.json")
    warning = "the rules that watch trailhound itself cannot see changes to this stack"
    monkeypatch.setenv("RULES_PATHS", f"rules,{RULES / 'lambda'}")

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "trailhound-AlertFunction-AbCdEf123456")
    invoke(event)
    assert not [line for line in capsys.readouterr().out.splitlines() if warning in line]

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "security-alerts-AlertFunction-AbCdEf123456")
    result = invoke(event)
    output = capsys.readouterr().out
    assert result["alerts"] == 4  # a warning, not a failure: the rules still run
    (logged,) = [entry for entry in map(json.loads, output.splitlines()) if warning in str(entry)]
    assert logged["level"] == "WARNING"
    assert logged["names"] == ["security-alerts-AlertFunction-AbCdEf123456"]

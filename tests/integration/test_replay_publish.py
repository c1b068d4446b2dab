"""`trailhound replay --publish`: the Lambda's publisher, from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support.lambda_stack import EVENTS, AlertStack
from trailhound.cli import main

pytestmark = pytest.mark.integration

BATCH = str(EVENTS / "subscription" / "cloudtrail-batch.json")


@pytest.fixture
def rules(task_root: Path) -> str:
    return str(task_root / "rules")


def test_replay_publishes_the_alerts_it_prints(
    alert_stack: AlertStack, rules: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["replay", "--rules", rules, "--format", "json", "--publish", alert_stack.topic_arn, BATCH]
    )

    out, err = capsys.readouterr()
    printed = [json.loads(line) for line in out.splitlines()]
    delivered = alert_stack.delivered()
    assert status == 0
    assert len(printed) == len(delivered) == 4
    assert sorted(alert["title"] for alert in printed) == sorted(
        notification["Message"].splitlines()[0] for notification in delivered
    )
    assert f"published 4 alerts to {alert_stack.topic_arn}, 0 failed" in err
    assert all(set(message) == {"default", "https"} for message in alert_stack.published())


def test_replay_publishes_a_repeated_alert_once(
    alert_stack: AlertStack, rules: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["replay", "--rules", rules, "--publish", alert_stack.topic_arn, BATCH, BATCH])

    assert status == 0
    assert len(alert_stack.delivered()) == 4
    assert "published 4 alerts" in capsys.readouterr().err


def test_replay_says_what_it_could_not_publish_and_fails(
    alert_stack: AlertStack, rules: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alert_stack.sns.delete_topic(TopicArn=alert_stack.topic_arn)

    status = main(["replay", "--rules", rules, "--publish", alert_stack.topic_arn, BATCH])

    out, err = capsys.readouterr()
    assert status == 1
    assert out.count("Severity: ") == 4
    assert err.count("not published: ") == 4
    assert "NotFound" in err
    assert "published 0 alerts" in err and "4 failed" in err


def test_replay_refuses_a_topic_that_is_not_an_arn(rules: str) -> None:
    with pytest.raises(SystemExit, match="not the ARN of a standard SNS topic"):
        main(["replay", "--rules", rules, "--publish", "alerts", BATCH])


def test_endpoint_and_region_need_publish(rules: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["replay", "--rules", rules, "--region", "eu-west-1", BATCH])

    assert status == 2
    assert "only go with --publish" in capsys.readouterr().err


@pytest.fixture
def moto_server(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a server on a free local port, as `.venv/bin/moto_server -p 5000` runs it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # The region comes from the topic's ARN, not the environment.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    yield f"http://{host}:{port}"
    server.stop()


def test_replay_publishes_to_moto_server_at_an_endpoint_url(
    moto_server: str, rules: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"region_name": "eu-west-1", "endpoint_url": moto_server}
    sns, sqs = boto3.client("sns", **options), boto3.client("sqs", **options)
    topic_arn = sns.create_topic(Name="replayed")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="replayed")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])

    status = main(
        ["replay", "--rules", rules, "--publish", topic_arn, "--endpoint-url", moto_server, BATCH]
    )

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert status == 0
    assert len(messages) == 4
    subjects = sorted(json.loads(message["Body"])["Subject"] for message in messages)
    assert subjects[0] == "[CRITICAL] Root console sign-in (Failure) from 203.0.113.87"
    assert f"published 4 alerts to {topic_arn}" in capsys.readouterr().err

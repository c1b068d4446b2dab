"""Fixtures for the alert Lambda's integration tests: moto and the template's environment."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.lambda_stack import (
    REGION,
    RULES,
    TABLE,
    TEST_RULES,
    TOPIC,
    AlertStack,
    AwsClients,
    Invoke,
    InvokeWith,
    LambdaContext,
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the powertools settings the template's Globals set."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS", "RULES_PATHS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "trailhound")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "trailhound-tests")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(scope="session")
def aws_clients() -> AwsClients:
    """Clients made once: moto serves whichever of its mocks is active when they are used."""
    options: dict[str, Any] = {
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return AwsClients(
        sns=boto3.client("sns", **options),
        sqs=boto3.client("sqs", **options),
        dynamodb=boto3.client("dynamodb", **options),
    )


@pytest.fixture
def alert_stack(aws_env: None, aws_clients: AwsClients) -> Iterator[AlertStack]:
    with mock_aws():
        aws_clients.dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        aws_clients.dynamodb.update_time_to_live(
            TableName=TABLE,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
        )
        stack = AlertStack(
            topic_arn=aws_clients.sns.create_topic(Name=TOPIC)["TopicArn"],
            queue_url=aws_clients.sqs.create_queue(QueueName="alert-inbox")["QueueUrl"],
            sns=aws_clients.sns,
            sqs=aws_clients.sqs,
            dynamodb=aws_clients.dynamodb,
        )
        stack.subscribe_queue()
        yield stack


@pytest.fixture(scope="session")
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Lambda task root whose rules/ holds `TEST_RULES`, copied from the repository's rules.

    A fixed set keeps the expected alerts stable while the rule pack grows.
    """
    root = tmp_path_factory.mktemp("task-root")
    (root / "rules").mkdir()
    for rule in TEST_RULES:
        shutil.copy(RULES / rule, root / "rules")
    return root


@pytest.fixture
def lambda_env(alert_stack: AlertStack, task_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables the template sets; rules are found under the task root as in the package."""
    monkeypatch.setenv("ALERT_TOPIC_ARN", alert_stack.topic_arn)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(task_root))


class CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time, as `capsys` swaps it per test phase."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def invoke_with(lambda_env: None, monkeypatch: pytest.MonkeyPatch) -> InvokeWith:
    """Call the handler in-process with a context of the test's, its logs going to `capsys`."""
    from trailhound.lambda_function import handler

    # The logger keeps the stream it was made with, which outlives the capture it came from.
    monkeypatch.setattr(handler.logger.registered_handler, "stream", CurrentStdout())

    def call(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handler.lambda_handler(event, context)

    return call


@pytest.fixture
def invoke(invoke_with: InvokeWith) -> Invoke:
    """Call the handler in-process, as Lambda would, with its logs going to `capsys`."""

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return invoke_with(event, LambdaContext())

    return call

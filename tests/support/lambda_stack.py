"""The alert Lambda's world in moto, and ways to read what the function did.

The SNS topic, an SQS queue subscribed to it, and the DynamoDB table for idempotency, as the
template creates them; the Lambda context; the function's logs and EMF metrics from its output.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
RULES = REPO / "rules"
TOPIC = "trailhound-alerts"
TABLE = "trailhound-idempotency"
# The rules the handler loads in these tests (see the `task_root` fixture).
TEST_RULES = (
    "s3/s3_bucket_deleted.yml",
    "ec2/ec2_instances_terminated.yml",
    "signin/signin_root_console_login.yml",
)

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
InvokeWith = Callable[[dict[str, Any], Any], dict[str, Any]]


def function_environment(**variables: str) -> dict[str, str]:
    """This process's environment with the variables the template gives the function, and
    `variables` (RULES_PATHS, RULES_BUNDLES, ...): for a handler in a fresh interpreter."""
    return {
        **os.environ,
        "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}",
        "IDEMPOTENCY_TABLE": TABLE,
        "POWERTOOLS_SERVICE_NAME": "trailhound",
        "POWERTOOLS_METRICS_NAMESPACE": "trailhound",
        "AWS_DEFAULT_REGION": REGION,
        **variables,
    }


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that powertools reads, at the template's
    size (1,769 MB) and timeout (120 s)."""

    function_name: str = "trailhound-alerts"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trailhound-alerts"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/trailhound-alerts"
    log_stream_name: str = "2024/05/14/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


@dataclass(frozen=True)
class AwsClients:
    sns: SNSClient
    sqs: SQSClient
    dynamodb: DynamoDBClient


@dataclass
class AlertStack:
    """The resources the template creates, in moto, and ways to read what reached them."""

    topic_arn: str
    queue_url: str
    sns: SNSClient
    sqs: SQSClient
    dynamodb: DynamoDBClient

    def subscribe_queue(self) -> None:
        """Subscribe the queue to the topic, getting SNS's JSON envelope (not raw delivery)."""
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )

    def delivered(self) -> list[dict[str, Any]]:
        """The SNS notifications that reached the queue since the last call, as e-mail sees them."""
        notifications: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return notifications
            for message in messages:
                notifications.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def published(self) -> list[dict[str, str]]:
        """Every message SNS accepted, whole: the `default` (e-mail) and `https` versions.

        An HTTPS subscriber (AWS Chatbot) gets the `https` version; moto delivers it by a
        network request, so it is read from moto's record of the topic instead.
        """
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        return [json.loads(sent[1]) for sent in topic.sent_notifications]


def read_event(relative: str) -> dict[str, Any]:
    """A Lambda event from events/."""
    event: dict[str, Any] = json.loads((EVENTS / relative).read_bytes())
    return event


def sample_record(name: str) -> dict[str, Any]:
    """A CloudTrail record from events/cloudtrail/, by file stem."""
    record: dict[str, Any] = json.loads((EVENTS / "cloudtrail" / f"{name}.json").read_bytes())
    return record


def emitted(output: str) -> list[dict[str, Any]]:
    """The JSON lines the function printed: structured logs and EMF metric blobs."""
    lines = []
    for line in output.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def metric_totals(output: str) -> dict[str, float]:
    """Each EMF metric's values summed over the output, ignoring dimensions."""
    totals: dict[str, float] = {}
    for blob in emitted(output):
        if "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                name = metric["Name"]
                totals[name] = totals.get(name, 0.0) + sum(blob[name])
    return totals


def logs(output: str, message: str) -> list[dict[str, Any]]:
    """The structured log records with this message."""
    return [line for line in emitted(output) if line.get("message") == message]

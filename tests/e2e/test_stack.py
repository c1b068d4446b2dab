"""template.yaml deployed to moto server, CloudTrail events in, SNS notifications out.

The local proof that the stack is wired right: the template is translated and deployed (see
`stack_deployment`), CloudTrail records are written to the subscribed log group, CloudWatch
Logs delivers them through the stack's subscription filter (to Kinesis, since moto cannot run
the function without Docker), the function's handler gets that real payload with the
environment the stack gave it and the rules from the layer it built, and an HTTP server on
127.0.0.1 receives what SNS delivers to the stack's subscribers.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from tests.support.lambda_stack import LambdaContext
from tests.support.stack_deployment import ACCOUNT, REGION, REPO, Deployment, LocalEndpoints, deploy

pytestmark = pytest.mark.integration

EVENTS = REPO / "events" / "cloudtrail"
ALERTING = ["ec2_terminate_instances.json", "s3_delete_bucket.json"]
ROOT_LOGIN = "signin_root_console_login_success.json"
QUIET = "ec2_describe_instances.json"
ALERT_EMAIL = "oncall@example.com"
PAGER = "https://pager.example.com/sns"
ORGANIZATION_LOG_GROUP = "aws-controltower/CloudTrailLogs"


class Inbox:
    """An HTTP server on 127.0.0.1 that keeps every SNS notification, by request path."""

    def __init__(self) -> None:
        received: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.put((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads the notifications, not the access log."""

        self._received = received
        self._kept: list[tuple[str, dict[str, Any]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def address(self, stack: str, protocol: str, endpoint: str) -> tuple[str, str]:
        """Where a subscriber of a stack receives here: one path per stack, protocol, endpoint."""
        return "http", f"{self.url}/{stack}/{protocol}/{quote(endpoint, safe='')}"

    def notifications(self, stack: str, protocol: str, endpoint: str) -> list[dict[str, Any]]:
        """The SNS notifications delivered so far to that subscriber."""
        while not self._received.empty():
            self._kept.append(self._received.get())
        path = self.address(stack, protocol, endpoint)[1].removeprefix(self.url)
        return [body for where, body in self._kept if where == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Stack:
    """A deployed stack and where its log group's subscription delivers."""

    deployment: Deployment
    inbox: Inbox
    log_group: str
    shard_iterator: str
    opt: Path
    """The rules layer's content, unpacked from the uploaded artifact: Lambda's /opt."""

    def write_cloudtrail_events(self, events: list[dict[str, Any]]) -> None:
        """Put records in the log group as CloudTrail does: JSON lines, a stream per Region."""
        logs = self.deployment.client("logs")
        stream = f"{ACCOUNT}_CloudTrail_{REGION}"
        existing = logs.describe_log_streams(
            logGroupName=self.log_group, logStreamNamePrefix=stream
        )
        if not existing["logStreams"]:
            logs.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=self.log_group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": now, "message": json.dumps(event, separators=(",", ":"))}
                for event in events
            ],
        )

    def subscription_payloads(self) -> list[dict[str, Any]]:
        """The Lambda events CloudWatch Logs delivered since the last call."""
        records = self.deployment.client("kinesis").get_records(ShardIterator=self.shard_iterator)
        self.shard_iterator = records["NextShardIterator"]
        return [_lambda_event(record["Data"]) for record in records["Records"]]

    def function_environment(self) -> dict[str, str]:
        """The variables the stack gave the function, with /opt where the test unpacked it."""
        function = self.deployment.physical_ids["AlertFunction"]
        configuration = self.deployment.client("lambda").get_function_configuration(
            FunctionName=function
        )
        variables: dict[str, str] = dict(configuration["Environment"]["Variables"])
        for name in ("RULES_PATHS", "RULES_BUNDLES"):
            variables[name] = ",".join(
                str(self.opt / Path(path).relative_to("/opt")) if path.startswith("/opt/") else path
                for path in variables[name].split(",")
            )
        return variables


def _lambda_event(data: bytes) -> dict[str, Any]:
    """CloudWatch Logs gives Kinesis the gzip payload (moto stores it base64-encoded) and Lambda
    the same gzip payload base64-encoded under `awslogs.data`."""
    gzipped = data if data[:2] == b"\x1f\x8b" else base64.b64decode(data)
    return {"awslogs": {"data": base64.b64encode(gzipped).decode("ascii")}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server on a free port of 127.0.0.1, for this module alone."""
    port = _free_port()
    command = [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1"]
    # A file, not a pipe: moto logs every request, and a full pipe would stall it.
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as output:
        process = subprocess.Popen([*command, "-p", str(port)], stdout=output, stderr=output)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json"):
                break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                pytest.fail(f"moto_server did not start:\n{log.read_text()}")
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait()


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    yield server
    server.close()


@pytest.fixture(scope="module", params=["new trail", "existing log group"])
def stack(
    request: pytest.FixtureRequest,
    moto_server: str,
    inbox: Inbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Stack:
    """The stack with its own trail, or subscribed to an organization trail's log group."""
    name = "trailhound" if request.param == "new trail" else "trailhound-org"
    parameters = {"AlertEmail": ALERT_EMAIL, "CriticalEndpoint": PAGER, "CriticalProtocol": "https"}
    kinesis = _client(moto_server, "kinesis")
    kinesis.create_stream(StreamName=f"{name}-subscription", ShardCount=1)
    stream = kinesis.describe_stream(StreamName=f"{name}-subscription")["StreamDescription"]
    if request.param == "existing log group":
        _client(moto_server, "logs").create_log_group(logGroupName=ORGANIZATION_LOG_GROUP)
        parameters["ExistingLogGroupName"] = ORGANIZATION_LOG_GROUP
    local = LocalEndpoints(
        subscriber=lambda protocol, endpoint: inbox.address(name, protocol, endpoint),
        log_destination=(stream["StreamARN"], f"arn:aws:iam::{ACCOUNT}:role/{name}-to-kinesis"),
    )
    work = tmp_path_factory.mktemp(name)
    deployment = deploy(name, parameters, moto_server, work, local)
    iterator = kinesis.get_shard_iterator(
        StreamName=stream["StreamName"],
        ShardId=stream["Shards"][0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    return Stack(
        deployment=deployment,
        inbox=inbox,
        log_group=deployment.outputs()["SubscribedLogGroupName"],
        shard_iterator=iterator,
        opt=_unpack_layer(deployment, work / "opt"),
    )


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _unpack_layer(deployment: Deployment, target: Path) -> Path:
    """The function's layer as Lambda unpacks it into /opt, from the artifact the stack names."""
    (layer,) = deployment.template["Resources"]["AlertFunction"]["Properties"]["Layers"]
    content = deployment.properties(layer["Ref"])["Content"]
    archive = target.with_suffix(".zip")
    deployment.client("s3").download_file(content["S3Bucket"], content["S3Key"], str(archive))
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(target)
    return target


@pytest.fixture
def invoke(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The function's handler, in-process, with the stack's environment and moto server as AWS."""
    for name, value in stack.function_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(REPO / "functions"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.deployment.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from trailhound.lambda_function import handler

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return handler.lambda_handler(event, LambdaContext())

    return call


def _events(names: list[str]) -> list[dict[str, Any]]:
    return [json.loads((EVENTS / name).read_text(encoding="utf-8")) for name in names]


def _new_notifications(stack: Stack, before: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: stack.inbox.notifications(stack.deployment.name, *subscriber)[before[name] :]
        for name, subscriber in SUBSCRIBERS.items()
    }


SUBSCRIBERS = {"email": ("email", ALERT_EMAIL), "pager": ("https", PAGER)}


def _counts(stack: Stack) -> dict[str, int]:
    return {
        name: len(stack.inbox.notifications(stack.deployment.name, *subscriber))
        for name, subscriber in SUBSCRIBERS.items()
    }


def test_cloudtrail_events_in_the_log_group_notify_email_and_critical_ones_the_pager(
    stack: Stack, invoke: Any
) -> None:
    events = _events([*ALERTING, ROOT_LOGIN, QUIET])
    before = _counts(stack)

    stack.write_cloudtrail_events(events)
    results = [invoke(payload) for payload in stack.subscription_payloads()]

    assert sum(result["events"] for result in results) == len(events)
    alerts = sum(result["alerts"] for result in results)
    assert alerts == sum(result["published"] for result in results)
    delivered = _new_notifications(stack, before)
    assert len(delivered["email"]) == alerts
    topic = stack.deployment.outputs()["AlertTopicArn"]
    assert {notification["TopicArn"] for notification in delivered["email"]} == {topic}
    critical = [n for n in delivered["email"] if "Severity: CRITICAL" in n["Message"]]
    assert [n["MessageId"] for n in delivered["pager"]] == [n["MessageId"] for n in critical]
    root_login, quiet = _events([ROOT_LOGIN, QUIET])
    assert any(root_login["eventID"] in n["Message"] for n in delivered["pager"])
    assert not any(quiet["eventID"] in n["Message"] for n in delivered["email"])


def test_the_function_loads_the_rule_bundle_built_into_its_layer(
    stack: Stack, invoke: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.payloads import encode_subscription
    from trailhound.lambda_function import handler

    handler.runtime_for.cache_clear()
    with caplog.at_level(logging.INFO, logger="trailhound"):
        assert invoke(encode_subscription(_events([ROOT_LOGIN])))["alerts"] > 0

    (loaded,) = [record for record in caplog.records if record.getMessage() == "rules loaded"]
    assert loaded.source == "bundle"  # type: ignore[attr-defined]
    files = list((stack.opt / "rules").rglob("*.yml"))
    filters = list((stack.opt / "rules" / "filters").glob("*.yml"))
    assert loaded.rules == len(files) - len(filters)  # type: ignore[attr-defined]


def test_a_redelivered_batch_notifies_no_one_again(stack: Stack, invoke: Any) -> None:
    (event,) = _events(["s3_delete_bucket.json"])
    event["eventID"] = f"{stack.deployment.name}-redelivered-0001"
    stack.write_cloudtrail_events([event])
    (payload,) = stack.subscription_payloads()
    before = _counts(stack)

    first = invoke(payload)
    second = invoke(payload)

    assert first["published"] == first["alerts"] > 0
    assert second["published"] == 0
    assert second["alreadyDelivered"] == first["alerts"]
    assert len(_new_notifications(stack, before)["email"]) == first["alerts"]


def test_delivered_alerts_expire_from_the_table_by_its_ttl_attribute(
    stack: Stack, invoke: Any
) -> None:
    (event,) = _events(["ec2_terminate_instances.json"])
    event["eventID"] = f"{stack.deployment.name}-ttl-0001"
    stack.write_cloudtrail_events([event])
    (payload,) = stack.subscription_payloads()
    invoke(payload)

    dynamodb = stack.deployment.client("dynamodb")
    table = stack.deployment.outputs()["IdempotencyTableName"]
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    items = dynamodb.scan(TableName=table)["Items"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert items
    assert all(ttl["AttributeName"] in item for item in items)


def test_the_log_group_subscription_may_invoke_the_function(stack: Stack) -> None:
    deployment = stack.deployment
    function_arn = deployment.attribute("AlertFunction", "Arn")
    (subscription,) = deployment.of_type("AWS::Logs::SubscriptionFilter")
    policy = json.loads(deployment.client("lambda").get_policy(FunctionName=function_arn)["Policy"])
    (statement,) = policy["Statement"]
    log_group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{stack.log_group}:*"

    assert deployment.properties(subscription)["DestinationArn"] == function_arn
    assert deployment.properties(subscription)["LogGroupName"] == stack.log_group
    assert statement["Principal"] == {"Service": "logs.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == log_group_arn


def test_a_trail_is_created_only_without_an_existing_log_group(stack: Stack) -> None:
    deployment = stack.deployment
    trails = deployment.client("cloudtrail").describe_trails()["trailList"]
    mine = [trail for trail in trails if trail["Name"] == deployment.name]

    if "ExistingLogGroupName" in deployment.parameters:
        assert mine == []
        assert deployment.of_type("AWS::S3::Bucket") == []
        assert stack.log_group == ORGANIZATION_LOG_GROUP
        return
    (trail,) = mine
    status = deployment.client("cloudtrail").get_trail_status(Name=deployment.name)
    assert trail["CloudWatchLogsLogGroupArn"].startswith(
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{stack.log_group}:"
    )
    assert trail["S3BucketName"] == deployment.outputs()["TrailBucketName"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["KmsKeyId"] == deployment.outputs()["KeyArn"]
    assert status["IsLogging"] is True


def test_alarms_on_the_pipeline_notify_the_alert_topic(stack: Stack) -> None:
    deployment = stack.deployment
    outputs = deployment.outputs()
    names = [
        deployment.physical_ids[alarm] for alarm in deployment.of_type("AWS::CloudWatch::Alarm")
    ]
    alarms = deployment.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    watched = {
        (alarm["Namespace"], alarm["MetricName"]): {d["Value"] for d in alarm["Dimensions"]}
        for alarm in alarms
    }
    queue_name = outputs["FailureQueueUrl"].rsplit("/", 1)[1]

    assert watched == {
        ("AWS/Lambda", "Errors"): {outputs["AlertFunctionName"]},
        ("AWS/Lambda", "Throttles"): {outputs["AlertFunctionName"]},
        ("AWS/Lambda", "Invocations"): {outputs["AlertFunctionName"]},
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): {queue_name},
    }
    for alarm in alarms:
        assert alarm["AlarmActions"] == [outputs["AlertTopicArn"]]


def test_the_function_may_write_only_its_own_log_group(stack: Stack) -> None:
    deployment = stack.deployment
    function = deployment.client("lambda").get_function_configuration(
        FunctionName=deployment.outputs()["AlertFunctionName"]
    )
    role = function["Role"].rsplit("/", 1)[1]
    attached = deployment.client("iam").list_attached_role_policies(RoleName=role)
    # moto keeps inline role policies as Python reprs, so they are read from the template.
    statements = [
        statement
        for policy in deployment.properties("AlertFunctionRole")["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    log_writes = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    own_logs = deployment.attribute("AlertFunctionLogGroup", "Arn")

    assert function["Role"] == deployment.attribute("AlertFunctionRole", "Arn")
    assert attached["AttachedPolicies"] == []
    assert [statement["Resource"] for statement in log_writes] == [own_logs]
    assert stack.log_group not in own_logs


def test_the_trail_bucket_admits_only_this_trail_of_this_account_over_tls(stack: Stack) -> None:
    deployment = stack.deployment
    if "ExistingLogGroupName" in deployment.parameters:
        assert deployment.of_type("AWS::S3::BucketPolicy") == []
        return
    bucket = deployment.outputs()["TrailBucketName"]
    policy = json.loads(deployment.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{deployment.name}"

    for_cloudtrail = [
        statement
        for statement in policy["Statement"]
        if statement.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}
    ]
    assert {statement["Action"] for statement in for_cloudtrail} == {
        "s3:GetBucketAcl",
        "s3:PutObject",
    }
    for statement in for_cloudtrail:
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    (deny,) = [statement for statement in policy["Statement"] if statement["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

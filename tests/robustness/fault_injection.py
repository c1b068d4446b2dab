"""Faults on SNS and DynamoDB under the Lambda handler: is every alert delivered, and once?

The handler runs in-process against moto server on 127.0.0.1, with botocore clients as the Lambda
makes them. A `before-send` hook on their session injects faults into the calls: throttling,
HTTP 500 and 503, read timeouts and connection errors before the request reaches the server, and,
in the last scenario, responses lost after the server acted. Botocore retries as configured;
an invocation that raises is invoked again with the same payload, twice at most, as Lambda's
asynchronous retries do, and a batch that fails all three goes to the on-failure destination.
The SNS topic's subscriber is an SQS queue, read back without faults to count deliveries.
Backoff sleeps are recorded rather than slept.

    .venv/bin/python -m tests.robustness.fault_injection [--alerts 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import random
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsIndex

import boto3
import orjson
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from moto.server import ThreadedMotoServer

from tests.support.lambda_stack import LambdaContext

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "events" / "cloudtrail"
REGION = "us-east-1"
TABLE = "trailhound-idempotency"
BATCH_RECORDS = 10
LAMBDA_ATTEMPTS = 3
"""Lambda's asynchronous invocation: the first try and two retries (the template's setting)."""

BEFORE_SERVER = ("throttling", "500", "503", "read timeout", "connection error")
AFTER_SERVER = "response lost"
"""The server acted, the client never heard: botocore retries what was in fact done."""

_SNS_ERRORS = {
    "throttling": (400, "Sender", "Throttling"),
    "500": (500, "Receiver", "InternalError"),
    "503": (503, "Receiver", "ServiceUnavailable"),
}
_DYNAMODB_ERRORS = {
    "throttling": (400, "ThrottlingException"),
    "500": (500, "InternalServerError"),
    "503": (503, "ServiceUnavailable"),
}


class _Body:
    """The `raw` of a botocore response: what `AWSResponse.content` streams."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class Faults:
    """Decides, call by call, whether SNS or DynamoDB fails and how; counts what it did."""

    rnd: random.Random
    rate: dict[str, float] = field(default_factory=dict)
    kinds: tuple[str, ...] = BEFORE_SERVER
    injected: Counter[str] = field(default_factory=Counter)
    sends: int = 0
    calls: int = 0

    def on_call(self, **_: Any) -> None:
        self.calls += 1

    def on_send(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> Any:
        self.sends += 1
        service = event_name.split(".")[1]
        if self.rnd.random() >= self.rate.get(service, 0.0):
            return None
        kind = self.rnd.choice(self.kinds)
        self.injected[f"{service} {kind}"] += 1
        if kind == "read timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "connection error":
            raise EndpointConnectionError(endpoint_url=request.url)
        if kind == AFTER_SERVER:
            _forward(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        return _error_response(service, kind, request)


def _error_response(service: str, kind: str, request: AWSPreparedRequest) -> AWSResponse:
    if service == "sns":
        status, sender, code = _SNS_ERRORS[kind]
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
            f"<Type>{sender}</Type><Code>{code}</Code><Message>injected</Message></Error>"
            "<RequestId>fault</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    else:
        status, code = _DYNAMODB_ERRORS[kind]
        body = orjson.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}
        )
        content_type = "application/x-amz-json-1.0"
    headers = HTTPHeaders()
    headers["Content-Type"] = content_type
    return AWSResponse(request.url, status, headers, _Body(body))


def _forward(request: AWSPreparedRequest) -> None:
    """Send the request to moto server for real, and drop its answer."""
    body = request.body
    data = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else None
    headers = {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }
    forwarded = urllib.request.Request(
        request.url, data=data, headers=headers, method=request.method
    )
    with contextlib.suppress(Exception), urllib.request.urlopen(forwarded, timeout=10):
        pass


@dataclass
class Scenario:
    name: str
    rate: dict[str, float]
    kinds: tuple[str, ...] = BEFORE_SERVER
    outage_every: int = 0
    """Every n-th batch's first invocation finds SNS and DynamoDB failing every call."""


SCENARIOS = (
    Scenario("no faults", {}),
    Scenario("SNS: 30% of calls fail", {"sns": 0.3}),
    Scenario("DynamoDB: 30% of calls fail", {"dynamodb": 0.3}),
    Scenario("both: 20% of calls fail", {"sns": 0.2, "dynamodb": 0.2}),
    Scenario("both down for 1 invocation in 4", {}, outage_every=4),
    Scenario(
        "both: 5% responses lost after the server acted",
        {"sns": 0.05, "dynamodb": 0.05},
        kinds=(AFTER_SERVER,),
    ),
)


@dataclass
class Figures:
    alerts: int = 0
    delivered: int = 0
    notified_twice: int = 0
    lost: int = 0
    invocations: int = 0
    failed_invocations: int = 0
    to_destination_batches: int = 0
    to_destination_alerts: int = 0
    faults: int = 0
    retried_calls: int = 0
    backoff_seconds: float = 0.0


class Stack:
    """The topic, its queue subscriber and the table, in moto server; read without faults."""

    def __init__(self, endpoint: str) -> None:
        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=REGION,
        )
        self.sns = session.client("sns", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)

    def create(self, name: str) -> str:
        """A fresh topic, queue and table; the topic's ARN."""
        table = f"{TABLE}-{name}"
        self.dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        topic = self.sns.create_topic(Name=f"alerts-{name}")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName=f"inbox-{name}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        os.environ["ALERT_TOPIC_ARN"] = topic
        os.environ["IDEMPOTENCY_TABLE"] = table
        self.table = table
        return topic

    def let_claims_lapse(self) -> None:
        """What the wait for Lambda's retry does to the ledger: a claim left behind (by an
        invocation whose ledger calls failed) holds until its invocation's deadline, which the
        retry, a minute or more later, finds passed; the harness does not wait it out."""
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.table)
        for item in (item for page in pages for item in page["Items"]):
            if item.get("status", {}).get("S") == "INPROGRESS":
                self.dynamodb.update_item(
                    TableName=self.table,
                    Key={"id": item["id"]},
                    UpdateExpression="SET in_progress_expiration = :lapsed",
                    ExpressionAttributeValues={":lapsed": {"N": "0"}},
                )

    def delivered(self) -> Counter[Key]:
        """(rule id, event id) of every notification in the queue, with repeats."""
        seen: Counter[Key] = Counter()
        while messages := self.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            for message in messages:
                body = json.loads(message["Body"])
                # The queue gets the e-mail text; its excerpt ends with the event id.
                excerpt = json.loads(body["Message"].split("\n\nEvent excerpt:\n")[1])
                rule_id = body["MessageAttributes"]["rule_id"]["Value"]
                seen[(rule_id, excerpt["eventID"])] += 1
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return seen


Key = tuple[str, str]


def batches(alerts: int, rnd: random.Random) -> list[tuple[dict[str, Any], set[Key]]]:
    """Subscription payloads of sample records with fresh event ids, and the alerts each gives."""
    from tests.support.payloads import encode_subscription
    from trailhound.authoring.loader import load_rules
    from trailhound.engine.ruleset import RuleSet
    from trailhound.pipeline.detection import DetectionSummary, detect
    from trailhound.pipeline.subscription import decode_subscription

    ruleset = RuleSet(load_rules([REPO / "rules"]).rules)
    samples = [orjson.loads(path.read_bytes()) for path in sorted(SAMPLES.glob("*.json"))]
    samples = [record for record in samples if ruleset.match(record).matched]
    events: list[tuple[dict[str, Any], set[Key]]] = []
    total = 0
    while total < alerts:
        records = [
            {**rnd.choice(samples), "eventID": str(uuid.UUID(int=rnd.getrandbits(128)))}
            for _ in range(BATCH_RECORDS)
        ]
        event = encode_subscription(records)
        found = detect(decode_subscription(event).items, ruleset, DetectionSummary())
        keys = {(alert.rule_id, str(alert.event_id)) for alert in found}
        events.append((event, keys))
        total += len(keys)
    return events


def run(scenario: Scenario, alerts: int, seed: int, stack: Stack, faults: Faults) -> Figures:
    """Every batch through the handler, with Lambda's retries, under the scenario's faults."""
    from trailhound.lambda_function import handler, runtime

    rnd = random.Random(seed)
    events = batches(alerts, rnd)
    expected = set().union(*(keys for _, keys in events))
    stack.create(f"{seed}-{len(scenario.name)}-{rnd.getrandbits(32):x}")
    runtime.runtime_for.cache_clear()
    faults.injected.clear()
    faults.kinds = scenario.kinds
    faults.sends = faults.calls = 0
    figures = Figures(alerts=len(expected))
    slept = _Sleeps()
    at_destination: set[Key] = set()
    with slept:
        for number, (event, keys) in enumerate(events):
            for attempt in range(LAMBDA_ATTEMPTS):
                outage = scenario.outage_every and number % scenario.outage_every == 0
                faults.rate = (
                    {"sns": 1.0, "dynamodb": 1.0} if outage and attempt == 0 else scenario.rate
                )
                figures.invocations += 1
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        handler.lambda_handler(event, LambdaContext())
                    break
                except Exception:  # what Lambda sees: a failed invocation, retried
                    figures.failed_invocations += 1
                    rate, faults.rate = faults.rate, {}
                    stack.let_claims_lapse()
                    faults.rate = rate
            else:
                figures.to_destination_batches += 1
                at_destination |= keys
    faults.rate = {}
    delivered = stack.delivered()
    figures.delivered = len(set(delivered) & expected)
    figures.notified_twice = sum(1 for count in delivered.values() if count > 1)
    missing = expected - set(delivered)
    # The on-failure destination keeps the whole batch: what it holds is kept, not lost.
    figures.to_destination_alerts = len(missing & at_destination)
    figures.lost = len(missing - at_destination)
    figures.faults = sum(faults.injected.values())
    figures.retried_calls = faults.sends - faults.calls
    figures.backoff_seconds = slept.seconds
    return figures


class _Sleeps:
    """Records botocore's backoff sleeps instead of sleeping them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._sleep = time.sleep

    def __enter__(self) -> _Sleeps:
        time.sleep = self._record
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep = self._sleep

    def _record(self, seconds: float | SupportsIndex) -> None:
        self.seconds += float(seconds)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto server on a free port of 127.0.0.1, and the environment the handler needs."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "LAMBDA_TASK_ROOT": str(REPO),
            "POWERTOOLS_SERVICE_NAME": "trailhound",
            "POWERTOOLS_METRICS_NAMESPACE": "trailhound-faults",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        }
    )
    try:
        yield endpoint
    finally:
        server.stop()


def install_faults(seed: int) -> Faults:
    """Hook the faults into every client the default boto3 session makes from now on."""
    faults = Faults(random.Random(seed))
    boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    events.register_first("before-send.sns", faults.on_send)
    events.register_first("before-send.dynamodb", faults.on_send)
    events.register_first("before-call.sns", faults.on_call)
    events.register_first("before-call.dynamodb", faults.on_call)
    return faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", action="append", help="run only these (by name)")
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario")
    args = parser.parse_args(argv)
    scenarios = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    header = (
        f"{'scenario':48} {'alerts':>6} {'deliv.':>6} {'twice':>5} {'lost':>4} {'invoc.':>6} "
        f"{'failed':>6} {'to DLQ':>6} {'faults':>6} {'retried':>7} {'backoff s':>9}"
    )
    problems = 0
    with moto_server() as endpoint:
        stack = Stack(endpoint)
        faults = install_faults(args.seed)
        if not args.json:
            print(header)
        for scenario in scenarios:
            figures = run(scenario, args.alerts, args.seed, stack, faults)
            if args.json:
                print(json.dumps({"scenario": scenario.name, **dataclasses.asdict(figures)}))
            else:
                print(
                    f"{scenario.name:48} {figures.alerts:6,} {figures.delivered:6,} "
                    f"{figures.notified_twice:5,} {figures.lost:4,} {figures.invocations:6,} "
                    f"{figures.failed_invocations:6,} {figures.to_destination_alerts:6,} "
                    f"{figures.faults:6,} {figures.retried_calls:7,} {figures.backoff_seconds:9.1f}"
                )
            problems += figures.lost
            if AFTER_SERVER not in scenario.kinds:
                problems += figures.notified_twice
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

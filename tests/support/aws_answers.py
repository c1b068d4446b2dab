"""SNS and DynamoDB answered at botocore's `before-send` hook, as the services answer success.

Everything the SDK does runs: parameter validation, serialization, signing, the retry handler,
response parsing; only the socket is left out. For benchmarks that measure what a call costs
the function, and tests that count the calls it makes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders

_SNS_NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"


class _Body:
    """The `raw` of a botocore response: what `AWSResponse.content` streams."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class AwsAnswers:
    """Answers every SNS and DynamoDB call with success; counts the calls by operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.entries: Counter[str] = Counter()

    def install(self, events: Any) -> None:
        """Register on a botocore event emitter (a session's or a client's `meta.events`)."""
        events.register_first("before-send.sns", self.sns)
        events.register_first("before-send.dynamodb", self.dynamodb)

    def sns(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        fields = parse_qsl(text)
        action = dict(fields).get("Action", "")
        self.calls[f"sns.{action}"] += 1
        if action == "PublishBatch":
            ids = [value for name, value in fields if name.endswith(".Id")]
            self.entries["sns.PublishBatch"] += len(ids)
            members = "".join(
                f"<member><Id>{entry}</Id><MessageId>{uuid.uuid4()}</MessageId></member>"
                for entry in ids
            )
            result = f"<Successful>{members}</Successful><Failed/>"
        else:
            result = f"<MessageId>{uuid.uuid4()}</MessageId>"
        xml = (
            f'<{action}Response xmlns="{_SNS_NAMESPACE}"><{action}Result>{result}'
            f"</{action}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            f"</ResponseMetadata></{action}Response>"
        )
        return _response(request, xml.encode(), "text/xml")

    def dynamodb(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        operation = str(request.headers.get("X-Amz-Target", "")).rpartition(".")[2]
        self.calls[f"dynamodb.{operation}"] += 1
        answer: dict[str, Any] = {}
        if operation == "BatchWriteItem":
            answer = {"UnprocessedItems": {}}
        elif operation == "TransactWriteItems":
            body = request.body
            items = orjson.loads(body if isinstance(body, bytes) else str(body)).get(
                "TransactItems", []
            )
            self.entries["dynamodb.TransactWriteItems"] += len(items)
        return _response(request, orjson.dumps(answer), "application/x-amz-json-1.0")


def _response(request: AWSPreparedRequest, body: bytes, content_type: str) -> AWSResponse:
    headers = HTTPHeaders()
    headers["Content-Type"] = content_type
    headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return AWSResponse(request.url, 200, headers, _Body(body))

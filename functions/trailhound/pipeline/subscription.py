"""CloudWatch Logs subscription payloads: the Lambda's event, decoded into records.

CloudWatch Logs delivers a subscription's log events gzipped and base64-encoded under
`awslogs.data`. A payload that cannot be decoded at all is a `PayloadError`; a log event that is
not a CloudTrail record spoils only itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
from pydantic import BaseModel, ValidationError

from trailhound.errors import PayloadError
from trailhound.pipeline.records import BadInput, SourceItem, kind_of, parse_record

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"

# orjson needs about fourteen times a document's size while it parses it (over 100 MB for the
# 7 MB of log events a 1 MB invocation can carry); the standard library needs about its size, at
# four times the time. Larger subscription payloads take the standard library.
ORJSON_MAX_CHARS = 1 << 20
MAX_DECOMPRESSED_BYTES = 32 << 20
"""Largest subscription payload decoded, by the size its gzip trailer declares. The largest
delivery, 1 MB of gzip, holds about 7 MB of CloudTrail JSON; highly compressible log events can
declare far more, which would exhaust the function's memory without a word in its log."""
_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@dataclass(frozen=True, slots=True)
class SubscriptionBatch:
    """One CloudWatch Logs subscription delivery: its envelope and the records it carried."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    items: list[SourceItem]


class _Envelope(BaseModel):
    """The decoded payload's envelope; its log events are checked one by one."""

    messageType: str
    owner: str
    logGroup: str
    logStream: str
    logEvents: list[Any]


def decode_subscription(event: Mapping[str, Any]) -> SubscriptionBatch:
    """Decode a CloudWatch Logs subscription event; a bad log line spoils only itself.

    powertools' CloudWatchLogsEvent does the base64 + gzip + JSON work, with orjson as its JSON
    parser: decoding is most of the Lambda's time per event, and orjson is several times faster.
    Payloads over ORJSON_MAX_CHARS take the standard library's, which needs far less memory.
    """
    awslogs = event.get("awslogs") if isinstance(event, Mapping) else None
    if not isinstance(awslogs, Mapping):
        raise PayloadError("awslogs: Field required")
    if "data" not in awslogs:
        raise PayloadError("awslogs.data: Field required")
    data = awslogs["data"]
    if not isinstance(data, str | bytes):
        raise PayloadError(f"awslogs.data: expected a base64 string, found {kind_of(data)}")
    size = declared_size(data)
    if size is not None and size > MAX_DECOMPRESSED_BYTES and _expands_past_limit(data):
        raise PayloadError(
            f"awslogs.data: decompresses to {size:,} bytes, over the {MAX_DECOMPRESSED_BYTES:,} "
            "this function decodes"
        )
    try:
        decoded = CloudWatchLogsEvent(dict(event), json_deserializer=_loads_payload)
        payload = decoded.parse_logs_data().raw_event
        # It caches the decompressed bytes, which the records no longer need.
        del decoded
    except (ValueError, TypeError, zlib.error, UnicodeDecodeError) as error:
        raise PayloadError(f"awslogs.data: {_undecodable(data)}") from error
    return decoded_batch(payload, "logEvent ")


def declared_size(data: str | bytes) -> int | None:
    """The decompressed size a base64 gzip stream's trailer declares (ISIZE, modulo 2**32),
    read from its last eight characters; None unless it plainly is one."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    if len(raw) < 28 or len(raw) % 4 or not _BASE64_ALPHABET.issuperset(raw[-8:]):
        return None
    try:
        head = base64.b64decode(raw[:4], validate=True)
        tail = base64.b64decode(raw[-8:], validate=True)
    except (binascii.Error, ValueError):
        return None
    if head[:2] != b"\x1f\x8b" or len(tail) < 4:
        return None
    return int.from_bytes(tail[-4:], "little")


def _expands_past_limit(data: str | bytes) -> bool:
    """Whether the gzip data really holds more than the limit: a cut or damaged stream's
    trailer declares any size, so the claim is checked, decompressing no further than it."""
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
        return len(inflater.decompress(base64.b64decode(data), MAX_DECOMPRESSED_BYTES + 1)) > (
            MAX_DECOMPRESSED_BYTES
        )
    except (binascii.Error, ValueError, zlib.error):
        return False  # Decoding reports it as it is.


def _loads_payload(text: str) -> Any:
    return orjson.loads(text) if len(text) <= ORJSON_MAX_CHARS else json.loads(text)


def decoded_batch(payload: Any, prefix: str) -> SubscriptionBatch:
    """The batch of a payload already decoded from base64 and gzip into JSON."""
    if not isinstance(payload, dict):
        raise PayloadError("awslogs.data: the decoded payload is not a JSON object")
    try:
        envelope = _Envelope.model_validate(payload)
    except ValidationError as error:
        raise PayloadError(_payload_problem(error)) from error
    items: list[SourceItem] = []
    if envelope.messageType != CONTROL_MESSAGE:
        for index, log_event in enumerate(envelope.logEvents):
            if type(log_event) is not dict or type(log_event.get("message")) is not str:
                location = f"{prefix}[{index}]"
                items.append(BadInput(location, "log event without a string message"))
                continue
            items.append(parse_record(log_event["message"], prefix + str(log_event.get("id"))))
    return SubscriptionBatch(
        message_type=envelope.messageType,
        owner=envelope.owner,
        log_group=envelope.logGroup,
        log_stream=envelope.logStream,
        items=items,
    )


def _payload_problem(error: ValidationError) -> str:
    detail = error.errors()[0]
    where = ".".join(str(part) for part in detail["loc"]) or "payload"
    return f"awslogs.data.{where}: {detail['msg']}"


def _undecodable(data: object) -> str:
    if not isinstance(data, str | bytes):
        return f"expected a base64 string, found {kind_of(data)}"
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "not valid base64"
    try:
        text = zlib.decompress(compressed, zlib.MAX_WBITS | 32)
    except zlib.error as error:
        return f"not valid gzip data ({error})"
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return f"decompressed data is not JSON ({error})"
    return "unable to decompress data"

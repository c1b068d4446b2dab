"""Where CloudTrail records come from: CloudWatch Logs subscriptions, log files, JSON Lines, stdin.

Every source yields the same items, a `SourceRecord` (the record as a plain dict and where it came
from) or a `SourceError` (input that is not a record, reported and skipped), so the Lambda handler
and `trailhound replay` share everything downstream.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import sys
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
from pydantic import BaseModel, ValidationError

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"

_GZIP_MAGIC = b"\x1f\x8b"
_DIRECTORY_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz")
_LINE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
# orjson needs about fourteen times a document's size while it parses it (over 100 MB for the
# 7 MB of log events a 1 MB invocation can carry); the standard library needs about its size, at
# four times the time. Larger subscription payloads take the standard library.
ORJSON_MAX_CHARS = 1 << 20
MAX_DECOMPRESSED_BYTES = 32 << 20
"""Largest subscription payload decoded, by the size its gzip trailer declares. The largest
delivery, 1 MB of gzip, holds about 7 MB of CloudTrail JSON; highly compressible log events can
declare far more, which would exhaust the function's memory without a word in its log."""
_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
# A realistic 56-digit CloudWatch Logs event id; ids in an encoded batch count up from it.
_FIRST_EVENT_ID = 36690253058932233582162273576985234625775848062548869120


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One CloudTrail record and where it came from, so an alert or error can point back to it."""

    record: dict[str, Any]
    location: str


@dataclass(frozen=True, slots=True)
class SourceError:
    """Input that could not be read as a CloudTrail record; reported and skipped, never fatal."""

    location: str
    message: str


SourceItem = SourceRecord | SourceError


@dataclass(frozen=True, slots=True)
class SubscriptionBatch:
    """One CloudWatch Logs subscription delivery: its envelope and the records it carried."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    items: list[SourceItem]


class PayloadError(ValueError):
    """The subscription payload itself is unreadable, so none of its records can be trusted."""


def parse_record(text: str | bytes, location: str) -> SourceItem:
    """Parse one JSON text into a CloudTrail record, or say why it is not one."""
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        # orjson refuses some JSON that Python reads: a lone surrogate (\ud800) that a user agent
        # can carry into a record, a number beyond a double (1e400). One odd value must not
        # take a record past the rules.
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):
            return SourceError(location, f"not JSON: {error}")
    # orjson returns exact builtin types, so identity checks (cheaper than isinstance) suffice.
    if (
        type(record) is dict
        and type(record.get("eventName")) is str
        and type(record.get("eventSource")) is str
    ):
        return SourceRecord(record, location)
    return SourceError(location, _not_a_record(record))


class _Envelope(BaseModel):
    """The decoded payload's envelope; its log events are checked one by one in `_batch`."""

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
        raise PayloadError(f"awslogs.data: expected a base64 string, found {_kind(data)}")
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
    return _batch(payload, "logEvent ")


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


def encode_subscription(
    records: Iterable[Mapping[str, Any]],
    *,
    owner: str = "123456789012",
    log_group: str = "aws-cloudtrail-logs",
    log_stream: str = "123456789012_CloudTrail_us-east-1",
    message_type: str = DATA_MESSAGE,
    filters: Sequence[str] = ("trailhound",),
    start_id: int = _FIRST_EVENT_ID,
) -> dict[str, Any]:
    """Build the Lambda event CloudWatch Logs would deliver for these records (tests, samples)."""
    log_events = [
        {
            "id": str(start_id + index),
            "timestamp": _timestamp_ms(record),
            "message": orjson.dumps(dict(record)).decode(),
        }
        for index, record in enumerate(records)
    ]
    return encode_payload(
        {
            "messageType": message_type,
            "owner": owner,
            "logGroup": log_group,
            "logStream": log_stream,
            "subscriptionFilters": list(filters),
            "logEvents": log_events,
        }
    )


def encode_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a decoded subscription payload as Lambda receives it: gzip, base64, under awslogs."""
    # mtime=0 keeps the bytes reproducible, so generated sample events do not drift.
    compressed = gzip.compress(orjson.dumps(dict(payload)), mtime=0)
    return {"awslogs": {"data": base64.b64encode(compressed).decode("ascii")}}


def read_inputs(inputs: Iterable[str], stdin: BinaryIO | None = None) -> Iterator[SourceItem]:
    """Read records from files, directories and `-` (stdin); report unreadable input, go on."""
    for name in inputs:
        if name == "-":
            yield from _read_stream(sys.stdin.buffer if stdin is None else stdin, "<stdin>")
            continue
        path = Path(name)
        if path.is_dir():
            for file in _files_under(path):
                yield from _read_file(file, str(file))
        else:
            yield from _read_file(path, name)


def _batch(payload: Any, prefix: str) -> SubscriptionBatch:
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
                items.append(SourceError(location, "log event without a string message"))
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
        return f"expected a base64 string, found {_kind(data)}"
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


def _relocated(item: SourceItem, location: str) -> SourceItem:
    if isinstance(item, SourceRecord):
        return SourceRecord(item.record, f"{location}:{item.location}")
    return SourceError(f"{location}:{item.location}", item.message)


def _as_record(value: Any, location: str) -> SourceItem:
    if (
        type(value) is dict
        and type(value.get("eventName")) is str
        and type(value.get("eventSource")) is str
    ):
        return SourceRecord(value, location)
    return SourceError(location, _not_a_record(value))


def _not_a_record(value: Any) -> str:
    if not isinstance(value, dict):
        return f"not a CloudTrail record: expected a JSON object, found {_kind(value)}"
    missing = [key for key in ("eventName", "eventSource") if not isinstance(value.get(key), str)]
    return f"not a CloudTrail record: no string {' or '.join(missing)}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _timestamp_ms(record: Mapping[str, Any]) -> int:
    event_time = record.get("eventTime")
    if isinstance(event_time, str):
        try:
            moment = datetime.fromisoformat(event_time)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - _EPOCH) // _MILLISECOND
    # CloudWatch Logs would stamp the ingestion time.
    return time.time_ns() // 1_000_000


def _files_under(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).parts
        if (
            path.name.endswith(_DIRECTORY_SUFFIXES)
            and not any(part.startswith(".") for part in relative)
            and path.is_file()
        ):
            yield path


def _read_file(path: Path, name: str) -> Iterator[SourceItem]:
    try:
        raw = path.open("rb")
    except OSError as error:
        yield SourceError(name, f"cannot open: {error.strerror or error}")
        return
    with raw:
        yield from _read_stream(raw, name)


def _read_stream(raw: BinaryIO, name: str) -> Iterator[SourceItem]:
    stream, compressed = _decompressed(raw)
    try:
        yield from _read_json(stream, name)
    except (OSError, EOFError, zlib.error) as error:
        yield SourceError(name, f"cannot read{' gzip' if compressed else ''}: {error}")


def _decompressed(raw: BinaryIO) -> tuple[BinaryIO, bool]:
    """Decompress gzip whatever the name says: S3 downloads and pipes often lose the .gz suffix."""
    if isinstance(raw, io.BufferedReader):
        head = raw.peek(2)[:2]
    elif raw.seekable():
        start = raw.tell()
        head = raw.read(2)
        raw.seek(start)
    else:
        raw = io.BytesIO(raw.read())
        head = raw.getvalue()[:2]
    if head == _GZIP_MAGIC:
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")), True
    return raw, False


def _read_json(stream: BinaryIO, name: str) -> Iterator[SourceItem]:
    """Stream JSON Lines line by line; read anything else as one JSON document.

    Without a .jsonl/.ndjson name, the input is JSON Lines when it has more than one line and one
    of its first two lines is a JSON value on its own, which a pretty-printed document never has.
    """
    lines = ((number, line) for number, line in enumerate(stream, 1) if not line.isspace())
    head = list(islice(lines, 2))
    if not head:
        yield SourceError(name, "empty input")
        return
    if name.endswith(_LINE_SUFFIXES) or (
        len(head) == 2 and any(_is_json(line) for _, line in head)
    ):
        for number, line in chain(head, lines):
            yield from _unpack_text(line, f"{name}:{number}")
    else:
        yield from _unpack_text(b"".join(line for _, line in head) + stream.read(), name)


def _is_json(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _unpack_text(text: bytes, location: str) -> Iterator[SourceItem]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        yield SourceError(location, f"not JSON: {error}")
        return
    yield from _unpack(value, location)


def _unpack(value: Any, location: str) -> Iterator[SourceItem]:
    """Yield the records in one JSON value, whichever of the shapes trailhound reads it has."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield _as_record(item, f"{location}:[{index}]")
    elif not isinstance(value, dict) or "eventName" in value:
        yield _as_record(value, location)
    elif "Records" in value:
        records = value["Records"]
        if not isinstance(records, list):
            yield SourceError(location, f"Records is {_kind(records)}, expected an array")
            return
        for index, item in enumerate(records):
            yield _as_record(item, f"{location}:Records[{index}]")
    elif "awslogs" in value or ("logEvents" in value and "messageType" in value):
        try:
            batch = decode_subscription(value) if "awslogs" in value else _batch(value, "logEvent ")
        except PayloadError as error:
            yield SourceError(location, str(error))
            return
        for item in batch.items:
            yield _relocated(item, location)
    elif isinstance(value.get("event"), dict):
        # Stratus Red Team detonation logs wrap each record as {"technique": ..., "event": {...}}.
        yield _as_record(value["event"], location)
    else:
        yield _as_record(value, location)

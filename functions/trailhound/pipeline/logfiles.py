"""CloudTrail records from files, folders and standard input, as `trailhound replay` reads them.

CloudTrail's log files as delivered to S3 (`{"Records": [...]}`, gzipped or not), JSON Lines,
single-event JSON files and saved CloudWatch Logs subscription payloads all give the same items;
input that cannot be read is reported with its location and skipped.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from trailhound.errors import PayloadError
from trailhound.pipeline.records import BadInput, SourceItem, SourceRecord, as_record, kind_of
from trailhound.pipeline.subscription import decode_subscription, decoded_batch

_GZIP_MAGIC = b"\x1f\x8b"
_DIRECTORY_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz")
_LINE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


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


def _relocated(item: SourceItem, location: str) -> SourceItem:
    if isinstance(item, SourceRecord):
        return SourceRecord(item.record, f"{location}:{item.location}")
    return BadInput(f"{location}:{item.location}", item.message)


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
        yield BadInput(name, f"cannot open: {error.strerror or error}")
        return
    with raw:
        yield from _read_stream(raw, name)


def _read_stream(raw: BinaryIO, name: str) -> Iterator[SourceItem]:
    stream, compressed = _decompressed(raw)
    try:
        yield from _read_json(stream, name)
    except (OSError, EOFError, zlib.error) as error:
        yield BadInput(name, f"cannot read{' gzip' if compressed else ''}: {error}")


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
        yield BadInput(name, "empty input")
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
        yield BadInput(location, f"not JSON: {error}")
        return
    yield from _unpack(value, location)


def _unpack(value: Any, location: str) -> Iterator[SourceItem]:
    """Yield the records in one JSON value, whichever of the shapes trailhound reads it has."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield as_record(item, f"{location}:[{index}]")
    elif not isinstance(value, dict) or "eventName" in value:
        yield as_record(value, location)
    elif "Records" in value:
        records = value["Records"]
        if not isinstance(records, list):
            yield BadInput(location, f"Records is {kind_of(records)}, expected an array")
            return
        for index, item in enumerate(records):
            yield as_record(item, f"{location}:Records[{index}]")
    elif "awslogs" in value or ("logEvents" in value and "messageType" in value):
        try:
            batch = (
                decode_subscription(value)
                if "awslogs" in value
                else decoded_batch(value, "logEvent ")
            )
        except PayloadError as error:
            yield BadInput(location, str(error))
            return
        for item in batch.items:
            yield _relocated(item, location)
    elif isinstance(value.get("event"), dict):
        # Stratus Red Team detonation logs wrap each record as {"technique": ..., "event": {...}}.
        yield as_record(value["event"], location)
    else:
        yield as_record(value, location)

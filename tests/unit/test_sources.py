"""Tests for trailhound.pipeline: subscription payloads, log files, JSON Lines, stdin, folders."""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from tools.build import sample_events

from tests.support.payloads import encode_payload, encode_subscription
from trailhound.errors import PayloadError, TrailhoundError
from trailhound.pipeline.logfiles import read_inputs
from trailhound.pipeline.records import BadInput, SourceItem, SourceRecord, parse_record
from trailhound.pipeline.subscription import (
    CONTROL_MESSAGE,
    MAX_DECOMPRESSED_BYTES,
    ORJSON_MAX_CHARS,
    decode_subscription,
)

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
CORPUS = REPO / "tests" / "data" / "corpus"


def record(name: str = "ConsoleLogin", **fields: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": "2024-05-14T08:04:02Z",
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "sourceIPAddress": "203.0.113.87",
        "recipientAccountId": "123456789012",
        **fields,
    }


def records_of(items: Iterable[SourceItem]) -> list[dict[str, Any]]:
    return [item.record for item in items if isinstance(item, SourceRecord)]


def errors_of(items: Iterable[SourceItem]) -> list[BadInput]:
    return [item for item in items if isinstance(item, BadInput)]


def awslogs(payload: dict[str, Any] | bytes) -> dict[str, Any]:
    """Encode by hand, independently of sources.py, the way CloudWatch Logs does."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


def data_message(*messages: str) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "aws-cloudtrail-logs",
        "logStream": "123456789012_CloudTrail_us-east-1",
        "subscriptionFilters": ["trailhound"],
        "logEvents": [
            {"id": f"3669{index:052d}", "timestamp": 1715673842000, "message": message}
            for index, message in enumerate(messages)
        ],
    }


def test_parse_record_keeps_record_and_location() -> None:
    item = parse_record(json.dumps(record()), "trail.jsonl:12")
    assert item == SourceRecord(record(), "trail.jsonl:12")


def test_parse_record_accepts_bytes() -> None:
    item = parse_record(orjson.dumps(record("DeleteBucket")), "x")
    assert isinstance(item, SourceRecord)
    assert item.record["eventName"] == "DeleteBucket"


def test_parse_record_reports_invalid_json() -> None:
    item = parse_record('{"eventName": "ConsoleLogin",', "logEvent 1")
    assert isinstance(item, BadInput)
    assert item.location == "logEvent 1"
    assert item.message.startswith("not JSON:")


@pytest.mark.parametrize(
    ("text", "found"),
    [("[1, 2]", "an array"), ("42", "a number"), ('"ConsoleLogin"', "a string"), ("null", "null")],
)
def test_parse_record_rejects_json_that_is_not_an_object(text: str, found: str) -> None:
    item = parse_record(text, "x")
    assert item == BadInput("x", f"not a CloudTrail record: expected a JSON object, found {found}")


def test_parse_record_names_the_missing_cloudtrail_fields() -> None:
    item = parse_record('{"level": "info", "msg": "started"}', "x")
    assert item == BadInput("x", "not a CloudTrail record: no string eventName or eventSource")


def test_parse_record_rejects_non_string_event_name() -> None:
    item = parse_record(json.dumps({**record(), "eventName": ["ConsoleLogin"]}), "x")
    assert item == BadInput("x", "not a CloudTrail record: no string eventName")


def test_encode_subscription_produces_the_cloudwatch_logs_encoding() -> None:
    records = [record(), record("DeleteBucket", eventTime="2024-05-14T08:14:03Z")]
    event = encode_subscription(records, log_group="trail", start_id=100)

    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"], validate=True)))
    assert payload == {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "trail",
        "logStream": "123456789012_CloudTrail_us-east-1",
        "subscriptionFilters": ["trailhound"],
        "logEvents": [
            {
                "id": "100",
                "timestamp": 1715673842000,
                "message": json.dumps(records[0], separators=(",", ":")),
            },
            {
                "id": "101",
                "timestamp": 1715674443000,
                "message": json.dumps(records[1], separators=(",", ":")),
            },
        ],
    }


def test_encode_subscription_stamps_records_without_event_time_with_the_current_time() -> None:
    event = encode_subscription([{"eventName": "X", "eventSource": "y", "eventTime": "soon"}])
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert payload["logEvents"][0]["timestamp"] > 1715673842000


def test_decode_subscription_reads_a_payload_encoded_by_hand() -> None:
    batch = decode_subscription(awslogs(data_message(json.dumps(record()))))
    assert batch.message_type == "DATA_MESSAGE"
    assert (batch.owner, batch.log_group, batch.log_stream) == (
        "123456789012",
        "aws-cloudtrail-logs",
        "123456789012_CloudTrail_us-east-1",
    )
    assert batch.items == [SourceRecord(record(), f"logEvent 3669{0:052d}")]


def test_decode_subscription_round_trips_encode_subscription() -> None:
    records = [record(), record("TerminateInstances"), record("DeleteBucket")]
    batch = decode_subscription(encode_subscription(records, start_id=7))
    assert batch.items == [
        SourceRecord(records[0], "logEvent 7"),
        SourceRecord(records[1], "logEvent 8"),
        SourceRecord(records[2], "logEvent 9"),
    ]


def test_a_payload_too_large_for_orjson_decodes_the_same() -> None:
    padding = "x" * 4096
    records = [record(userAgent=f"{index} {padding}") for index in range(ORJSON_MAX_CHARS // 4000)]
    event = encode_subscription(records)
    batch = decode_subscription(event)
    assert len(gzip.decompress(base64.b64decode(event["awslogs"]["data"]))) > ORJSON_MAX_CHARS
    assert records_of(batch.items) == records


def test_a_payload_too_large_for_orjson_that_is_not_json_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match=r"awslogs\.data: decompressed data is not JSON"):
        decode_subscription(awslogs(b"{" + b" " * ORJSON_MAX_CHARS))


def test_control_message_yields_no_records() -> None:
    payload = {
        "messageType": CONTROL_MESSAGE,
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": 1715674800000,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }
    batch = decode_subscription(awslogs(payload))
    assert batch.message_type == CONTROL_MESSAGE
    assert batch.owner == "CloudwatchLogs"
    assert batch.items == []


def test_garbage_log_lines_are_reported_and_good_ones_still_come_through() -> None:
    event = awslogs(
        data_message(
            json.dumps(record()),
            "START RequestId: 6234bffe-149a-b642-81ff-2e8e376d8aff",
            json.dumps(record("DeleteBucket"))[:40],
            json.dumps({"level": "info"}),
            json.dumps(record("TerminateInstances")),
        )
    )
    items = decode_subscription(event).items
    assert records_of(items) == [record(), record("TerminateInstances")]
    errors = errors_of(items)
    assert [error.location for error in errors] == [f"logEvent 3669{i:052d}" for i in (1, 2, 3)]
    assert errors[0].message.startswith("not JSON")
    assert errors[1].message.startswith("not JSON")
    assert errors[2].message == "not a CloudTrail record: no string eventName or eventSource"


def test_bad_base64_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match=r"awslogs\.data: not valid base64"):
        decode_subscription({"awslogs": {"data": "%%% not base64 %%%"}})


def test_truncated_gzip_is_a_payload_error() -> None:
    compressed = gzip.compress(json.dumps(data_message(json.dumps(record()))).encode())
    event = {"awslogs": {"data": base64.b64encode(compressed[:-20]).decode()}}
    with pytest.raises(PayloadError, match=r"awslogs\.data: not valid gzip data .*truncated"):
        decode_subscription(event)


def test_data_that_is_not_gzip_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="not valid gzip data"):
        decode_subscription({"awslogs": {"data": base64.b64encode(b"plain text").decode()}})


def test_non_json_payload_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match=r"awslogs\.data: decompressed data is not JSON"):
        decode_subscription(awslogs(b"messageType=DATA_MESSAGE"))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "awslogs: Field required"),
        ({"awslogs": {}}, "awslogs.data: Field required"),
        ({"awslogs": {"data": 42}}, "awslogs.data: expected a base64 string, found a number"),
        (awslogs(b"[]"), "awslogs.data: the decoded payload is not a JSON object"),
        (awslogs({"messageType": "DATA_MESSAGE"}), "awslogs.data.owner: Field required"),
    ],
)
def test_payload_of_the_wrong_shape_is_a_payload_error(event: Any, message: str) -> None:
    with pytest.raises(PayloadError) as raised:
        decode_subscription(event)
    assert str(raised.value) == message


def test_payload_error_is_a_trailhound_error() -> None:
    assert issubclass(PayloadError, TrailhoundError)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def log_file(records: list[Any]) -> bytes:
    return json.dumps({"Records": records}).encode()


def test_reads_a_cloudtrail_log_file(tmp_path: Path) -> None:
    path = write(tmp_path / "trail.json", log_file([record(), record("DeleteBucket")]))
    items = list(read_inputs([str(path)]))
    assert items == [
        SourceRecord(record(), f"{path}:Records[0]"),
        SourceRecord(record("DeleteBucket"), f"{path}:Records[1]"),
    ]


def test_reads_a_pretty_printed_cloudtrail_log_file(tmp_path: Path) -> None:
    records = [record(), record("DeleteBucket")]
    path = write(tmp_path / "trail.json", json.dumps({"Records": records}, indent=2))
    assert records_of(read_inputs([str(path)])) == records


def test_reads_a_gzipped_log_file(tmp_path: Path) -> None:
    path = write(tmp_path / "trail.json.gz", gzip.compress(log_file([record()])))
    assert list(read_inputs([str(path)])) == [SourceRecord(record(), f"{path}:Records[0]")]


def test_detects_gzip_by_content_not_by_name(tmp_path: Path) -> None:
    path = write(tmp_path / "downloaded.json", gzip.compress(log_file([record()])))
    assert records_of(read_inputs([str(path)])) == [record()]


def test_reports_the_record_in_a_log_file_that_is_not_one(tmp_path: Path) -> None:
    path = write(tmp_path / "trail.json", log_file([record(), {"eventName": "X"}, "text"]))
    items = list(read_inputs([str(path)]))
    assert records_of(items) == [record()]
    assert errors_of(items) == [
        BadInput(f"{path}:Records[1]", "not a CloudTrail record: no string eventSource"),
        BadInput(
            f"{path}:Records[2]",
            "not a CloudTrail record: expected a JSON object, found a string",
        ),
    ]


def test_reads_json_lines_with_line_numbers(tmp_path: Path) -> None:
    lines = [json.dumps(record()), "", json.dumps(record("DeleteBucket")), "  "]
    path = write(tmp_path / "trail.jsonl", "\n".join(lines) + "\n")
    assert list(read_inputs([str(path)])) == [
        SourceRecord(record(), f"{path}:1"),
        SourceRecord(record("DeleteBucket"), f"{path}:3"),
    ]


def test_reports_bad_json_lines_and_reads_the_rest(tmp_path: Path) -> None:
    lines = ["not json at all", json.dumps(record()), '{"eventName": "x"}', json.dumps(record())]
    path = write(tmp_path / "trail.ndjson", "\n".join(lines))
    items = list(read_inputs([str(path)]))
    assert [item.location for item in items] == [f"{path}:{n}" for n in (1, 2, 3, 4)]
    assert [type(item) for item in items] == [BadInput, SourceRecord, BadInput, SourceRecord]


def test_recognises_json_lines_without_the_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "export.json", f"{json.dumps(record())}\n{json.dumps(record())}\n")
    assert [item.location for item in read_inputs([str(path)])] == [f"{path}:1", f"{path}:2"]


def test_unwraps_stratus_red_team_lines(tmp_path: Path) -> None:
    line = {"technique": "aws.defense-evasion.cloudtrail-stop", "event": record("StopLogging")}
    path = write(tmp_path / "stratus.jsonl", json.dumps(line) + "\n")
    assert list(read_inputs([str(path)])) == [SourceRecord(record("StopLogging"), f"{path}:1")]


def test_reads_a_single_event_file(tmp_path: Path) -> None:
    path = write(tmp_path / "event.json", json.dumps(record(), indent=2))
    assert list(read_inputs([str(path)])) == [SourceRecord(record(), str(path))]


def test_reads_a_json_array_of_records(tmp_path: Path) -> None:
    path = write(tmp_path / "events.json", json.dumps([record(), record("DeleteBucket")], indent=1))
    assert list(read_inputs([str(path)])) == [
        SourceRecord(record(), f"{path}:[0]"),
        SourceRecord(record("DeleteBucket"), f"{path}:[1]"),
    ]


def test_reads_a_lambda_event_file(tmp_path: Path) -> None:
    event = encode_subscription([record(), record("DeleteBucket")], start_id=1)
    path = write(tmp_path / "event.json", json.dumps(event, indent=2))
    assert list(read_inputs([str(path)])) == [
        SourceRecord(record(), f"{path}:logEvent 1"),
        SourceRecord(record("DeleteBucket"), f"{path}:logEvent 2"),
    ]


def test_reads_a_decoded_subscription_payload(tmp_path: Path) -> None:
    path = write(tmp_path / "payload.json", json.dumps(data_message(json.dumps(record()), "oops")))
    items = list(read_inputs([str(path)]))
    assert records_of(items) == [record()]
    assert [error.location for error in errors_of(items)] == [f"{path}:logEvent 3669{1:052d}"]


def test_reports_an_undecodable_lambda_event_file(tmp_path: Path) -> None:
    path = write(tmp_path / "event.json", json.dumps({"awslogs": {"data": "%%%"}}))
    assert list(read_inputs([str(path)])) == [BadInput(str(path), "awslogs.data: not valid base64")]


def test_reads_directories_recursively_in_order_skipping_hidden_and_other_files(
    tmp_path: Path,
) -> None:
    write(tmp_path / "b.jsonl", json.dumps(record("B")))
    write(tmp_path / "a" / "z.json", json.dumps(record("AZ")))
    write(tmp_path / "a" / "y.json.gz", gzip.compress(log_file([record("AY")])))
    write(tmp_path / "c.ndjson", json.dumps(record("C")))
    write(tmp_path / "d.gz", gzip.compress(json.dumps(record("D")).encode()))
    write(tmp_path / ".hidden.json", json.dumps(record("HIDDEN")))
    write(tmp_path / ".git" / "x.json", json.dumps(record("HIDDEN")))
    write(tmp_path / "notes.txt", "not an input")
    write(tmp_path / "rules.yml", "title: x")
    names = [item["eventName"] for item in records_of(read_inputs([str(tmp_path)]))]
    assert names == ["AY", "AZ", "B", "C", "D"]


def test_reads_json_lines_from_stdin() -> None:
    stdin = io.BytesIO(f"{json.dumps(record())}\n\n{json.dumps(record('X'))}\n".encode())
    items = list(read_inputs(["-"], stdin=stdin))
    assert items == [SourceRecord(record(), "<stdin>:1"), SourceRecord(record("X"), "<stdin>:3")]


def test_reads_gzip_from_stdin() -> None:
    stdin = io.BufferedReader(io.BytesIO(gzip.compress(log_file([record()]))))
    assert list(read_inputs(["-"], stdin=stdin)) == [SourceRecord(record(), "<stdin>:Records[0]")]


def test_reports_a_missing_file_and_goes_on(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    present = write(tmp_path / "event.json", json.dumps(record()))
    items = list(read_inputs([missing, str(present)]))
    assert items == [
        BadInput(missing, "cannot open: No such file or directory"),
        SourceRecord(record(), str(present)),
    ]


def test_reports_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = write(tmp_path / "event.json", "{\n  this is not json\n}\n")
    [item] = read_inputs([str(path)])
    assert isinstance(item, BadInput)
    assert item.location == str(path)
    assert item.message.startswith("not JSON:")


def test_reports_an_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.json", "\n")
    assert list(read_inputs([str(path)])) == [BadInput(str(path), "empty input")]


def test_reports_an_unreadable_gzip_after_the_records_before_the_damage(tmp_path: Path) -> None:
    lines = "".join(json.dumps(record(f"E{n}")) + "\n" for n in range(2000)).encode()
    path = write(tmp_path / "trail.jsonl.gz", gzip.compress(lines)[:-200])
    items = list(read_inputs([str(path)]))
    assert len(records_of(items)) > 1000
    [error] = errors_of(items)
    assert error.location == str(path)
    assert error.message.startswith("cannot read gzip:")


def test_reports_a_file_with_a_gzip_header_only(tmp_path: Path) -> None:
    path = write(tmp_path / "trail.json.gz", b"\x1f\x8b\x08\x00garbage")
    [error] = read_inputs([str(path)])
    assert isinstance(error, BadInput)
    assert error.location == str(path)
    assert error.message.startswith("cannot read gzip:")


@pytest.mark.parametrize(
    "name", ["stratus-red-team.jsonl", "invictus-aws-dataset.jsonl", "traildiscover.jsonl"]
)
def test_reads_the_real_corpus_without_errors(name: str) -> None:
    path = CORPUS / name
    items = list(read_inputs([str(path)]))
    assert errors_of(items) == []
    assert len(items) == sum(1 for line in path.read_bytes().splitlines() if line.strip())


SAMPLES = sorted((EVENTS / "cloudtrail").glob("*.json"))


def ungzipped(path: Path, data: bytes) -> bytes:
    """The content under the gzip layer, which zlib builds may encode differently."""
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    return gzip.decompress(base64.b64decode(json.loads(data)["awslogs"]["data"]))


def test_generated_event_files_are_up_to_date() -> None:
    built = {**sample_events.build(), **sample_events.build_corpus()}
    assert sorted(path.relative_to(EVENTS).as_posix() for path in built) == [
        "cloudtrail/sample-log-file.json.gz",
        "edge-cases/missing-identity.json",
        "edge-cases/mixed-batch.json",
        "edge-cases/oversized-event.json",
        "subscription/cloudtrail-batch.json",
        "subscription/control-message.json",
        "subscription/corpus-batch.json",
    ]
    for path, data in built.items():
        committed = path.read_bytes()
        assert ungzipped(path, committed) == ungzipped(path, data), (
            f"{path} is stale: run .venv/bin/python -m tools.build.sample_events"
        )
        if path.suffix == ".json":
            assert json.loads(committed).keys() == json.loads(data).keys()


@pytest.mark.parametrize("path", SAMPLES, ids=[path.stem for path in SAMPLES])
def test_sample_events_are_redacted_cloudtrail_records(path: Path) -> None:
    [item] = read_inputs([str(path)])
    assert isinstance(item, SourceRecord)
    assert item.record["recipientAccountId"] == "123456789012"
    assert item.record["sourceIPAddress"].startswith(("203.0.113.", "198.51.100."))


def test_sample_log_file_and_batch_hold_every_sample_event() -> None:
    samples = sorted(
        (orjson.loads(path.read_bytes()) for path in SAMPLES), key=lambda r: r["eventTime"]
    )
    log = list(read_inputs([str(EVENTS / "cloudtrail" / "sample-log-file.json.gz")]))
    batch_event = json.loads((EVENTS / "subscription" / "cloudtrail-batch.json").read_bytes())
    batch = decode_subscription(batch_event)
    assert records_of(log) == samples
    assert batch.message_type == "DATA_MESSAGE"
    assert records_of(batch.items) == samples


def test_sample_control_message_decodes_to_no_records() -> None:
    event = json.loads((EVENTS / "subscription" / "control-message.json").read_bytes())
    batch = decode_subscription(event)
    assert (batch.message_type, batch.owner, batch.log_group, batch.items) == (
        CONTROL_MESSAGE,
        "CloudwatchLogs",
        "",
        [],
    )


def test_encode_payload_is_what_encode_subscription_wraps() -> None:
    event = encode_subscription([record()], start_id=5)
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert encode_payload(payload) == event


def test_a_payload_that_would_expand_past_the_limit_is_refused_before_decompressing() -> None:
    event = encode_subscription([{**record(), "padding": "A" * (33 << 20)}])
    assert len(event["awslogs"]["data"]) < 100_000  # a small delivery that expands 300-fold

    with pytest.raises(PayloadError, match=r"decompresses to 34,\d{3},\d{3} bytes, over the"):
        decode_subscription(event)


def test_a_payload_within_the_limit_decodes() -> None:
    records = [{**record(), "padding": "A" * (200 << 10)}]

    batch = decode_subscription(encode_subscription(records * 50))

    assert MAX_DECOMPRESSED_BYTES // 4 < 50 * (200 << 10)
    assert all(isinstance(item, SourceRecord) for item in batch.items)
    assert len(batch.items) == 50

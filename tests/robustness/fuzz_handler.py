"""Fuzz the Lambda's path with generated and mutated CloudWatch Logs subscription payloads.

Each payload mixes real CloudTrail records that the rules match with hostile log events: lines
that are not JSON, JSON that is not a record, records whose every field the alert reads has the
wrong type, deep nesting, huge strings, unicode and lone surrogates; and some whole payloads are
broken (bad base64, truncated gzip, an envelope of the wrong shape). Everything but the I/O runs:
decode_subscription → detect → build_notification (the e-mail text, the Chatbot JSON, the
subject and attributes). The handler itself, with SNS and DynamoDB in moto, runs the same
payloads in tests/integration/test_fuzz_handler.py.

What must hold: no exception but PayloadError for a payload that is unreadable as a whole; every
bad log event counted; every good record in the same batch alerted; every alert's message valid
JSON within SNS's size limit.

    .venv/bin/python -m tests.robustness.fuzz_handler [--examples 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from trailhound.authoring.loader import load_rules
from trailhound.delivery.notifications import SNS_MAX_BYTES, build_notification
from trailhound.engine.ruleset import RuleSet
from trailhound.errors import PayloadError
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.subscription import decode_subscription

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
SAMPLES = REPO / "events" / "cloudtrail"

# Sentinels replaced in the JSON text by what a Python value cannot serialise to.
_DEEP = "@@deep@@"
_SURROGATE = "@@surrogate@@"
_SPLICES = {
    f'"{_DEEP}"': "[" * 200 + '{"a":"b"}' + "]" * 200,
    f'"{_SURROGATE}"': '"\\ud800 lone \\udfff"',
}

ALERT_FIELDS = (
    "eventTime",
    "eventID",
    "awsRegion",
    "recipientAccountId",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "readOnly",
    "userIdentity",
    "requestParameters",
    "responseElements",
    "resources",
    "additionalEventData",
)
IDENTITY_FIELDS = (
    "type",
    "arn",
    "principalId",
    "accountId",
    "accessKeyId",
    "invokedBy",
    "userName",
)
SESSION_PATHS = (
    ("sessionContext",),
    ("sessionContext", "sessionIssuer"),
    ("sessionContext", "sessionIssuer", "arn"),
    ("sessionContext", "sessionIssuer", "userName"),
    ("sessionContext", "attributes"),
    ("sessionContext", "attributes", "mfaAuthenticated"),
)

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
_ATTACKER_TEXT = st.one_of(
    _TEXT,
    st.sampled_from(
        [
            "<!channel> <@U123> @here *bold* _it_ ~x~ `code` [link](https://evil.example)",
            "line\nForged: header\r\nBcc: x@example.com",
            "\u202eevil\u202c \u2066x\u2069 \u200b\ufeff",
            "\U0001d54c\U0001d55f\U0001d55a \u2603 \u65e5\u672c\u8a9e \u0639\u0631\u0628\u0649",
            _SURROGATE,
            _DEEP,
        ]
    ),
    st.integers(1, 6).map(lambda power: "A" * (10**power // 2)),
)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**64, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _ATTACKER_TEXT,
)
HOSTILE_VALUE = st.recursive(
    _SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(_TEXT, children, max_size=5)
    ),
    max_leaves=12,
)
NOT_A_RECORD = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", "{", '{"eventName": ', "null", "[]", "42", '"x"', "\ufeff{}"]),
    HOSTILE_VALUE.map(lambda value: _dumps(value)),
    st.sampled_from(['{"eventName": 1, "eventSource": "s3.amazonaws.com"}', '{"eventName": "x"}']),
    st.just("[" * 5_000 + "]" * 5_000),
)


@cache
def ruleset() -> RuleSet:
    """The repository's rules, as the Lambda loads them."""
    return RuleSet(load_rules([RULES]).rules)


@cache
def alerting_records() -> tuple[dict[str, Any], ...]:
    """The sample CloudTrail records that at least one rule matches."""
    records = [orjson.loads(path.read_bytes()) for path in sorted(SAMPLES.glob("*.json"))]
    return tuple(record for record in records if ruleset().match(record).matched)


def alert_keys(record: dict[str, Any]) -> set[tuple[str, str]]:
    """(rule id, event id) of each alert a clean record gives."""
    return {(rule.rule_id, str(record.get("eventID"))) for rule in ruleset().match(record).matched}


@st.composite
def mutated_record(draw: st.DrawFn) -> dict[str, Any]:
    """A record the rules match, with hostile values in the fields the alert reads."""
    record = dict(draw(st.sampled_from(alerting_records())))
    record["eventID"] = f"fuzz-{draw(st.integers(0, 2**32))}"
    for name in draw(st.sets(st.sampled_from(ALERT_FIELDS), min_size=1, max_size=6)):
        record[name] = draw(HOSTILE_VALUE)
    if draw(st.booleans()):
        identity: dict[str, Any] = {}
        for name in draw(st.sets(st.sampled_from(IDENTITY_FIELDS), max_size=4)):
            identity[name] = draw(HOSTILE_VALUE)
        for path in draw(st.sets(st.sampled_from(SESSION_PATHS), max_size=3)):
            node = identity
            for step in path[:-1]:
                child = node.get(step)
                node[step] = child = child if isinstance(child, dict) else {}
                node = child
            node[path[-1]] = draw(HOSTILE_VALUE)
        record["userIdentity"] = identity
    return record


@dataclass(frozen=True)
class Payload:
    """A Lambda event and the good records in it, whose alerts must come out."""

    event: Any
    good: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class LogLine:
    """One log event's message, and the clean record it carries if it is a good one."""

    message: str
    good: dict[str, Any] | None = None


def _dumps(value: Any, *, splice: bool = True) -> str:
    # json, not orjson: CloudTrail's JSON may hold integers beyond 64 bits.
    text = json.dumps(value, ensure_ascii=False)
    if not splice:
        return text
    for sentinel, splice_text in _SPLICES.items():
        text = text.replace(sentinel, splice_text)
    return text


def _good_line(index: int) -> LogLine:
    record = alerting_records()[index % len(alerting_records())]
    return LogLine(_dumps(record), record)


# JSON that Python reads and orjson does not: a record holding it must alert all the same.
_ODD_JSON = ('"\\ud800 lone"', "1e400", "-Infinity", "NaN", "123456789012345678901234567890")


def _odd_good_line(index: int, where: str, odd: str) -> LogLine:
    """A good record with an odd value added beside (never instead of) what the rules read."""
    record = alerting_records()[index % len(alerting_records())]
    changed = dict(record)
    if isinstance(changed.get(where), dict):
        changed[where] = {**changed[where], "fuzzExtra": "@@odd@@"}
    else:
        changed["fuzzExtra"] = "@@odd@@"
    return LogLine(_dumps(changed).replace('"@@odd@@"', odd), record)


LOG_LINES = st.one_of(
    st.integers(0, 1_000).map(_good_line),
    st.builds(
        _odd_good_line,
        st.integers(0, 1_000),
        st.sampled_from(["userIdentity", "requestParameters", "fuzzExtra"]),
        st.sampled_from(_ODD_JSON),
    ),
    mutated_record().map(lambda record: LogLine(_dumps(record))),
    NOT_A_RECORD.map(LogLine),
)


def assemble(lines: list[LogLine], rnd: random.Random, hostile: list[Any]) -> Payload:
    """A subscription payload of these lines; now and then a hostile log event or envelope
    field, and one payload in ten broken whole (truncated, a flipped byte, bad base64)."""
    log_events: list[Any] = [
        {"id": str(index), "timestamp": 0, "message": line.message}
        for index, line in enumerate(lines)
    ]
    if rnd.random() < 0.1:
        log_events.insert(rnd.randrange(len(log_events) + 1), rnd.choice(hostile))
    envelope: dict[str, Any] = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "aws-cloudtrail-logs",
        "logStream": "123456789012_CloudTrail_us-east-1",
        "subscriptionFilters": ["trailhound"],
        "logEvents": log_events,
    }
    breakage = rnd.randrange(50)
    if breakage == 0:
        envelope[rnd.choice(sorted(envelope))] = rnd.choice(hostile)
    # What encode_payload does, with json: a broken envelope may hold integers beyond 64 bits.
    # The envelope is CloudWatch Logs' own JSON: what a log event holds is escaped inside it.
    data = gzip.compress(_dumps(envelope, splice=False).encode(), mtime=0)
    event: Any = {"awslogs": {"data": base64.b64encode(data).decode()}}
    if breakage == 1:
        event = {"awslogs": {"data": base64.b64encode(data[: rnd.randrange(len(data))]).decode()}}
    elif breakage == 2:
        event = {"awslogs": {"data": event["awslogs"]["data"] + rnd.choice("!*$ é")}}
    elif breakage == 3:
        flipped = bytearray(data)
        flipped[rnd.randrange(len(flipped))] ^= 1 << rnd.randrange(8)
        event = {"awslogs": {"data": base64.b64encode(flipped).decode()}}
    elif breakage == 4:
        event = rnd.choice([rnd.choice(hostile), {"awslogs": rnd.choice(hostile)}])
    # A payload broken whole may have lost the good records with the rest.
    good = () if breakage < 5 else tuple(line.good for line in lines if line.good is not None)
    return Payload(event, good)


Parts = tuple[list[LogLine], random.Random, list[Any]]
PAYLOAD_PARTS: st.SearchStrategy[Parts] = st.tuples(
    st.lists(LOG_LINES, max_size=10),
    st.randoms(use_true_random=False),
    st.lists(HOSTILE_VALUE, min_size=1, max_size=2),
)
PAYLOADS = PAYLOAD_PARTS.map(lambda parts: assemble(*parts))


def mutated_payloads(
    count: int, lines: list[LogLine], hostile: list[Any], rnd: random.Random
) -> Iterator[Payload]:
    """Payloads recombined from a pool of generated lines, some of them cut short."""
    for _ in range(count):
        chosen = rnd.choices(lines, k=rnd.randrange(11))
        for index, line in enumerate(chosen):
            if rnd.random() < 0.05 and line.message:
                chosen[index] = LogLine(line.message[: rnd.randrange(len(line.message))])
        yield assemble(chosen, rnd, hostile)


@dataclass
class Figures:
    """What a fuzzing run found."""

    payloads: int = 0
    refused: int = 0
    log_events: int = 0
    records: int = 0
    bad_log_events: int = 0
    alerts: int = 0
    good_records: int = 0
    good_alerted: int = 0
    missed: int = 0
    rule_failures: int = 0
    alert_failures: int = 0
    oversized: int = 0
    unhandled: Counter[str] = field(default_factory=Counter)


def run_payload(payload: Payload, figures: Figures) -> None:
    """The Lambda's path on one payload; raises on anything but a whole payload refused."""
    figures.payloads += 1
    try:
        batch = decode_subscription(payload.event)
    except PayloadError:
        figures.refused += 1
        return
    summary = DetectionSummary()
    alerts = list(detect(batch.items, ruleset(), summary))
    figures.log_events += len(batch.items)
    figures.records += summary.events
    figures.bad_log_events += len(summary.bad_inputs)
    figures.rule_failures += len(summary.rule_failures)
    figures.alert_failures += len(summary.alert_failures)
    if summary.rule_failures or summary.alert_failures:
        failure = (summary.rule_failures + summary.alert_failures)[0].failure
        raise AssertionError(f"{failure.rule_id}: {failure.error}")
    for alert in alerts:
        notification = build_notification(alert)
        message = orjson.loads(notification.message)
        orjson.loads(message["https"])
        if notification.size > SNS_MAX_BYTES:
            figures.oversized += 1
            raise AssertionError(f"{alert.rule_id}: message of {notification.size:,} bytes")
    figures.alerts += len(alerts)
    found = {(alert.rule_id, str(alert.event_id)) for alert in alerts}
    for record in payload.good:
        figures.good_records += 1
        missing = alert_keys(record) - found
        if missing:
            figures.missed += 1
            raise AssertionError(f"good record not alerted: {sorted(missing)}")
        figures.good_alerted += 1


def generate(examples: int, run: Callable[[Parts], None], *, seed_value: int = 0) -> None:
    """Drive `run` with `examples` generated payloads' parts (generation only, no shrinking)."""

    @seed(seed_value)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(PAYLOAD_PARTS)
    def each(parts: Parts) -> None:
        run(parts)

    each()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=2_000, help="payloads from hypothesis")
    parser.add_argument("--examples", type=int, default=100_000, help="payloads mutated from them")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures = Figures()
    first: list[str] = []

    def run(payload: Payload) -> None:
        try:
            run_payload(payload, figures)
        except Exception as error:  # counted and shown: the figure that must be 0
            figures.unhandled[f"{type(error).__name__}: {str(error)[:120]}"] += 1
            if not first:
                first.append(traceback.format_exc())

    lines: list[LogLine] = []
    hostile: list[Any] = []

    def run_generated(parts: Parts) -> None:
        lines.extend(parts[0])
        hostile.extend(parts[2])
        run(assemble(*parts))

    started = time.perf_counter()
    generate(args.generated, run_generated, seed_value=args.seed)
    generated = figures.payloads
    for payload in mutated_payloads(args.examples, lines, hostile, random.Random(args.seed)):
        run(payload)
    seconds = time.perf_counter() - started
    print(f"{generated:,} payloads generated by hypothesis, then {args.examples:,} recombined")
    print(f"and mutated from their {len(lines):,} log lines and {len(hostile):,} hostile values\n")
    print(_report(figures, seconds))
    if first:
        print("\nfirst unhandled exception:\n" + first[0])
    return 1 if figures.unhandled else 0


def _report(figures: Figures, seconds: float) -> str:
    unhandled = sum(figures.unhandled.values())
    lines = [
        f"payloads                      {figures.payloads:>9,}  ({seconds:.0f} s)",
        f"  refused whole (PayloadError) {figures.refused:>9,}",
        f"log events                    {figures.log_events:>9,}",
        f"  CloudTrail records matched  {figures.records:>9,}",
        f"  bad log events counted      {figures.bad_log_events:>9,}",
        f"alerts built and rendered     {figures.alerts:>9,}",
        f"good records among bad        {figures.good_records:>9,}",
        f"  alerted                     {figures.good_alerted:>9,}",
        f"  missed                      {figures.missed:>9,}",
        f"rule or alert failures        {figures.rule_failures + figures.alert_failures:>9,}",
        f"messages over 256 KB          {figures.oversized:>9,}",
        f"unhandled exceptions          {unhandled:>9,}",
    ]
    lines += [f"  {count:>6,} x {kind}" for kind, count in figures.unhandled.most_common(10)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

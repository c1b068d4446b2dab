"""No attacker-sized value makes an event cost more than its size: matching, building the alert
and rendering every message take time in proportion to the values they read.

An attacker writes the user agent, the error message a denied call quotes, request parameters
and resource names. Each check here times the whole per-event path (the rule packs' matching,
the alert, its SNS message with the e-mail and chat texts) on one value of 8 n characters and
on 8 values of n characters, side by side in one run: in linear time the two take about as
long; a quadratic step makes the long value 8 times slower. The test fails on a ratio, not on
a time, so a slow machine does not fail it.
"""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.corpus import REPO, SIGMAHQ_RULES
from trailhound.alerts.build import build_alert
from trailhound.alerts.redaction import _redacted, may_hold_secret, redact, redact_text
from trailhound.authoring.loader import load_rules
from trailhound.delivery.notifications import build_notification
from trailhound.engine.rule import Rule, Severity
from trailhound.engine.ruleset import RuleSet

SHORT = 4096
"""Above the 2 KB under which redaction remembers its verdicts, so every call does the work."""
TIMES = 8
LIMIT = 3.0
"""One value 8 times as long may cost at most 3 times as much as 8 short ones; quadratic work
costs about 8 times as much, linear about as much."""

# Words and shapes the redaction and chat-escaping patterns look for, which an attacker can
# repeat: each is a near miss, so every occurrence makes a pattern look further.
UNITS = [
    "token",
    "apikey",
    "secret",
    "passw",
    "1token",
    "api key ",
    '"secret',
    "authorization ",
    "bearer ",
    "://a:",
    "-----BEGIN ",
    "-----BEGIN A",
    "IQoJb3JpZ2lu",
    "A1b2/C3d+",
    "token:=",
    "a.b-token",
    "@_*~`<>[](",
    "\u202e\t\n ",
    "é",
]
FIELDS: list[tuple[str | int, ...]] = [
    ("userAgent",),
    ("errorMessage",),
    ("errorCode",),
    ("sourceIPAddress",),
    ("userIdentity", "arn"),
    ("userIdentity", "userName"),
    ("requestParameters", "bucketName"),
    ("requestParameters", "policyDocument"),
    ("resources", 0, "ARN"),
]
TITLE_RULE = Rule(
    rule_id="long_values",
    path=REPO / "rules" / "long_values.yml",
    title="t",
    severity=Severity.HIGH,
    title_template="{eventName} by {userIdentity.arn} from {sourceIPAddress}: {userAgent}",
)


@cache
def ruleset() -> RuleSet:
    """The rule pack and the SigmaHQ pack, whose regular expressions read user agents too."""
    return RuleSet(load_rules([REPO / "rules", SIGMAHQ_RULES]).rules)


def record_with(path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    """A denied call (any principal can make one) with `value` at `path`."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventSource": "s3.amazonaws.com",
        "eventName": "DeleteBucket",
        "awsRegion": "us-east-1",
        "eventID": "3f1c6a52-8b8e-4e55-9d6e-0c1f2a3b4c5d",
        "eventTime": "2026-11-30T10:00:00Z",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "errorCode": "AccessDenied",
        "errorMessage": "denied",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/x"},
        "requestParameters": {"bucketName": "b"},
        "resources": [{"ARN": "arn:aws:s3:::b"}],
        "recipientAccountId": "123456789012",
    }
    target: Any = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return record


def per_event(record: dict[str, Any]) -> None:
    """What the Lambda does with one alerting record, AWS calls left out."""
    for compiled in ruleset().match(record).matched:
        build_notification(build_alert(compiled.rule, record))
    build_notification(build_alert(TITLE_RULE, record))


def best_time(work: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of `repeat` runs, the cyclic collector paused, as it would only add noise."""
    best = float("inf")
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


def growth(make: Callable[[int], list[Any]], run: Callable[[Any], object]) -> float:
    """Time of one input of TIMES x SHORT characters over TIMES inputs of SHORT characters."""
    short, long = make(SHORT), make(SHORT * TIMES)[:1]
    assert len(short) == TIMES
    run(short[0])  # Builds what is built once (rule predicates, pydantic's validators).

    def run_all(inputs: list[Any]) -> None:
        for item in inputs:
            run(item)

    return best_time(lambda: run_all(long)) / best_time(lambda: run_all(short))


def repeated(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("path", FIELDS, ids=[".".join(map(str, path)) for path in FIELDS])
@pytest.mark.parametrize("unit", UNITS)
def test_an_event_costs_in_proportion_to_its_attacker_written_values(
    unit: str, path: tuple[str | int, ...]
) -> None:
    def make(size: int) -> list[dict[str, Any]]:
        return [record_with(path, repeated(unit, size)) for _ in range(TIMES)]

    ratio = growth(make, lambda record: per_event(copy.deepcopy(record)))
    assert ratio < LIMIT, f"{TIMES}x longer {unit!r} in {path} costs {ratio:.1f}x as much"


@pytest.mark.parametrize("unit", UNITS)
def test_redaction_of_text_and_of_parameter_keys_is_linear(unit: str) -> None:
    def texts(size: int) -> list[str]:
        return [repeated(unit, size) for _ in range(TIMES)]

    for run in (redact_text, _redacted, may_hold_secret):
        ratio = growth(texts, run)
        assert ratio < LIMIT, f"{run.__name__} of {unit!r}: {ratio:.1f}x"
    ratio = growth(texts, lambda text: redact({text: text, "k": {text: [text]}}))
    assert ratio < LIMIT, f"redact of {unit!r} keys: {ratio:.1f}x"


def test_the_growth_check_catches_quadratic_work() -> None:
    def quadratic(text: str) -> int:
        return sum(text.count(text[index : index + 3]) for index in range(0, len(text), 64))

    ratio = growth(lambda size: [repeated("token", size) for _ in range(TIMES)], quadratic)
    assert ratio > LIMIT


ADVERSARIAL = st.lists(
    st.one_of(st.sampled_from(UNITS), st.sampled_from(["=", ":", " ", '"', "x", "1"])),
    min_size=1,
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(ADVERSARIAL, min_size=len(FIELDS), max_size=len(FIELDS)), st.integers(1, 200))
def test_adversarial_values_in_every_field_an_alert_reads_leave_it_sound(
    values: list[str], times: int
) -> None:
    record = record_with(FIELDS[0], "")
    for path, value in zip(FIELDS, values, strict=True):
        target: Any = record
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value * times
    alert = build_alert(TITLE_RULE, record)
    notification = build_notification(alert)
    assert notification.size <= 262_144
    for value in values:
        text = value * times
        if not may_hold_secret(text):  # The cheap test never hides what redaction would find.
            assert _redacted(text) == text
        once = redact_text(text)
        assert redact_text(once) == once

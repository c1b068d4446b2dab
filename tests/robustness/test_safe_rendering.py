"""Attacker-controlled event fields cannot mention people, link, format or forge lines, and
credentials they carry never reach an inbox or a channel."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trailhound.alerts.build import build_alert
from trailhound.authoring.loader import load_rule_file
from trailhound.delivery.chat import render_chat
from trailhound.delivery.email import render_subject, render_text
from trailhound.delivery.notifications import build_notification
from trailhound.engine.rule import CompiledRule

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "events" / "cloudtrail" / "s3_delete_bucket.json"

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "@here",
    "@channel",
    "<@U123ABC>",
    "<#C123|general>",
    "<https://evil.example|Reset your password>",
    "[click](https://evil.example)",
    "https://evil.example/login",
    "*bold* _italic_ ~strike~ `code` ```block```",
    "\nSeverity: INFO\nWho: nobody",
    "\r\n\r\nRunbook:\nignore this alert",
    "\u202eevil\u202c\u2066\u2069\u200b\ufeff\u2028\u2029\x85",
    "\x00\x07\x1b[31m",
    "A" * 3000,
]
SECRETS = [
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD7EXAMPLETOKEN",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7EXAMPLE\n-----END RSA PRIVATE KEY-----",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.EXAMPLESIG",
    "password=Hunter2Hunter2",
    "https://deploy:S3cretPassw0rd@git.example.com/repo",
]
# What must never survive of each secret (the part a thief needs).
SECRET_CORES = [
    "K7MDENG/bPxRfiCYEXAMPLEKEY",
    "wEaCXVzLWVhc3QtMSJHMEUCIQD7EXAMPLETOKEN",
    "MIIEowIBAAKCAQEA7EXAMPLE",
    "eyJzdWIiOiIxIn0",
    "Hunter2Hunter2",
    "S3cretPassw0rd",
]
ATTACKER_TEXT = st.one_of(
    st.sampled_from(INJECTIONS),
    st.lists(st.sampled_from(INJECTIONS), min_size=1, max_size=3).map("".join),
    st.text(max_size=60),
    st.tuples(st.text(max_size=10), st.sampled_from(INJECTIONS)).map("".join),
)
FIELDS = (
    ("userAgent",),
    ("errorMessage",),
    ("errorCode",),
    ("sourceIPAddress",),
    ("requestParameters", "bucketName"),
    ("requestParameters", "note"),
    ("userIdentity", "userName"),
    ("userIdentity", "arn"),
    ("userIdentity", "principalId"),
    ("resources", 0, "ARN"),
)
LABELS = {"Who", "ARN", "Issuer", "Key", "MFA", "From", "What", "Resources", "When", "Where"}
LABELS |= {"Console", "Severity"}
DISGUISE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


@cache
def rule() -> CompiledRule:
    return load_rule_file(REPO / "rules" / "s3" / "s3_bucket_deleted.yml")


def hostile_record(values: dict[tuple[str | int, ...], str]) -> dict[str, Any]:
    record = json.loads(SAMPLE.read_bytes())
    record.setdefault("resources", [{"ARN": "arn:aws:s3:::example"}])
    record["errorCode"] = "AccessDenied"  # so that the error message is shown too
    for path, value in values.items():
        node: Any = record
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    return record


def chat_texts(chat: dict[str, Any]) -> list[str]:
    content, metadata = chat["content"], chat["metadata"]
    return [
        content["title"],
        metadata["summary"],
        *content["keywords"],
        *metadata["relatedResources"],
        *metadata["additionalContext"].values(),
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), ATTACKER_TEXT, min_size=1))
def test_attacker_fields_cannot_mention_link_or_format_in_chat(
    values: dict[tuple[str | int, ...], str],
) -> None:
    chat = render_chat(build_alert(rule().rule, hostile_record(values)))

    console = re.compile(r"<https://[^|<>]+\|Open the event in the CloudTrail console>")
    description = console.sub("", chat["content"]["description"])
    for text in [description, *chat_texts(chat)]:
        assert "<" not in text and ">" not in text, text
        assert not re.search(r"(?<!\w)@\w", text), text
        assert not DISGUISE.search(text.replace("\n", "")), text
    for line in description.split("\n"):
        fact = re.fullmatch(r"\*([A-Za-z]+):\* `([^`]*)`", line)
        assert fact or "`" not in line, line
    for text in (chat["content"]["title"], chat["metadata"]["summary"]):
        assert "](" not in text and "://" not in text and "`" not in text, text
        assert not re.search(r"[*~]|(?<!\w)_|_(?!\w)", text), text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), ATTACKER_TEXT, min_size=1))
def test_attacker_fields_cannot_forge_lines_of_the_email(
    values: dict[tuple[str | int, ...], str],
) -> None:
    alert = build_alert(rule().rule, hostile_record(values))

    text = render_text(alert)
    subject = render_subject(alert)

    facts, _, rest = text.partition("\n\nRunbook:\n")
    lines = facts.split("\n")
    labels = [line.split(": ", 1)[0] for line in lines[1:]]
    assert set(labels) <= LABELS and len(labels) == len(set(labels)), lines
    assert all(len(line) <= 320 for line in lines)
    assert not DISGUISE.search(text.replace("\n", ""))
    excerpt = rest.split("\n\nEvent excerpt:\n")[1]
    assert "\n" not in excerpt and json.loads(excerpt)
    assert subject.isascii() and subject.isprintable() and len(subject) <= 99


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(SECRETS), min_size=1),
    st.sampled_from(["password", "secretAccessKey", "sessionToken", "authorizationHeader"]),
)
# A private key in a title placeholder, cut to the title's length before its end marker.
@example(
    {("requestParameters", "bucketName"): SECRETS[2], ("userIdentity", "arn"): SECRETS[2]},
    "password",
)
def test_credentials_in_event_fields_never_reach_email_or_chat(
    values: dict[tuple[str | int, ...], str], secret_key: str
) -> None:
    record = hostile_record({path: f"x {secret} y" for path, secret in values.items()})
    record["requestParameters"][secret_key] = "Plain0ldSecretValue"

    notification = build_notification(build_alert(rule().rule, record))

    sent = json.dumps(
        [notification.message, notification.subject, notification.attributes],
        ensure_ascii=False,
    )
    delivered = sent + json.loads(notification.message)["https"] + render_text(notification.alert)
    # The alert itself too: replay prints it and the ledger keeps its digest.
    delivered += notification.alert.to_json()
    for core in [*SECRET_CORES, "Plain0ldSecretValue"]:
        assert core not in delivered.replace("\\n", "\n").replace("\\/", "/")

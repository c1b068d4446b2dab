"""An alert as the AWS Chatbot custom notification, which Slack, Teams and Chime render natively.

Chatbot's client-markdown is Slack's mrkdwn (translated for Teams and Chime): values from the event
go in code spans, with the characters that would let them escape the span, mention people or make
links replaced by look-alikes, so an event can neither ping a channel nor forge a link.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from trailhound.alerts.model import Alert
from trailhound.delivery.email import render_subject
from trailhound.delivery.summary import UNKNOWN, Facts, labelled_facts, safe_block, safe_line
from trailhound.text import cut

CHAT_TITLE_MAX_CHARS = 250
CHAT_VALUE_MAX_CHARS = 200
CHAT_DESCRIPTION_MAX_CHARS = 3000
"""Slack's limit on the text of one message block, which Chatbot renders the description into."""
CHAT_STEPS_MAX = 10
CHAT_STEP_MAX_CHARS = 500
CHAT_KEYWORDS_MAX = 10
CHAT_RESOURCES_MAX = 10
CHAT_EVENT_TYPE = "trailhound-alert"

# Chatbot's client-markdown is Slack's mrkdwn (translated for Teams and Chime), where `<...>` makes
# mentions (<!channel>) and links (<url|text>). Entities such as &lt; do not survive the
# translation on every platform, so attacker-controlled text gets look-alike characters instead:
# still readable, never markup. Inside a code span only the characters that end the span or open
# a `<...>` sequence matter.
_CHAT_CODE = str.maketrans({"`": "\u02cb", "<": "\u2039", ">": "\u203a"})
_CHAT_TEXT = str.maketrans({"*": "\u2217", "~": "\u223c"})
# An @ that starts a word is a mention (@here, @channel, @alice); one inside an e-mail address is
# not, and stays.
_MENTION = re.compile(r"(?<!\w)@")
# Underscores emphasise only at a word's edge (_text_), so names like ci_deployer keep theirs.
_EDGE_UNDERSCORE = re.compile(r"(?<!\w)_|_(?!\w)")
# A markdown link needs "](" (or "][" / "]:" for references); "[HIGH] title" stays as it is.
_LINK_BRACKET = re.compile(r"\](?=[(\[:])")
# A top-level list item; indented (nested) items continue the step above them.
_LIST_MARKER = re.compile(r" ?(?:\d{1,3}[.)]|[-*+])\s+")
# The console links trailhound builds: anything else is shown as text, never as a link.
_CONSOLE_URL = re.compile(
    r"https://[a-z0-9.-]+/cloudtrail/home\?region=[a-z0-9-]+#/events/[A-Za-z0-9%._~-]+", re.ASCII
)


def render_chat(
    alert: Alert, facts: Facts | None = None, subject: str | None = None
) -> dict[str, Any]:
    """The AWS Chatbot custom notification, which Slack, Teams and Chime render natively.

    Repeats of one rule by one principal share `threadId`, so they collect in one thread.
    `facts` and `subject` are the alert's `labelled_facts` and `render_subject`, for a caller
    that has them already.
    """
    if facts is None:
        facts = labelled_facts(alert)
    if subject is None:
        subject = render_subject(alert)
    who = alert.who
    principal = who.arn or who.principal_id or who.user_name or UNKNOWN
    thread = hashlib.sha256(f"{alert.rule_id}\n{principal}".encode()).hexdigest()[:32]
    chat: dict[str, Any] = {"version": "1.0", "source": "custom"}
    if alert.event_id:
        chat["id"] = _chat_code(alert.dedup_key)
    return chat | {
        "content": {
            "textType": "client-markdown",
            "title": cut(_chat_text(alert.title), CHAT_TITLE_MAX_CHARS),
            "description": _chat_description(alert, facts),
            "nextSteps": list(_chat_steps(alert.runbook)),
            "keywords": list(_keywords(alert.severity.value, alert.rule_id, tuple(alert.tags))),
        },
        "metadata": {
            "threadId": f"trailhound-{thread}",
            "summary": _chat_text(subject),
            "eventType": CHAT_EVENT_TYPE,
            "relatedResources": _chat_list((who.arn, *alert.what.resources), CHAT_RESOURCES_MAX),
            "additionalContext": _chat_context(alert),
        },
    }


def _chat_description(alert: Alert, facts: Facts) -> str:
    """The facts as `*Label:* value` lines, values in code spans, then the rule's description."""
    lines = [f"*Severity:* {alert.severity.value.upper()}"]
    for label, value in facts:
        if label == "Console" and _CONSOLE_URL.fullmatch(value):
            lines.append(f"<{value}|Open the event in the CloudTrail console>")
        else:  # Each fact is a safe line already.
            lines.append(f"*{label}:* `{cut(_code_span(value), CHAT_VALUE_MAX_CHARS)}`")
    lines.append(f"*Rule:* `{_chat_code(alert.rule_id)}`")
    description = _paragraphs(alert.description, keep_markers=True)
    if description:
        lines += ["", *description]
    return cut("\n".join(lines), CHAT_DESCRIPTION_MAX_CHARS)


# Rule texts (descriptions, runbooks, ids and tags) are rendered once per rule, not per alert.
_RULE_TEXTS = 512


@functools.lru_cache(maxsize=_RULE_TEXTS)
def _chat_steps(runbook: str | None) -> tuple[str, ...]:
    """The runbook's list items (or paragraphs) as separate steps, without their markers."""
    steps = _paragraphs(runbook or "", keep_markers=False)
    return tuple(cut(step, CHAT_STEP_MAX_CHARS) for step in steps[:CHAT_STEPS_MAX])


@functools.lru_cache(maxsize=_RULE_TEXTS)
def _keywords(severity: str, rule_id: str, tags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_chat_list((severity.upper(), rule_id, *tags), CHAT_KEYWORDS_MAX))


@functools.lru_cache(maxsize=_RULE_TEXTS)
def _paragraphs(text: str, *, keep_markers: bool) -> tuple[str, ...]:
    """Top-level list items and paragraphs, each unwrapped onto one line.

    Rule texts are wrapped for the YAML file; chat wraps text itself, and a hard break in the
    middle of a sentence looks like a mistake there.
    """
    items: list[str] = []
    new_item = True
    for line in safe_block(text).split("\n"):
        if not line.strip():
            new_item = True
            continue
        marker = _LIST_MARKER.match(line)
        if marker or new_item:
            items.append(line.strip() if keep_markers or not marker else line[marker.end() :])
        else:
            items[-1] += " " + line.strip()
        new_item = False
    return tuple(items)


def _chat_list(values: tuple[str | None, ...], limit: int) -> list[str]:
    """Distinct non-empty values, escaped and capped, in order."""
    escaped = (cut(_chat_code(value), CHAT_VALUE_MAX_CHARS) for value in values)
    return list(dict.fromkeys(value for value in escaped if value))[:limit]


def _chat_context(alert: Alert) -> dict[str, str]:
    """Identifiers for custom actions (buttons) and filters, as Chatbot's string map."""
    who, what, where = alert.who, alert.what, alert.where
    context = {
        "rule_id": alert.rule_id,
        "severity": alert.severity.value,
        "event_id": alert.event_id,
        "event_name": what.event_name,
        "account_id": where.account_id,
        "region": where.region,
        "principal_arn": who.arn,
        "access_key_id": who.access_key_id,
        "source_ip": who.source_ip,
    }
    escaped = {key: cut(_chat_code(value), CHAT_VALUE_MAX_CHARS) for key, value in context.items()}
    return {key: value for key, value in escaped.items() if value}


def _chat_code(text: str | None) -> str:
    """A value for a chat code span: one line that cannot end the span or start a mention."""
    return _code_span(safe_line(text))


def _code_span(line: str) -> str:
    """`_chat_code` of a value that is a safe line already."""
    return _MENTION.sub("\uff20", line.translate(_CHAT_CODE))


def _chat_text(text: str | None) -> str:
    """A value for chat text outside code: no mentions, links or formatting either."""
    escaped = _chat_code(text).translate(_CHAT_TEXT)
    escaped = _LINK_BRACKET.sub("\uff3d", _EDGE_UNDERSCORE.sub("\uff3f", escaped))
    # Breaks automatic linking of URLs, which Slack and Teams do outside code spans.
    return escaped.replace("://", ":\u2044\u2044")

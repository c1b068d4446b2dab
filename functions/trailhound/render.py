"""Alerts as words for people: the e-mail text, its subject, and the chat notification.

Every format starts from `_summary`, the same labelled facts in the same order, so e-mail and
chat never disagree on what an alert says. Values are attacker-controlled, so each is flattened
to one clean line first, and escaped for chat markdown on top of that.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC
from typing import Any

import orjson

from trailhound.alerts import Alert
from trailhound.redaction import redact, redact_text

SUBJECT_MAX_CHARS = 99
"""SNS wants subjects "less than 100 characters long"."""

LINE_VALUE_MAX_CHARS = 100
FACT_MAX_CHARS = 300
USER_AGENT_MAX_CHARS = 80
ERROR_MESSAGE_MAX_CHARS = 100
RESOURCES_SHOWN = 3
UNKNOWN = "unknown"

CHAT_TITLE_MAX_CHARS = 250
CHAT_VALUE_MAX_CHARS = 200
CHAT_DESCRIPTION_MAX_CHARS = 3000
"""Slack's limit on the text of one message block, which Chatbot renders the description into."""
CHAT_STEPS_MAX = 10
CHAT_STEP_MAX_CHARS = 500
CHAT_KEYWORDS_MAX = 10
CHAT_RESOURCES_MAX = 10
CHAT_EVENT_TYPE = "trailhound-alert"

# Punctuation that NFKD leaves alone but rule authors like to use in titles.
_ASCII_PUNCTUATION = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)
_WHITESPACE = re.compile(r"\s")
# C0/C1 controls and the invisible or bidi-reordering characters that can disguise text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")

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


def render_text(alert: Alert) -> str:
    """The email body: title, severity, a labelled line per known fact, runbook, event excerpt."""
    lines = [_line(alert.title), f"Severity: {alert.severity.value.upper()}"]
    lines += [f"{label}: {value}" for label, value in _summary(alert)]
    if alert.runbook and alert.runbook.strip():
        lines += ["", "Runbook:", _block(alert.runbook)]
    excerpt = render_excerpt(alert)
    if excerpt:
        lines += ["", "Event excerpt:", excerpt]
    return "\n".join(lines)


def render_excerpt(alert: Alert) -> str:
    """The event's id, read-only flag and request parameters as one line of compact JSON."""
    what = alert.what
    fields = {
        "eventID": alert.event_id,
        "readOnly": what.read_only,
        "requestParameters": redact(what.request_parameters),
    }
    excerpt = {key: value for key, value in fields.items() if value is not None}
    if not excerpt:
        return ""
    # JSON escapes C0 controls; bidi overrides and line separators are valid JSON but could
    # still disguise the line, so they go as everywhere else.
    return _CONTROL.sub("", orjson.dumps(excerpt).decode())


def render_chat(alert: Alert) -> dict[str, Any]:
    """The AWS Chatbot custom notification, which Slack, Teams and Chime render natively.

    Repeats of one rule by one principal share `threadId`, so they collect in one thread.
    """
    who = alert.who
    principal = who.arn or who.principal_id or who.user_name or UNKNOWN
    thread = hashlib.sha256(f"{alert.rule_id}\n{principal}".encode()).hexdigest()[:32]
    chat: dict[str, Any] = {"version": "1.0", "source": "custom"}
    if alert.event_id:
        chat["id"] = _chat_code(alert.dedup_key)
    return chat | {
        "content": {
            "textType": "client-markdown",
            "title": _cut(_chat_text(alert.title), CHAT_TITLE_MAX_CHARS),
            "description": _chat_description(alert),
            "nextSteps": _chat_steps(alert.runbook),
            "keywords": _chat_list(
                (alert.severity.value.upper(), alert.rule_id, *alert.tags), CHAT_KEYWORDS_MAX
            ),
        },
        "metadata": {
            "threadId": f"trailhound-{thread}",
            "summary": _chat_text(render_subject(alert)),
            "eventType": CHAT_EVENT_TYPE,
            "relatedResources": _chat_list((who.arn, *alert.what.resources), CHAT_RESOURCES_MAX),
            "additionalContext": _chat_context(alert),
        },
    }


def render_subject(alert: Alert) -> str:
    """`[HIGH] title`, ASCII without control characters, short enough for SNS."""
    text = f"[{alert.severity.value.upper()}] {_line(alert.title)}"
    # NFKD turns "é" into "e" plus an accent and "…" into "...", so less becomes "?".
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_PUNCTUATION))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    ascii_text = plain.encode("ascii", errors="replace").decode("ascii")
    return _cut(_line(ascii_text), SUBJECT_MAX_CHARS, marker="...")


def one_line(text: str | None) -> str:
    """Attacker-controlled text as one line without control or disguising characters."""
    return _line(text)


def _summary(alert: Alert) -> list[tuple[str, str]]:
    """The labelled facts in reading order; a fact that is unknown is left out."""
    who, what, where = alert.who, alert.what, alert.where
    facts: list[tuple[str, str | None]] = [
        ("Who", _who(alert)),
        ("ARN", who.arn),
        ("Issuer", who.session_issuer_arn),
        ("Key", who.access_key_id),
        ("MFA", None if who.mfa_authenticated is None else _yes_no(who.mfa_authenticated)),
        ("From", _joined(who.source_ip, _cut(_line(who.user_agent), USER_AGENT_MAX_CHARS))),
        ("What", _what(alert)),
        ("Resources", _resources(what.resources)),
        ("When", _when(alert)),
        ("Where", _where(where.account_id, where.region)),
        ("Console", alert.console_url),
    ]
    # Each fact one bounded line: an attacker's 2 KB user name or error code stays readable.
    return [(label, _cut(_line(value), FACT_MAX_CHARS)) for label, value in facts if value]


def _chat_description(alert: Alert) -> str:
    """The facts as `*Label:* value` lines, values in code spans, then the rule's description."""
    lines = [f"*Severity:* {alert.severity.value.upper()}"]
    for label, value in _summary(alert):
        if label == "Console" and _CONSOLE_URL.fullmatch(value):
            lines.append(f"<{value}|Open the event in the CloudTrail console>")
        else:
            lines.append(f"*{label}:* `{_cut(_chat_code(value), CHAT_VALUE_MAX_CHARS)}`")
    lines.append(f"*Rule:* `{_chat_code(alert.rule_id)}`")
    description = _paragraphs(alert.description, keep_markers=True)
    if description:
        lines += ["", *description]
    return _cut("\n".join(lines), CHAT_DESCRIPTION_MAX_CHARS)


def _chat_steps(runbook: str | None) -> list[str]:
    """The runbook's list items (or paragraphs) as separate steps, without their markers."""
    steps = _paragraphs(runbook or "", keep_markers=False)
    return [_cut(step, CHAT_STEP_MAX_CHARS) for step in steps[:CHAT_STEPS_MAX]]


def _paragraphs(text: str, *, keep_markers: bool) -> list[str]:
    """Top-level list items and paragraphs, each unwrapped onto one line.

    Rule texts are wrapped for the YAML file; chat wraps text itself, and a hard break in the
    middle of a sentence looks like a mistake there.
    """
    items: list[str] = []
    new_item = True
    for line in _block(text).split("\n"):
        if not line.strip():
            new_item = True
            continue
        marker = _LIST_MARKER.match(line)
        if marker or new_item:
            items.append(line.strip() if keep_markers or not marker else line[marker.end() :])
        else:
            items[-1] += " " + line.strip()
        new_item = False
    return items


def _chat_list(values: tuple[str | None, ...], limit: int) -> list[str]:
    """Distinct non-empty values, escaped and capped, in order."""
    escaped = (_cut(_chat_code(value), CHAT_VALUE_MAX_CHARS) for value in values)
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
    escaped = {key: _cut(_chat_code(value), CHAT_VALUE_MAX_CHARS) for key, value in context.items()}
    return {key: value for key, value in escaped.items() if value}


def _chat_code(text: str | None) -> str:
    """A value for a chat code span: one line that cannot end the span or start a mention."""
    return _MENTION.sub("\uff20", _line(text).translate(_CHAT_CODE))


def _chat_text(text: str | None) -> str:
    """A value for chat text outside code: no mentions, links or formatting either."""
    escaped = _chat_code(text).translate(_CHAT_TEXT)
    escaped = _LINK_BRACKET.sub("\uff3d", _EDGE_UNDERSCORE.sub("\uff3f", escaped))
    # Breaks automatic linking of URLs, which Slack and Teams do outside code spans.
    return escaped.replace("://", ":\u2044\u2044")


def _who(alert: Alert) -> str:
    name = _line(alert.who.user_name) or UNKNOWN
    kind = _line(alert.who.type)
    return f"{name} ({kind})" if kind else name


def _what(alert: Alert) -> str:
    what = alert.what
    service = (what.event_source or "").split(".", 1)[0]
    call = ":".join(part for part in (service, what.event_name) if part) or UNKNOWN
    if what.error_code:
        message = _cut(_line(what.error_message), ERROR_MESSAGE_MAX_CHARS)
        call += f" FAILED {what.error_code}" + (f": {message}" if message else "")
    return call


def _resources(resources: list[str]) -> str | None:
    if not resources:
        return None
    shown = ", ".join(_cut(_line(arn), LINE_VALUE_MAX_CHARS) for arn in resources[:RESOURCES_SHOWN])
    hidden = len(resources) - RESOURCES_SHOWN
    return f"{shown} (+{hidden} more)" if hidden > 0 else shown


def _when(alert: Alert) -> str:
    if alert.event_time is None:
        return UNKNOWN
    return alert.event_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _where(account_id: str | None, region: str | None) -> str:
    account = f"account {account_id}" if account_id else None
    return _joined(account, region) or UNKNOWN


def _joined(*parts: str | None) -> str | None:
    return " · ".join(_line(part) for part in parts if part) or None


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _line(text: str | None) -> str:
    """One line: whitespace runs become one space, control characters and credentials go."""
    if not text:
        return ""
    return redact_text(" ".join(_CONTROL.sub("", _WHITESPACE.sub(" ", text)).split()))


def _block(text: str) -> str:
    """Like `_line`, but keeps line breaks and indentation, for markdown such as runbooks."""
    lines = []
    for line in text.replace("\r\n", "\n").expandtabs(4).split("\n"):
        indent = len(line) - len(line.lstrip(" "))
        lines.append(" " * indent + _line(line) if line.strip() else "")
    return "\n".join(lines).strip("\n")


def _cut(text: str | None, limit: int, marker: str = "…") -> str:
    if not text or len(text) <= limit:
        return text or ""
    return text[: limit - len(marker)] + marker

"""Alerts as words for people: the plain-text body and the subject that SNS sends by email.

Every format starts from `_summary`, the same labelled facts in the same order, so another
format (e.g. Chatbot's JSON) can be added beside `render_text` without re-deciding what an
alert says. Values are attacker-controlled, so each is flattened to one clean line first.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC

from trailhound.alerts import Alert

SUBJECT_MAX_CHARS = 99
"""SNS wants subjects "less than 100 characters long"."""

LINE_VALUE_MAX_CHARS = 100
USER_AGENT_MAX_CHARS = 80
ERROR_MESSAGE_MAX_CHARS = 100
RESOURCES_SHOWN = 3
UNKNOWN = "unknown"

# Punctuation that NFKD leaves alone but rule authors like to use in titles.
_ASCII_PUNCTUATION = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)
_WHITESPACE = re.compile(r"\s")
# C0/C1 controls and the invisible or bidi-reordering characters that can disguise text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def render_text(alert: Alert) -> str:
    """The email body: title, severity, then one short labelled line per known fact."""
    lines = [_line(alert.title), f"Severity: {alert.severity.value.upper()}"]
    lines += [f"{label}: {value}" for label, value in _summary(alert)]
    if alert.runbook and alert.runbook.strip():
        lines += ["", "Runbook:", _block(alert.runbook)]
    return "\n".join(lines)


def render_subject(alert: Alert) -> str:
    """`[HIGH] title`, ASCII without control characters, short enough for SNS."""
    text = f"[{alert.severity.value.upper()}] {_line(alert.title)}"
    # NFKD turns "é" into "e" plus an accent and "…" into "...", so less becomes "?".
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_PUNCTUATION))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    ascii_text = plain.encode("ascii", errors="replace").decode("ascii")
    return _cut(_line(ascii_text), SUBJECT_MAX_CHARS, marker="...")


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
    return [(label, _line(value)) for label, value in facts if value]


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
    """One line: whitespace runs become one space and control characters go."""
    if not text:
        return ""
    return " ".join(_CONTROL.sub("", _WHITESPACE.sub(" ", text)).split())


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

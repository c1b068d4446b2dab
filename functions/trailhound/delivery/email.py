"""An alert as e-mail: the plain-text body a phone shows well, and the subject SNS sends with it."""

from __future__ import annotations

import unicodedata

import orjson

from trailhound.alerts.model import Alert
from trailhound.alerts.redaction import redact
from trailhound.delivery.summary import Facts, labelled_facts, safe_block, safe_line
from trailhound.text import cut, without_controls

SUBJECT_MAX_CHARS = 99
"""SNS wants subjects "less than 100 characters long"."""

# Punctuation that NFKD leaves alone but rule authors like to use in titles.
_ASCII_PUNCTUATION = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)


def render_text(alert: Alert, facts: Facts | None = None) -> str:
    """The email body: title, severity, a labelled line per known fact, runbook, event excerpt.

    `facts` are the alert's `labelled_facts`, for a caller that has them already.
    """
    lines = [safe_line(alert.title), f"Severity: {alert.severity.value.upper()}"]
    facts = labelled_facts(alert) if facts is None else facts
    lines += [f"{label}: {value}" for label, value in facts]
    if alert.runbook and alert.runbook.strip():
        lines += ["", "Runbook:", safe_block(alert.runbook)]
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
    return without_controls(orjson.dumps(excerpt).decode())


def render_subject(alert: Alert) -> str:
    """`[HIGH] title`, ASCII without control characters, short enough for SNS."""
    text = f"[{alert.severity.value.upper()}] {safe_line(alert.title)}"
    # NFKD turns "é" into "e" plus an accent and "…" into "...", so less becomes "?".
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_PUNCTUATION))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    ascii_text = plain.encode("ascii", errors="replace").decode("ascii")
    return cut(safe_line(ascii_text), SUBJECT_MAX_CHARS, marker="...")

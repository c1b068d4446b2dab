"""The facts every message about an alert shows, in one order: e-mail and chat never disagree.

Values are attacker-controlled, so each becomes one clean line without credentials
(`safe_line`) and is cut to a bound before any format shows it.
"""

from __future__ import annotations

import functools
from datetime import UTC

from trailhound.alerts.model import Alert
from trailhound.alerts.redaction import redact_text
from trailhound.text import cut, one_line

LINE_VALUE_MAX_CHARS = 100
FACT_MAX_CHARS = 300
USER_AGENT_MAX_CHARS = 80
ERROR_MESSAGE_MAX_CHARS = 100
RESOURCES_SHOWN = 3
UNKNOWN = "unknown"


Facts = list[tuple[str, str]]
"""Labels and values, each value one safe line."""


def labelled_facts(alert: Alert) -> Facts:
    """The labelled facts in reading order; a fact that is unknown is left out."""
    who, what, where = alert.who, alert.what, alert.where
    facts: list[tuple[str, str | None]] = [
        ("Who", _who(alert)),
        ("ARN", who.arn),
        ("Issuer", who.session_issuer_arn),
        ("Key", who.access_key_id),
        ("MFA", None if who.mfa_authenticated is None else _yes_no(who.mfa_authenticated)),
        ("From", _joined(who.source_ip, cut(safe_line(who.user_agent), USER_AGENT_MAX_CHARS))),
        ("What", _what(alert)),
        ("Resources", _resources(what.resources)),
        ("When", _when(alert)),
        ("Where", _where(where.account_id, where.region)),
        ("Console", alert.console_url),
    ]
    # Each fact one bounded line: an attacker's 2 KB user name or error code stays readable.
    return [(label, cut(safe_line(value), FACT_MAX_CHARS)) for label, value in facts if value]


def safe_line(text: str | None) -> str:
    """One line: whitespace runs become one space, control characters and credentials go."""
    if not text:
        return ""
    return redact_text(one_line(text))


@functools.lru_cache(maxsize=512)
def safe_block(text: str) -> str:
    """Like `safe_line`, but keeps line breaks and indentation, for markdown such as runbooks."""
    lines = []
    for line in text.replace("\r\n", "\n").expandtabs(4).split("\n"):
        indent = len(line) - len(line.lstrip(" "))
        lines.append(" " * indent + safe_line(line) if line.strip() else "")
    return "\n".join(lines).strip("\n")


def _who(alert: Alert) -> str:
    name = safe_line(alert.who.user_name) or UNKNOWN
    kind = safe_line(alert.who.type)
    return f"{name} ({kind})" if kind else name


def _what(alert: Alert) -> str:
    what = alert.what
    service = (what.event_source or "").split(".", 1)[0]
    call = ":".join(part for part in (service, what.event_name) if part) or UNKNOWN
    if what.error_code:
        message = cut(safe_line(what.error_message), ERROR_MESSAGE_MAX_CHARS)
        call += f" FAILED {what.error_code}" + (f": {message}" if message else "")
    return call


def _resources(resources: list[str]) -> str | None:
    if not resources:
        return None
    shown = ", ".join(
        cut(safe_line(arn), LINE_VALUE_MAX_CHARS) for arn in resources[:RESOURCES_SHOWN]
    )
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
    return " · ".join(safe_line(part) for part in parts if part) or None


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"

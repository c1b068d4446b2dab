"""The alert: what a rule match tells the responder, in one stable JSON object.

CloudTrail records carry attacker-chosen values (user agents, request parameters, even the
shape of fields), so every read here is typed and defensive: a field of the wrong type or
shape becomes null, and building an alert never raises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from trailhound.engine.rule import Rule, Severity

REQUEST_PARAMETERS_MAX_BYTES = 2048
"""Largest compact JSON size of `what.request_parameters`; bigger ones are shrunk to fit."""

MAX_RESOURCES = 20
TITLE_MAX_CHARS = 200
TITLE_VALUE_MAX_CHARS = 100
TEXT_MAX_CHARS = 2048
"""Cap on any single text field, so one huge attacker value cannot bloat the SNS message."""

ELLIPSIS = "…"

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\-]+)\}")
# re.ASCII: \d would otherwise accept any Unicode digit; fullmatch: $ accepts a trailing newline.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+", re.ASCII)
_WHITESPACE = re.compile(r"\s")
# C0/C1 controls and the invisible or bidi-reordering characters that can make a title lie.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")

_RESOURCE_KEYS = (
    "bucketName",
    "instanceId",
    "userName",
    "roleName",
    "policyArn",
    "groupId",
    "groupName",
    "keyId",
    "secretId",
    "name",
    "trailName",
    "detectorId",
    "functionName",
    "logGroupName",
    "snapshotId",
    "imageId",
    "dBInstanceIdentifier",
    "accessKeyId",
    "roleArn",
)
_RESOURCE_MAX_CHARS = 256
_JSON_MAX_DEPTH = 32
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
# (string chars, container items, depth) per pass; each pass trades more detail for size.
_SHRINK_PASSES = ((256, 32, 8), (64, 10, 4), (16, 4, 2))
_FALLBACK_CHARS = 2000


class Who(BaseModel):
    """The principal that made the call, as the responder needs to find and contain it."""

    model_config = ConfigDict(frozen=True)

    type: str | None = None
    arn: str | None = None
    principal_id: str | None = None
    account_id: str | None = None
    user_name: str | None = None
    access_key_id: str | None = None
    session_issuer_arn: str | None = None
    mfa_authenticated: bool | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    invoked_by: str | None = None


class What(BaseModel):
    """The API call and what it touched."""

    model_config = ConfigDict(frozen=True)

    event_source: str | None = None
    event_name: str | None = None
    read_only: bool | None = None
    error_code: str | None = None
    error_message: str | None = None
    resources: list[str] = Field(default_factory=list)
    request_parameters: dict[str, Any] | None = None


class Where(BaseModel):
    """The account and region the call was made in."""

    model_config = ConfigDict(frozen=True)

    account_id: str | None = None
    region: str | None = None


class Alert(BaseModel):
    """One rule match on one CloudTrail record; its JSON form is what the notifiers publish."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    title: str
    severity: Severity
    description: str = ""
    runbook: str | None = None
    tags: list[str] = Field(default_factory=list)
    event_id: str | None = None
    event_time: AwareDatetime | None = None
    who: Who = Field(default_factory=Who)
    what: What = Field(default_factory=What)
    where: Where = Field(default_factory=Where)
    console_url: str | None = None

    @property
    def dedup_key(self) -> str:
        """Same event and rule, same key: lets a retried delivery be recognised."""
        return f"{self.event_id}:{self.rule_id}"

    def to_json(self) -> str:
        """Compact JSON with keys in declared order and UTC times ending in `Z`."""
        return self.model_dump_json()


def build_alert(rule: Rule, record: Mapping[str, Any]) -> Alert:
    """Describe a record that `rule` matched; never raises, whatever the record holds."""
    if not isinstance(record, Mapping):
        record = {}
    identity = _mapping(record.get("userIdentity"))
    region = _text(record.get("awsRegion"))
    event_id = _text(record.get("eventID"))
    return Alert(
        rule_id=rule.rule_id,
        title=render_title(rule.title_template or rule.title, record),
        severity=rule.severity,
        description=rule.description,
        runbook=rule.runbook,
        tags=list(rule.tags),
        event_id=event_id,
        event_time=_parse_time(record.get("eventTime")),
        who=_who(record, identity),
        what=_what(record),
        where=Where(
            account_id=_text(record.get("recipientAccountId")) or _text(identity.get("accountId")),
            region=region,
        ),
        console_url=console_url(region, event_id),
    )


def render_title(template: str, record: Mapping[str, Any]) -> str:
    """Fill `{field.path}` placeholders from the record; one line of at most 200 chars.

    A regex, not `str.format`: format specs and attribute access in rule text or event
    values must stay inert text.
    """

    def substitute(match: re.Match[str]) -> str:
        value = _placeholder_value(_lookup(record, match.group(1)))
        return _cap(_one_line(_utf8(value)), TITLE_VALUE_MAX_CHARS) or "?"

    return _cap(_one_line(_utf8(_PLACEHOLDER.sub(substitute, template))), TITLE_MAX_CHARS)


def console_url(region: str | None, event_id: str | None) -> str | None:
    """The CloudTrail console's event-history page for the event, in the region's partition."""
    if not region or not event_id or not _REGION.fullmatch(region):
        return None
    if any(part.startswith("iso") for part in region.split("-")):
        return None  # The isolated partitions' consoles are not reachable from outside.
    event = quote(event_id, safe="")
    if region.startswith("cn-"):
        host = "console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        host = "console.amazonaws-us-gov.com"
    else:
        host = f"{region}.console.aws.amazon.com"
    return f"https://{host}/cloudtrail/home?region={region}#/events/{event}"


def _who(record: Mapping[str, Any], identity: Mapping[str, Any]) -> Who:
    session = _mapping(identity.get("sessionContext"))
    issuer = _mapping(session.get("sessionIssuer"))
    return Who(
        type=_text(identity.get("type")),
        arn=_text(identity.get("arn")),
        principal_id=_text(identity.get("principalId")),
        account_id=_text(identity.get("accountId")),
        user_name=_user_name(identity, issuer),
        access_key_id=_text(identity.get("accessKeyId")),
        session_issuer_arn=_text(issuer.get("arn")),
        mfa_authenticated=_mfa(record, session),
        source_ip=_text(record.get("sourceIPAddress")),
        user_agent=_text(record.get("userAgent")),
        invoked_by=_text(identity.get("invokedBy")),
    )


def _user_name(identity: Mapping[str, Any], issuer: Mapping[str, Any]) -> str | None:
    kind = _text(identity.get("type"))
    if kind == "Root":
        return "root"
    name = _text(identity.get("userName"))
    if name is None and kind == "AssumedRole":
        name = _text(issuer.get("userName"))
    arn = _text(identity.get("arn"))
    if name is None and arn is not None:
        name = arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]
    if name is None and kind == "AWSService":
        name = _text(identity.get("invokedBy"))
    return name or None


def _mfa(record: Mapping[str, Any], session: Mapping[str, Any]) -> bool | None:
    # A console sign-in records MFA in additionalEventData, not in a session context.
    if record.get("eventName") == "ConsoleLogin":
        used = _flag(_mapping(record.get("additionalEventData")).get("MFAUsed"), "yes", "no")
        if used is not None:
            return used
    return _flag(_mapping(session.get("attributes")).get("mfaAuthenticated"), "true", "false")


def _flag(value: Any, yes: str, no: str) -> bool | None:
    if isinstance(value, bool):
        return value
    word = value.lower() if isinstance(value, str) else None
    return True if word == yes else False if word == no else None


def _what(record: Mapping[str, Any]) -> What:
    parameters = record.get("requestParameters")
    read_only = record.get("readOnly")
    return What(
        event_source=_text(record.get("eventSource")),
        event_name=_text(record.get("eventName")),
        read_only=read_only if isinstance(read_only, bool) else None,
        error_code=_text(record.get("errorCode")),
        error_message=_text(record.get("errorMessage")),
        resources=_resources(record),
        request_parameters=(
            _truncate_parameters(parameters) if isinstance(parameters, Mapping) else None
        ),
    )


def _resources(record: Mapping[str, Any]) -> list[str]:
    listed = record.get("resources")
    entries = [_mapping(item) for item in (listed if isinstance(listed, list) else ())]
    found: list[Any] = [entry.get("ARN") or entry.get("arn") for entry in entries]
    if not any(_text(value) for value in found):
        found = _parameter_identifiers(_mapping(record.get("requestParameters")))
    unique: dict[str, None] = {}
    for value in found:
        text = _text(value)
        if text and len(unique) < MAX_RESOURCES:
            unique.setdefault(_cap(_one_line(text), _RESOURCE_MAX_CHARS), None)
    return list(unique)


def _parameter_identifiers(parameters: Mapping[str, Any]) -> list[Any]:
    """Names of what the call touched, for the many calls whose records list no resources."""
    found: list[Any] = []
    for key in _RESOURCE_KEYS:
        value = parameters.get(key)
        found.extend(value if isinstance(value, list) else [value])
    items = _mapping(parameters.get("instancesSet")).get("items")
    for item in items if isinstance(items, list) else ():
        found.append(_mapping(item).get("instanceId"))
    return found


def _truncate_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON data whose compact form fits `REQUEST_PARAMETERS_MAX_BYTES`.

    Shrinks long strings, long lists and deep parts step by step, and as a last resort keeps
    the start of the JSON text as one string.
    """
    data = {_utf8(str(key)): _plain(item, 1) for key, item in parameters.items()}
    if _size(data) <= REQUEST_PARAMETERS_MAX_BYTES:
        return data
    for max_chars, max_items, max_depth in _SHRINK_PASSES:
        shrunk: dict[str, Any] = _shrink(data, max_chars, max_items, max_depth)
        if _size(shrunk) <= REQUEST_PARAMETERS_MAX_BYTES:
            return shrunk
    text = orjson.dumps(data).decode()
    cut = _FALLBACK_CHARS
    while True:
        fallback = {"_truncated": text[:cut] + ELLIPSIS}
        size = _size(fallback)
        if size <= REQUEST_PARAMETERS_MAX_BYTES or cut == 0:
            return fallback
        # Escaping and multi-byte characters make bytes outgrow chars; shrink in proportion.
        cut = cut * REQUEST_PARAMETERS_MAX_BYTES // size


def _plain(value: Any, depth: int) -> Any:
    """JSON-safe copy: str keys, 64-bit ints, finite floats, bounded depth, no cycles."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= _JSON_MAX_DEPTH:
        return ELLIPSIS
    if isinstance(value, Mapping):
        return {_utf8(str(key)): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, depth + 1) for item in value]
    return f"<{type(value).__name__}>"


def _shrink(value: Any, max_chars: int, max_items: int, depth: int) -> Any:
    if isinstance(value, str):
        return _cap(value, max_chars)
    if not isinstance(value, dict | list):
        return value
    if depth <= 0:
        return ELLIPSIS
    if isinstance(value, list):
        kept: list[Any] = [
            _shrink(item, max_chars, max_items, depth - 1) for item in value[:max_items]
        ]
        if len(value) > max_items:
            kept.append(f"{ELLIPSIS} {len(value) - max_items} more")
        return kept
    shrunk = {
        _cap(key, max_chars): _shrink(item, max_chars, max_items, depth - 1)
        for key, item in list(value.items())[:max_items]
    }
    if len(value) > max_items:
        shrunk[ELLIPSIS] = f"{len(value) - max_items} more keys"
    return shrunk


def _size(data: Any) -> int:
    return len(orjson.dumps(data))


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted path; a list step takes the element at a numeric step, else the first."""
    value: Any = record
    for step in path.split("."):
        if isinstance(value, list):
            if step.isdigit():
                index = int(step)
                value = value[index] if index < len(value) else None
                continue
            value = value[0] if value else None
        value = value.get(step) if isinstance(value, Mapping) else None
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _placeholder_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(_plain(value, 0)).decode()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # CloudTrail times are UTC; a time without an offset is read as UTC too.
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return _cap(_utf8(value), TEXT_MAX_CHARS) if isinstance(value, str) and value else None


def _utf8(text: str) -> str:
    """Replace lone surrogates, which JSON escapes can carry but no UTF-8 encoder accepts."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode(errors="replace").decode()
    return text


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub("", _WHITESPACE.sub(" ", text)).split())


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS

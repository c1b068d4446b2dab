"""Who, what, when and where of a CloudTrail record, as every alert on it says them.

CloudTrail records carry attacker-chosen values (user agents, request parameters, even the
shape of fields), so every read here is typed and defensive: a field of the wrong type or
shape becomes null, and reading the facts never raises. Credentials are redacted before any
value is cut short, since a cut can split one past recognising.

This runs once per alerting record, so it checks the usual case (exact types, short ASCII
text) with cheap tests and does per-character work only when they fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from trailhound.alerts import principal
from trailhound.alerts.console import console_url
from trailhound.alerts.model import What, Where, Who
from trailhound.alerts.parameters import request_parameters
from trailhound.alerts.redaction import may_hold_secret, redact_text
from trailhound.text import cut, one_line, utf8

MAX_RESOURCES = 20
TEXT_MAX_CHARS = 2048
"""Cap on any single text field, so one huge attacker value cannot bloat the SNS message."""

# The texts an alert shows, by the name the alert gives each, and the record's key for it.
_RECORD_TEXTS = {
    "region": "awsRegion",
    "event_id": "eventID",
    "recipient_account_id": "recipientAccountId",
    "source_ip": "sourceIPAddress",
    "user_agent": "userAgent",
    "event_source": "eventSource",
    "event_name": "eventName",
    "error_code": "errorCode",
    "error_message": "errorMessage",
}
_IDENTITY_TEXTS = {
    "type": "type",
    "arn": "arn",
    "principal_id": "principalId",
    "account_id": "accountId",
    "access_key_id": "accessKeyId",
    "invoked_by": "invokedBy",
    "user_name": "userName",
}
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
_RESOURCE_KEY_SET: Final = frozenset(_RESOURCE_KEYS)
_IDENTIFIER_KEYS: Final = frozenset((*_RESOURCE_KEYS, "instancesSet"))
_RESOURCE_MAX_CHARS = 256
# A UUID in lower-case hex: no credential pattern can match in one.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_NO_MAPPING: Final[Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What an alert says of its record, whichever rule matched: worked out once per record."""

    event_id: str | None
    event_time: datetime | None
    who: Who
    what: What
    where: Where
    console_url: str | None


def record_facts(record: Mapping[str, Any]) -> RecordFacts:
    """Who, what, when and where of a record, typed and redacted; never raises."""
    if type(record) is not dict and not isinstance(record, Mapping):
        record = {}
    identity = record.get("userIdentity")
    if type(identity) is not dict:
        identity = _mapping(identity)
    text = _texts(record, identity)
    kind, arn, invoked_by = text["type"], text["arn"], text["invoked_by"]
    session = identity.get("sessionContext")
    if session is None:
        issuer_arn = issuer_name = mfa = None
    else:
        session = session if type(session) is dict else _mapping(session)
        issuer = session.get("sessionIssuer")
        issuer = issuer if type(issuer) is dict else _mapping(issuer)
        issuer_arn = _text(issuer.get("arn"))
        issuer_name = _text(issuer.get("userName"))
        mfa = principal.session_mfa(session)
    if text["event_name"] == "ConsoleLogin":
        mfa = principal.console_mfa(record, mfa)
    parameters = record.get("requestParameters")
    if type(parameters) is not dict and (parameters is None or not isinstance(parameters, Mapping)):
        parameters = None
    listed = record.get("resources")
    read_only = record.get("readOnly")
    who = Who(
        type=kind,
        arn=arn,
        principal_id=text["principal_id"],
        account_id=text["account_id"],
        user_name=principal.user_name(kind, text["user_name"], arn, issuer_name, invoked_by),
        access_key_id=text["access_key_id"],
        session_issuer_arn=issuer_arn,
        mfa_authenticated=mfa,
        source_ip=text["source_ip"],
        user_agent=text["user_agent"],
        invoked_by=invoked_by,
    )
    resources = (
        []  # Nothing listed and none of the keys that name resources: most calls.
        if listed is None
        and (
            parameters is None
            or (type(parameters) is dict and _IDENTIFIER_KEYS.isdisjoint(parameters))
        )
        else _resources(listed, parameters)
    )
    if resources and may_hold_secret("\n".join(resources)):
        resources = list(dict.fromkeys(map(redact_text, resources)))
    what = What(
        event_source=text["event_source"],
        event_name=text["event_name"],
        read_only=read_only if read_only is True or read_only is False else None,
        error_code=text["error_code"],
        error_message=text["error_message"],
        resources=resources,
        request_parameters=None if parameters is None else request_parameters(parameters),
    )
    region, event_id = text["region"], text["event_id"]
    where = Where(account_id=text["recipient_account_id"] or text["account_id"], region=region)
    return RecordFacts(
        event_id,
        _parse_time(record.get("eventTime")),
        who,
        what,
        where,
        console_url(region, event_id),
    )


def _texts(record: Mapping[str, Any], identity: Mapping[str, Any]) -> dict[str, Any]:
    """The record's and the identity's texts an alert shows, redacted and cleaned, by name."""
    texts: dict[str, Any] = {name: record.get(key) for name, key in _RECORD_TEXTS.items()}
    for name, key in _IDENTITY_TEXTS.items():
        texts[name] = identity.get(key)
    # The event ID is left out of the test when it is the UUID CloudTrail writes, which holds
    # none: the rest is the same for many calls, whose verdict is remembered.
    event_id = texts["event_id"]
    skip = event_id if type(event_id) is str and _UUID.fullmatch(event_id) else None
    strings = [value for value in texts.values() if type(value) is str and value is not skip]
    if strings and may_hold_secret("\n".join(strings)):
        texts = {
            name: redact_text(value) if isinstance(value, str) else value
            for name, value in texts.items()
        }
    # Usually each is missing or a short ASCII string, which `_text` keeps as it is.
    for value in texts.values():
        if value is not None and (
            type(value) is not str
            or not value
            or len(value) > TEXT_MAX_CHARS
            or not value.isascii()
        ):
            return {name: _text(value) for name, value in texts.items()}
    return texts


def _resources(listed: Any, parameters: Mapping[str, Any] | None) -> list[str]:
    """ARNs of the resources the record lists, else identifiers from the request parameters."""
    unique: dict[str, None] = {}
    if isinstance(listed, list):
        for item in listed:
            entry = item if type(item) is dict else _mapping(item)
            _add_resource(unique, entry.get("ARN") or entry.get("arn"))
            if len(unique) >= MAX_RESOURCES:
                return list(unique)
    if unique or not parameters:
        return list(unique)
    keys: Iterable[str] = _RESOURCE_KEYS
    if type(parameters) is dict:
        # Most calls carry few of the keys, or none: look up only those that are there.
        present = _RESOURCE_KEY_SET.intersection(parameters)
        keys = present if len(present) < 2 else [key for key in _RESOURCE_KEYS if key in present]
    for key in keys:
        value = parameters.get(key)
        for one in value if isinstance(value, list) else (value,):
            _add_resource(unique, one)
            if len(unique) >= MAX_RESOURCES:
                return list(unique)
    items = parameters.get("instancesSet")
    if items is not None:
        items = _mapping(items).get("items")
        for item in items if isinstance(items, list) else ():
            _add_resource(unique, _mapping(item).get("instanceId"))
            if len(unique) >= MAX_RESOURCES:
                break
    return list(unique)


def _add_resource(unique: dict[str, None], value: Any) -> None:
    """Add a value that names a resource, as one clean line; ignore any other."""
    if (
        type(value) is str
        and 0 < len(value) <= _RESOURCE_MAX_CHARS
        and value.isascii()
        and value.isprintable()
        and " " not in value
    ):
        unique[value] = None  # Already what the lines below would make of it; redacted later.
    else:
        text = _text(redact_text(value) if isinstance(value, str) else value)
        if text:
            unique[cut(one_line(text), _RESOURCE_MAX_CHARS)] = None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # CloudTrail times are UTC; a time without an offset is read as UTC too.
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return _NO_MAPPING if value is None or not isinstance(value, Mapping) else value


def _text(value: Any) -> str | None:
    """A non-empty `str` of at most TEXT_MAX_CHARS chars that UTF-8 can encode, else None."""
    if type(value) is str:
        if value.isascii():  # Also true of "", and ASCII has no surrogates to replace.
            if len(value) <= TEXT_MAX_CHARS:
                return value or None
            return cut(value, TEXT_MAX_CHARS)
        return cut(utf8(value), TEXT_MAX_CHARS)
    if isinstance(value, str) and value:
        # A str subclass: the plain string, as validating the model's field would make it.
        return cut(utf8(str.__str__(value)), TEXT_MAX_CHARS)
    return None

"""The alert: what a rule match tells the responder, in one stable JSON object.

CloudTrail records carry attacker-chosen values (user agents, request parameters, even the
shape of fields), so every read here is typed and defensive: a field of the wrong type or
shape becomes null, and building an alert never raises.

`build_alert` is on the Lambda's hot path. It checks the usual case (exact types, short ASCII
text, no controls) with cheap tests and does per-character work only when they fail, and it
makes the models from values already sanitised to their fields' types without validating
them again; the tests hold the result to what validation would have made.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple, TypeVar
from urllib.parse import quote

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from trailhound.engine.rule import Rule, Severity
from trailhound.redaction import may_hold_secret, may_hold_secret_in_json, redact, redact_text

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
# A UUID in lower-case hex: no credential pattern can match in one.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
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
# Event IDs made only of these need no percent-encoding (`quote`'s always-safe characters).
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~\-]+", re.ASCII)
# Entries kept in each memo of a pure function: title templates, regions' console URLs.
_CACHE_SIZE = 1024


# The models' validators and serializers are built when first used, not at import: most
# invocations raise no alert, and their cold start need not pay for building them.
_MODEL_CONFIG = ConfigDict(frozen=True, defer_build=True)


class Who(BaseModel):
    """The principal that made the call, as the responder needs to find and contain it."""

    model_config = _MODEL_CONFIG

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

    model_config = _MODEL_CONFIG

    event_source: str | None = None
    event_name: str | None = None
    read_only: bool | None = None
    error_code: str | None = None
    error_message: str | None = None
    resources: list[str] = Field(default_factory=list)
    request_parameters: dict[str, Any] | None = None


class Where(BaseModel):
    """The account and region the call was made in."""

    model_config = _MODEL_CONFIG

    account_id: str | None = None
    region: str | None = None


class Alert(BaseModel):
    """One rule match on one CloudTrail record; its JSON form is what the notifiers publish."""

    model_config = _MODEL_CONFIG

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


class RecordFacts(NamedTuple):
    """What an alert says of its record, whichever rule matched: worked out once per record."""

    event_id: str | None
    event_time: datetime | None
    who: Who
    what: What
    where: Where
    console_url: str | None


def build_alert(rule: Rule, record: Mapping[str, Any], facts: RecordFacts | None = None) -> Alert:
    """Describe a record that `rule` matched; never raises, whatever the record holds.

    `facts` are `record_facts(record)`, for a caller with several rules matching one record.
    """
    if type(record) is not dict and not isinstance(record, Mapping):
        record = {}
    if facts is None:
        facts = record_facts(record)
    tags = list(rule.tags)
    values = {
        "rule_id": rule.rule_id,
        "title": render_title(rule.title_template or rule.title, record),
        "severity": rule.severity,
        "description": rule.description,
        "runbook": rule.runbook,
        "tags": tags,
        "event_id": facts.event_id,
        "event_time": facts.event_time,
        "who": facts.who,
        "what": facts.what,
        "where": facts.where,
        "console_url": facts.console_url,
    }
    # The rule's values are of their fields' types too, unless someone built a `Rule` by hand
    # with others: validation then coerces or rejects them as it always has.
    if _rule_is_typed(rule, tags):
        return _construct(Alert, _ALERT_FIELDS, values)
    return Alert(**values)


def record_facts(record: Mapping[str, Any]) -> RecordFacts:
    """Who, what, when and where of a record, typed and redacted; never raises."""
    if type(record) is not dict and not isinstance(record, Mapping):
        record = {}
    get = record.get
    identity = get("userIdentity")
    if type(identity) is not dict:
        identity = _mapping(identity)
    texts: list[Any] = [*map(get, _RECORD_TEXT_KEYS), *map(identity.get, _IDENTITY_TEXT_KEYS)]
    # Credentials go before anything is cut short: a cut can split one past recognising.
    # The event ID (second) is left out of the test when it is the UUID CloudTrail writes,
    # which holds none: the rest is the same for many calls, whose verdict is remembered.
    event_id = texts[1]
    if type(event_id) is str and _UUID.fullmatch(event_id):
        strings = [value for value in texts if type(value) is str and value is not event_id]
    else:
        strings = [value for value in texts if type(value) is str]
    if strings and may_hold_secret("\n".join(strings)):
        texts = [redact_text(value) if isinstance(value, str) else value for value in texts]
    # Usually each is missing or a short ASCII string, which `_text` keeps as it is.
    for value in texts:
        if value is not None and (
            type(value) is not str
            or not value
            or len(value) > TEXT_MAX_CHARS
            or not value.isascii()
        ):
            texts = [_text(value) for value in texts]
            break
    (
        region,
        event_id,
        recipient_account_id,
        source_ip,
        user_agent,
        event_source,
        event_name,
        error_code,
        error_message,
        kind,
        arn,
        principal_id,
        account_id,
        access_key_id,
        invoked_by,
        user_name,
    ) = texts
    session = identity.get("sessionContext")
    if session is None:
        issuer_arn = mfa = None
        if kind != "Root" and user_name is None:
            user_name = _user_name(_NO_MAPPING, kind, arn, invoked_by)
    else:
        issuer_arn, mfa, user_name = _session(session, kind, arn, invoked_by, user_name)
    if event_name == "ConsoleLogin":
        mfa = _console_mfa(record, mfa)
    parameters = get("requestParameters")
    if type(parameters) is not dict and (parameters is None or not isinstance(parameters, Mapping)):
        parameters = None
    listed = get("resources")
    read_only = get("readOnly")
    # Every value below is already of its field's type: see `_construct`.
    who = _construct(
        Who,
        _WHO_FIELDS,
        {
            "type": kind,
            "arn": arn,
            "principal_id": principal_id,
            "account_id": account_id,
            "user_name": "root" if kind == "Root" else user_name,
            "access_key_id": access_key_id,
            "session_issuer_arn": issuer_arn,
            "mfa_authenticated": mfa,
            "source_ip": source_ip,
            "user_agent": user_agent,
            "invoked_by": invoked_by,
        },
    )
    what = _construct(
        What,
        _WHAT_FIELDS,
        {
            "event_source": event_source,
            "event_name": event_name,
            "read_only": read_only if read_only is True or read_only is False else None,
            "error_code": error_code,
            "error_message": error_message,
            "resources": (
                []  # Nothing listed and none of the keys that name resources: most calls.
                if listed is None
                and (
                    parameters is None
                    or (type(parameters) is dict and _IDENTIFIER_KEYS.isdisjoint(parameters))
                )
                else _resources(listed, parameters)
            ),
            "request_parameters": (
                None if parameters is None else _truncate_parameters(parameters)
            ),
        },
    )
    resources = what.resources
    if resources and may_hold_secret("\n".join(resources)):
        resources[:] = dict.fromkeys(map(redact_text, resources))
    where = _construct(
        Where, _WHERE_FIELDS, {"account_id": recipient_account_id or account_id, "region": region}
    )
    return RecordFacts(
        event_id,
        _parse_time(get("eventTime")),
        who,
        what,
        where,
        console_url(region, event_id),
    )


def render_title(template: str, record: Mapping[str, Any]) -> str:
    """Fill `{field.path}` placeholders from the record; one line of at most 200 chars.

    A regex, not `str.format`: format specs and attribute access in rule text or event
    values must stay inert text.
    """
    if type(template) is not str:
        return _render_title_slowly(template, record)
    compiled = _TITLES.get(template)
    if compiled is None:
        compiled = _compile_title(template)
    if isinstance(compiled, str):
        return compiled  # No placeholders: the same title every time.
    title, placeholders, clean = compiled
    for key, path, text in placeholders:
        if key is not None and type(record) is dict:
            value = record.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
        else:
            value = _follow(record, path)
        if type(value) is str and value.isprintable():
            if " " in value:  # What `_clean_line` makes of printable text.
                value = " ".join(value.split())
        else:
            value = _clean_line(_placeholder_value(value))
        value = redact_text(value)  # Before the cut, which could split a credential.
        if len(value) > TITLE_VALUE_MAX_CHARS:
            value = value[: TITLE_VALUE_MAX_CHARS - 1] + ELLIPSIS
        title = title + (value or "?") + text
    if not clean:
        title = " ".join(title.split()) if title.isprintable() else _clean_line(title)
    return title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1] + ELLIPSIS


def console_url(region: str | None, event_id: str | None) -> str | None:
    """The CloudTrail console's event-history page for the event, in the region's partition."""
    if not region or not event_id:
        return None
    prefix = _CONSOLE_PREFIXES.get(region) if type(region) is str else None
    if prefix is None:
        prefix = _console_prefix(region)
    if not prefix:
        return None
    if type(event_id) is str and _URL_SAFE.fullmatch(event_id):
        return prefix + event_id  # What `quote` would return.
    return prefix + quote(event_id, safe="")


_CONSOLE_PREFIXES: dict[str, str] = {}


def _console_prefix(region: str) -> str:
    """The event-history URL up to the event ID; "" where there is none to link to."""
    if not _REGION.fullmatch(region) or any(part.startswith("iso") for part in region.split("-")):
        prefix = ""  # The isolated partitions' consoles are not reachable from outside.
    else:
        if region.startswith("cn-"):
            host = "console.amazonaws.cn"
        elif region.startswith("us-gov-"):
            host = "console.amazonaws-us-gov.com"
        else:
            host = f"{region}.console.aws.amazon.com"
        prefix = f"https://{host}/cloudtrail/home?region={region}#/events/"
    if type(region) is str and len(region) <= 64:  # What a region can be, not any text.
        if len(_CONSOLE_PREFIXES) >= _CACHE_SIZE:
            _CONSOLE_PREFIXES.clear()
        _CONSOLE_PREFIXES[region] = prefix
    return prefix


_Model = TypeVar("_Model", bound=BaseModel)
_new = object.__new__
# What `model_construct` sets with object.__setattr__, set through the descriptors themselves.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _construct(cls: type[_Model], fields: set[str], values: dict[str, Any]) -> _Model:
    """`cls.model_construct(**values)` for `values` that hold every field, in declared order.

    Like `model_construct`, it trusts the values to be of their fields' types already; it
    skips that method's per-field alias and default handling, which costs more than
    validating. The instance is the one validation would make: every field set (`fields`,
    copied), no extras, no private attributes.
    """
    model = _new(cls)
    _set_dict(model, values)
    _set_fields_set(model, fields.copy())
    _set_extra(model, None)
    _set_private(model, None)
    return model


_WHO_FIELDS = set(Who.model_fields)
_WHAT_FIELDS = set(What.model_fields)
_WHERE_FIELDS = set(Where.model_fields)
_ALERT_FIELDS = set(Alert.model_fields)


def _rule_is_typed(rule: Rule, tags: list[Any]) -> bool:
    """Whether the rule's values are already of the alert's fields' types."""
    if not (
        type(rule.rule_id) is str
        and type(rule.severity) is Severity
        and type(rule.description) is str
        and (rule.runbook is None or type(rule.runbook) is str)
    ):
        return False
    for tag in tags:
        if type(tag) is not str:
            return False
    return True


_RECORD_TEXT_KEYS = (
    "awsRegion",
    "eventID",
    "recipientAccountId",
    "sourceIPAddress",
    "userAgent",
    "eventSource",
    "eventName",
    "errorCode",
    "errorMessage",
)
_IDENTITY_TEXT_KEYS = (
    "type",
    "arn",
    "principalId",
    "accountId",
    "accessKeyId",
    "invokedBy",
    "userName",
)


def _session(
    session: Any, kind: str | None, arn: str | None, invoked_by: str | None, user_name: str | None
) -> tuple[str | None, bool | None, str | None]:
    """The session issuer's ARN, whether MFA was used, and the user name, for a session."""
    if type(session) is not dict:
        session = _mapping(session)
    issuer = session.get("sessionIssuer")
    if type(issuer) is not dict:
        issuer = _mapping(issuer)
    attributes = session.get("attributes")
    mfa = (
        None
        if attributes is None
        else _flag(_mapping(attributes).get("mfaAuthenticated"), "true", "false")
    )
    if kind != "Root" and user_name is None:
        user_name = _user_name(issuer, kind, arn, invoked_by)
    return _text(issuer.get("arn")), mfa, user_name


def _console_mfa(record: Mapping[str, Any], session_mfa: bool | None) -> bool | None:
    # A console sign-in records MFA in additionalEventData, not in a session context.
    used = _flag(_mapping(record.get("additionalEventData")).get("MFAUsed"), "yes", "no")
    return session_mfa if used is None else used


def _user_name(
    issuer: Mapping[str, Any], kind: str | None, arn: str | None, invoked_by: str | None
) -> str | None:
    """The name of a principal that is not the root user and has no `userName` of its own."""
    name = None
    if kind == "AssumedRole":
        name = _text(issuer.get("userName"))
    if name is None and arn is not None:
        name = arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]
    if name is None and kind == "AWSService":
        name = invoked_by
    return name or None


def _flag(value: Any, yes: str, no: str) -> bool | None:
    if isinstance(value, bool):
        return value
    word = value.lower() if isinstance(value, str) else None
    return True if word == yes else False if word == no else None


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
            unique[_cap(_one_line(text), _RESOURCE_MAX_CHARS)] = None


_RESOURCE_KEY_SET: Final = frozenset(_RESOURCE_KEYS)
_IDENTIFIER_KEYS: Final = frozenset((*_RESOURCE_KEYS, "instancesSet"))


def _truncate_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON data whose compact form fits `REQUEST_PARAMETERS_MAX_BYTES`.

    Shrinks long strings, long lists and deep parts step by step, and as a last resort keeps
    the start of the JSON text as one string.
    """
    try:
        encoded = orjson.dumps(parameters)
    except TypeError:  # A key, number or string JSON cannot hold, or a cycle.
        encoded = b""
    # Parsed again, the JSON is what `_plain` would make of the parameters if it nests less
    # deep than `_plain` cuts (fewer brackets in all): the usual case, at a fraction of the cost.
    if encoded and encoded.count(b"{") + encoded.count(b"[") < _JSON_MAX_DEPTH:
        data: dict[str, Any] = orjson.loads(encoded)
    else:
        data = {
            # The field is a dict[str, Any]: its keys are plain `str`, as validation makes them.
            (key if type(key) is str and key.isascii() else _top_key(key)): (
                item if type(item) is str and item.isascii() else _plain(item, 1)
            )
            for key, item in parameters.items()
        }
        encoded = orjson.dumps(data)
    if may_hold_secret_in_json(
        encoded.decode()
    ):  # Keys too: a secret-named key's value goes whole.
        data = redact(data)
        encoded = orjson.dumps(data)
    if len(encoded) <= REQUEST_PARAMETERS_MAX_BYTES:
        return data
    for max_chars, max_items, max_depth in _SHRINK_PASSES:
        shrunk: dict[str, Any] = _shrink(data, max_chars, max_items, max_depth)
        if _size(shrunk) <= REQUEST_PARAMETERS_MAX_BYTES:
            return shrunk
    text = encoded.decode()
    cut = _FALLBACK_CHARS
    while True:
        fallback = {"_truncated": text[:cut] + ELLIPSIS}
        size = _size(fallback)
        if size <= REQUEST_PARAMETERS_MAX_BYTES or cut == 0:
            return fallback
        # Escaping and multi-byte characters make bytes outgrow chars; shrink in proportion.
        cut = cut * REQUEST_PARAMETERS_MAX_BYTES // size


def _top_key(key: Any) -> str:
    text = _utf8(str(key))
    return text if type(text) is str else str.__str__(text)


def _plain(value: Any, depth: int) -> Any:
    """JSON-safe copy: str keys, 64-bit ints, finite floats, bounded depth, no cycles."""
    kind = type(value)
    # The exact types json.loads makes come first; anything else takes the general path.
    if kind is str:
        return value if value.isascii() else _utf8(value)
    if kind is dict:
        if depth >= _JSON_MAX_DEPTH:
            return ELLIPSIS
        depth += 1
        return {
            (key if type(key) is str and key.isascii() else _utf8(str(key))): (
                item if type(item) is str and item.isascii() else _plain(item, depth)
            )
            for key, item in value.items()
        }
    if kind is list:
        if depth >= _JSON_MAX_DEPTH:
            return ELLIPSIS
        depth += 1
        return [
            item if type(item) is str and item.isascii() else _plain(item, depth) for item in value
        ]
    if value is None or kind is bool:
        return value
    if kind is int:
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if kind is float:
        return value if math.isfinite(value) else None
    return _plain_any(value, depth)


def _plain_any(value: Any, depth: int) -> Any:
    if isinstance(value, bool):
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


# A title template split once: the text before the first placeholder; each placeholder's
# record key (when its path is one step that is not a number), path (steps, and each step's
# index if it is a number) and the text after it; and whether the texts stay one clean line
# whatever clean values go between them. A template without placeholders is kept as its
# finished title.
_Path = tuple[tuple[str, int | None], ...]
_CompiledTitle = str | tuple[str, tuple[tuple[str | None, _Path, str], ...], bool]
_TITLES: dict[str, _CompiledTitle] = {}


def _compile_title(template: str) -> _CompiledTitle:
    pieces = _PLACEHOLDER.split(template)
    compiled: _CompiledTitle
    if len(pieces) == 1:
        compiled = _cap(_clean_line(template), TITLE_MAX_CHARS)
    else:
        texts = pieces[0::2]
        placeholders = []
        for path, text in zip(pieces[1::2], texts[1:], strict=True):
            steps = _path(path)
            key = steps[0][0] if len(steps) == 1 and steps[0][1] is None else None
            placeholders.append((key, steps, text))
        # Values are made single-spaced lines (never empty, no space at either end), so the
        # title is one as well if the texts have nothing `_clean_line` would change either.
        clean = (
            all(text.isprintable() and "  " not in text for text in texts)
            and not texts[0].startswith(" ")
            and not texts[-1].endswith(" ")
        )
        compiled = (texts[0], tuple(placeholders), clean)
    if len(_TITLES) >= _CACHE_SIZE:
        _TITLES.clear()
    _TITLES[template] = compiled
    return compiled


def _render_title_slowly(template: str, record: Mapping[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        value = _placeholder_value(_lookup(record, match.group(1)))
        return _cap(redact_text(_one_line(_utf8(value))), TITLE_VALUE_MAX_CHARS) or "?"

    return _cap(_one_line(_utf8(_PLACEHOLDER.sub(substitute, template))), TITLE_MAX_CHARS)


def _path(path: str) -> _Path:
    return tuple((step, int(step) if step.isdigit() else None) for step in path.split("."))


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted path; a list step takes the element at a numeric step, else the first."""
    return _follow(record, _path(path))


def _follow(record: Mapping[str, Any], path: _Path) -> Any:
    value: Any = record
    for step, index in path:
        if isinstance(value, list):
            if index is not None:
                value = value[index] if index < len(value) else None
                continue
            value = value[0] if value else None
        value = value.get(step) if type(value) is dict or isinstance(value, Mapping) else None
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
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


_NO_MAPPING: Final[Mapping[str, Any]] = MappingProxyType({})


def _mapping(value: Any) -> Mapping[str, Any]:
    return _NO_MAPPING if value is None or not isinstance(value, Mapping) else value


def _text(value: Any) -> str | None:
    """A non-empty `str` of at most TEXT_MAX_CHARS chars that UTF-8 can encode, else None."""
    if type(value) is str:
        if value.isascii():  # Also true of "", and ASCII has no surrogates to replace.
            if len(value) <= TEXT_MAX_CHARS:
                return value or None
            return value[: TEXT_MAX_CHARS - 1] + ELLIPSIS
        return _cap(_utf8(value), TEXT_MAX_CHARS)
    if isinstance(value, str) and value:
        # A str subclass: the plain string, as validating the model's field would make it.
        return _cap(_utf8(str.__str__(value)), TEXT_MAX_CHARS)
    return None


def _utf8(text: str) -> str:
    """Replace lone surrogates, which JSON escapes can carry but no UTF-8 encoder accepts."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode(errors="replace").decode()
    return text


def _clean_line(text: str) -> str:
    """`_one_line(_utf8(text))`."""
    if text.isprintable():  # No surrogates (nor controls, nor whitespace but " ").
        return " ".join(text.split())
    return _one_line(_utf8(text))


def _one_line(text: str) -> str:
    if text.isprintable():  # Nothing for the regexes to replace; see test_alerts.py.
        return " ".join(text.split())
    return " ".join(_CONTROL.sub("", _WHITESPACE.sub(" ", text)).split())


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS

"""One alert as one SNS message: the e-mail text, the Chatbot JSON, a subject and attributes.

Pure: this builds what `publisher.SnsPublisher` sends. `MessageStructure="json"` lets one publish
give e-mail subscribers plain text (the "default" key) and HTTPS subscribers (AWS Chatbot) their
JSON (the "https" key); the message
attributes let subscription filter policies route alerts, e.g. only high and critical to a pager.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from trailhound.alerts.model import Alert
from trailhound.delivery.chat import render_chat
from trailhound.delivery.email import render_subject, render_text
from trailhound.delivery.summary import labelled_facts, safe_line
from trailhound.text import ELLIPSIS, cut

if TYPE_CHECKING:
    from mypy_boto3_sns.type_defs import (
        MessageAttributeValueTypeDef,
        PublishBatchRequestEntryTypeDef,
    )

SNS_MAX_BYTES = 262_144
"""SNS's limit on a message with its attributes, and on the sum of one PublishBatch call's."""

ATTRIBUTE_MAX_CHARS = 256
LEFT_OUT = "left out to fit SNS's 256 KB message limit"

# Each shortening pass keeps who, what, when and where, and trades more detail for size:
# (runbook and description chars, chars of any other value, list items), None for no cap.
_PASSES: tuple[tuple[int | None, int | None, int | None], ...] = (
    (None, None, None),
    (2000, None, None),
    (1000, 256, 5),
    (200, 64, 3),
)
_URL_MAX_CHARS = 512


@dataclass(frozen=True, slots=True)
class Notification:
    """The SNS message for one alert, and its size as SNS counts it."""

    alert: Alert
    message: str
    subject: str
    attributes: dict[str, MessageAttributeValueTypeDef]
    size: int
    shortened: bool

    def entry(self, entry_id: str) -> PublishBatchRequestEntryTypeDef:
        """The PublishBatch request entry, under an id unique within its batch."""
        return {
            "Id": entry_id,
            "Message": self.message,
            "MessageStructure": "json",
            "Subject": self.subject,
            "MessageAttributes": self.attributes,
        }


def build_notification(alert: Alert, max_bytes: int = SNS_MAX_BYTES) -> Notification:
    """The alert's SNS message, shortened step by step until it fits within `max_bytes`.

    Request parameters go first, then long texts are cut; who, what, when and where stay.
    """
    notification = _notification(alert, shortened=False)
    if notification.size <= max_bytes:
        return notification
    for shorter in _shorter_alerts(alert):
        notification = _notification(shorter, shortened=True)
        if notification.size <= max_bytes:
            break
    return notification


def message_attributes(alert: Alert) -> dict[str, MessageAttributeValueTypeDef]:
    """`severity`, `rule_id`, `account_id`, `region`, `event_name`; unknown ones are left out."""
    values = {
        "severity": alert.severity.value,
        "rule_id": alert.rule_id,
        "account_id": alert.where.account_id,
        "region": alert.where.region,
        "event_name": alert.what.event_name,
    }
    attributes: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in values.items():
        # SNS rejects empty attribute values, and filter policies match whole strings.
        text = cut(safe_line(value), ATTRIBUTE_MAX_CHARS)
        if text:
            attributes[name] = {"DataType": "String", "StringValue": text}
    return attributes


def _notification(alert: Alert, *, shortened: bool) -> Notification:
    facts = labelled_facts(alert)
    subject = render_subject(alert)
    text = render_text(alert, facts)
    chat = orjson.dumps(render_chat(alert, facts, subject)).decode()
    # E-mail (and SQS, and any protocol without a key of its own) takes "default": the same
    # text under "email" would only add to what every PublishBatch call encodes and signs.
    message = orjson.dumps({"default": text, "https": chat}).decode()
    attributes = message_attributes(alert)
    size = len(message.encode()) + len(subject.encode())
    for name, attribute in attributes.items():
        size += len(name) + len(attribute["DataType"]) + len(attribute["StringValue"].encode())
    return Notification(alert, message, subject, attributes, size, shortened)


def _shorter_alerts(alert: Alert) -> Iterator[Alert]:
    """The alert with less and less detail: request parameters first, then long texts."""
    what = alert.what
    if what.request_parameters is not None:
        what = what.model_copy(update={"request_parameters": {ELLIPSIS: LEFT_OUT}})
    alert = alert.model_copy(update={"what": what})
    for long_chars, value_chars, items in _PASSES:
        yield _capped(alert, long_chars, value_chars, items)


def _capped(
    alert: Alert, long_chars: int | None, value_chars: int | None, items: int | None
) -> Alert:
    def cap(value: Any) -> Any:
        return cut(value, value_chars) if isinstance(value, str) and value_chars else value

    def cap_all(values: list[str]) -> list[str]:
        return [cap(value) for value in values[:items]]

    def capped_fields(model: Any, apply: Callable[[Any], Any]) -> dict[str, Any]:
        return {name: apply(value) for name, value in model}

    what = alert.what.model_copy(
        update={**capped_fields(alert.what, cap), "resources": cap_all(alert.what.resources)}
    )
    url = alert.console_url
    return alert.model_copy(
        update={
            "title": cap(alert.title),
            "description": _cut_to(alert.description, long_chars),
            "runbook": None if alert.runbook is None else _cut_to(alert.runbook, long_chars),
            "tags": cap_all(alert.tags),
            "who": alert.who.model_copy(update=capped_fields(alert.who, cap)),
            "what": what,
            "where": alert.where.model_copy(update=capped_fields(alert.where, cap)),
            # A cut link leads nowhere: the event id in the text still finds the event.
            "console_url": None if url is not None and len(url) > _URL_MAX_CHARS else url,
        }
    )


def _cut_to(text: str, limit: int | None) -> str:
    return text if limit is None else cut(text, limit)

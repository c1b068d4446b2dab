"""The ledger of delivered alerts: powertools idempotency records in DynamoDB, with a TTL.

An alert is claimed before it is published, marked delivered after, and released when
publishing failed, so a retried batch skips what was sent and sends what was not. The
powertools idempotency utility is imported only when a ledger is built.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import TYPE_CHECKING, Any

from trailhound.alerts.model import Alert

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

LEDGER_KEY_PREFIX = "trailhound.alert"


class Claim(Enum):
    """What the ledger said when an alert was claimed for publishing."""

    NEW = "new"
    DELIVERED = "delivered"
    IN_PROGRESS = "in progress"


class AlertLedger:
    """Which alerts were delivered: powertools idempotency records in DynamoDB, with a TTL.

    The `idempotent_function` decorator guards one call; a PublishBatch call carries ten
    alerts, so this drives the same persistence layer one alert at a time.
    """

    def __init__(self, table_name: str, ttl_seconds: int, client: DynamoDBClient) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
        )

        self._store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._store.configure(
            IdempotencyConfig(
                event_key_jmespath="alert",
                raise_on_no_idempotency_key=True,
                expires_after_seconds=ttl_seconds,
            ),
            key_prefix=LEDGER_KEY_PREFIX,
        )

    def claim(self, alert: Alert, remaining_millis: int) -> Claim:
        """Mark the alert in progress for `remaining_millis`, unless it is already recorded."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemAlreadyExistsError,
            IdempotencyItemNotFoundError,
        )

        data = _ledger_data(alert)
        try:
            self._store.save_inprogress(data, remaining_time_in_millis=remaining_millis)
        except IdempotencyItemAlreadyExistsError as error:
            try:
                record = error.old_data_record or self._store.get_record(data)
            except IdempotencyItemNotFoundError:
                return Claim.IN_PROGRESS  # Released in between: the next attempt takes it.
            return Claim.DELIVERED if record and record.status == "COMPLETED" else Claim.IN_PROGRESS
        return Claim.NEW

    def delivered(self, alert: Alert, message_id: str) -> None:
        """Record the alert as delivered, so redeliveries of its event skip it."""
        self._store.save_success(_ledger_data(alert), result={"message_id": message_id})

    def release(self, alert: Alert, error: Exception) -> None:
        """Forget the claim on an alert that was not published, so a retry publishes it."""
        self._store.delete_record(_ledger_data(alert), error)


def ledger_key(alert: Alert) -> str:
    """The alert's key in the ledger: the event id and rule id; without an event id, a digest
    of the whole alert."""
    if alert.event_id:
        return alert.dedup_key
    return "sha256:" + hashlib.sha256(alert.to_json().encode()).hexdigest()


def _ledger_data(alert: Alert) -> dict[str, Any]:
    return {"alert": ledger_key(alert)}

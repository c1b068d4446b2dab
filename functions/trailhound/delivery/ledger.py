"""The ledger of delivered alerts in DynamoDB, a batch of alerts per call, with a TTL.

An alert is claimed before it is published, marked delivered after, and released when
publishing failed, so a retried batch skips what was sent and sends what was not. The records
are those of powertools' idempotency utility (key `<prefix>#<md5>`, `status`, `expiration`,
`in_progress_expiration`, `data`) and keep its conditions, so a table written by either is
read by both; powertools guards one call at a time, and a batch of alerts costs one
TransactWriteItems call to claim and one BatchWriteItem call per 25 to record, not two calls
each.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar, cast

from trailhound.alerts.model import Alert

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, WriteRequestTypeDef

_T = TypeVar("_T")

LEDGER_KEY_PREFIX = "trailhound.alert"
CLAIMS_PER_CALL = 100
"""TransactWriteItems' limit on the items of one call."""
WRITES_PER_CALL = 25
"""BatchWriteItem's limit on the items of one call."""
GETS_PER_CALL = 100
"""BatchGetItem's limit on the keys of one call."""
ROUNDS = 4
"""Rounds of a batch call for the items DynamoDB left for later (unprocessed, in conflict)."""

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
# powertools' attribute names and its condition for taking a record (absent, expired, or in
# progress past its deadline).
_KEY, _EXPIRY, _STATUS = "id", "expiration", "status"
_IN_PROGRESS_EXPIRY, _DATA = "in_progress_expiration", "data"
_CLAIMABLE = (
    "attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND "
    "attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)"
)


class Claim(Enum):
    """What the ledger said when an alert was claimed for publishing."""

    NEW = "new"
    DELIVERED = "delivered"
    IN_PROGRESS = "in progress"


class LedgerError(Exception):
    """DynamoDB left some of a batch's items unwritten after every round."""


class AlertLedger:
    """Which alerts were delivered, in the DynamoDB table of the stack, with a TTL."""

    def __init__(
        self,
        table_name: str,
        ttl_seconds: int,
        client: DynamoDBClient,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self.client = client
        self._clock = clock
        self._sleep = sleep

    def claim(self, alert: Alert, remaining_millis: int) -> Claim:
        """`claim_all` for one alert."""
        return self.claim_all([alert], remaining_millis)[ledger_key(alert)]

    def claim_all(self, alerts: Sequence[Alert], remaining_millis: int) -> dict[str, Claim]:
        """Mark the alerts in progress for `remaining_millis`, unless already recorded; what
        each one's ledger key found. Raises what DynamoDB raised if it could not tell."""
        keys = list(dict.fromkeys(map(ledger_key, alerts)))
        claims: dict[str, Claim] = {}
        for chunk in _chunks(keys, CLAIMS_PER_CALL):
            claims.update(self._claim_chunk(chunk, remaining_millis))
        return claims

    def delivered(self, deliveries: Sequence[tuple[Alert, str]]) -> None:
        """Record the alerts as delivered (with their SNS message ids), so redeliveries of their
        events skip them. Raises LedgerError, or what DynamoDB raised, naming none recorded."""
        expiry = str(int(self._clock()) + self.ttl_seconds)
        requests: list[WriteRequestTypeDef] = [
            {
                "PutRequest": {
                    "Item": {
                        _KEY: {"S": record_id(ledger_key(alert))},
                        _EXPIRY: {"N": expiry},
                        _STATUS: {"S": COMPLETED},
                        _DATA: {"S": json.dumps({"message_id": message_id}, sort_keys=True)},
                    }
                }
            }
            for alert, message_id in deliveries
        ]
        self._write(requests)

    def release(self, alerts: Sequence[Alert]) -> None:
        """Forget the claims on alerts that were not published, so a retry publishes them."""
        keys = dict.fromkeys(record_id(ledger_key(alert)) for alert in alerts)
        self._write([{"DeleteRequest": {"Key": {_KEY: {"S": key}}}} for key in keys])

    def _claim_chunk(self, keys: list[str], remaining_millis: int) -> dict[str, Claim]:
        """One TransactWriteItems call for up to 100 claims; it is all or nothing, so the
        claims it refused are looked up and the rest tried again."""
        from botocore.exceptions import ClientError

        claims: dict[str, Claim] = {}
        pending = keys
        for round_number in range(ROUNDS):
            now = self._clock()
            try:
                self.client.transact_write_items(
                    TransactItems=[self._claim_item(key, now, remaining_millis) for key in pending]
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or []
                if len(reasons) != len(pending):
                    raise
                taken = [
                    key
                    for key, reason in zip(pending, reasons, strict=True)
                    if reason.get("Code") == "ConditionalCheckFailed"
                ]
                claims.update(self._recorded(taken))
                # The others would have been claimed; one in conflict with another
                # invocation's transaction is tried again too.
                pending = [key for key in pending if key not in claims]
                if not pending:
                    return claims
                self._sleep(0.05 * 2**round_number)
                continue
            claims.update(dict.fromkeys(pending, Claim.NEW))
            return claims
        raise LedgerError(f"{len(pending)} claims still in conflict after {ROUNDS} rounds")

    def _claim_item(self, key: str, now: float, remaining_millis: int) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": {
                    _KEY: {"S": record_id(key)},
                    _EXPIRY: {"N": str(int(now) + self.ttl_seconds)},
                    _STATUS: {"S": IN_PROGRESS},
                    _IN_PROGRESS_EXPIRY: {"N": str(int(now * 1000) + remaining_millis)},
                },
                "ConditionExpression": _CLAIMABLE,
                "ExpressionAttributeNames": {
                    "#id": _KEY,
                    "#expiry": _EXPIRY,
                    "#in_progress_expiry": _IN_PROGRESS_EXPIRY,
                    "#status": _STATUS,
                },
                "ExpressionAttributeValues": {
                    ":now": {"N": str(int(now))},
                    ":now_in_millis": {"N": str(int(now * 1000))},
                    ":inprogress": {"S": IN_PROGRESS},
                },
            }
        }

    def _recorded(self, keys: list[str]) -> dict[str, Claim]:
        """What the records of claims refused say: delivered, or another invocation's. A record
        gone in between (released) is left out, to be claimed in the next round."""
        by_id = {record_id(key): key for key in keys}
        found: dict[str, Claim] = {}
        for chunk in _chunks(list(by_id), GETS_PER_CALL):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{_KEY: {"S": key}} for key in chunk],
                    "ConsistentRead": True,
                }
            }
            for _ in range(ROUNDS):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    status = item.get(_STATUS, {}).get("S")
                    claim = Claim.DELIVERED if status == COMPLETED else Claim.IN_PROGRESS
                    found[by_id[item[_KEY]["S"]]] = claim
                request = dict(response.get("UnprocessedKeys") or {})
                if not request:
                    break
            else:
                raise LedgerError("records still unread after every round")
        return found

    def _write(self, requests: Iterable[WriteRequestTypeDef]) -> None:
        for chunk in _chunks(list(requests), WRITES_PER_CALL):
            pending: list[WriteRequestTypeDef] = chunk
            for round_number in range(ROUNDS):
                response = self.client.batch_write_item(RequestItems={self.table_name: pending})
                unprocessed = (response.get("UnprocessedItems") or {}).get(self.table_name, [])
                pending = cast("list[WriteRequestTypeDef]", unprocessed)
                if not pending:
                    break
                self._sleep(0.05 * 2**round_number)
            else:
                raise LedgerError(f"{len(pending)} records still unwritten after every round")


def ledger_key(alert: Alert) -> str:
    """The alert's key in the ledger: the event id and rule id; without an event id, a digest
    of the whole alert."""
    if alert.event_id:
        return alert.dedup_key
    return "sha256:" + hashlib.sha256(alert.to_json().encode()).hexdigest()


def record_id(key: str) -> str:
    """The DynamoDB key of an alert's record, as powertools writes it: `<prefix>#<md5>`."""
    # md5 names a record, as powertools' default hash does; it protects nothing.
    digest = hashlib.md5(json.dumps(key, sort_keys=True).encode(), usedforsecurity=False)
    return f"{LEDGER_KEY_PREFIX}#{digest.hexdigest()}"


def _chunks(items: Sequence[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk

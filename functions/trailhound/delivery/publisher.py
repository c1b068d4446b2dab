"""Alerts to an SNS topic: PublishBatch ten at a time, each alert at most once as people see it.

Delivery is at least once and, with an `AlertLedger`, at most once as people see it: an alert
is claimed in the ledger before it is published, marked delivered after, and released when
publishing failed, so a retried batch skips what was sent and sends what was not. Anything
still unpublished after retries raises `DeliveryError`, so the Lambda invocation fails and
Lambda's retries and on-failure destination keep the batch.

botocore is imported only when a batch is published, so `trailhound replay` runs without it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from trailhound.alerts.model import Alert
from trailhound.delivery.ledger import WRITES_PER_CALL, AlertLedger, Claim, ledger_key
from trailhound.delivery.notifications import SNS_MAX_BYTES, Notification, build_notification
from trailhound.errors import TrailhoundError

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

_T = TypeVar("_T")

PUBLISH_BATCH_MAX = 10
"""Entries per PublishBatch call, SNS's maximum."""

ENTRY_ATTEMPTS = 3
"""Attempts per entry that PublishBatch reports failed without the sender at fault."""

CLAIM_MILLIS = 5 * 60 * 1000
"""How long a claim on an alert holds when the caller has no Lambda deadline to give."""

CLAIMS_PER_ROUND = 100
"""Alerts claimed in one ledger call, then published ten to a PublishBatch call."""

RESERVE_MILLIS = 3000
"""The least time a round of claims must leave before the invocation's deadline: enough to
publish and record a round at Lambda's smallest CPU share, and to log what was left."""

OUT_OF_TIME = "left for Lambda's retry: the invocation's time ran short before it was published"
IN_PROGRESS_ELSEWHERE = (
    "another invocation is publishing it; a retry will find it delivered or free"
)


@dataclass(frozen=True, slots=True)
class FailedAlert:
    """An alert that was not published (or not recorded as published), and why."""

    alert: Alert
    reason: str


@dataclass
class DeliveryReport:
    """What one `SnsPublisher.publish` call did with each alert."""

    published: list[Alert] = field(default_factory=list)
    already_delivered: list[Alert] = field(default_factory=list)
    failed: list[FailedAlert] = field(default_factory=list)
    # Published, but the ledger could not record it: a redelivery may notify again.
    unrecorded: list[FailedAlert] = field(default_factory=list)
    shortened: int = 0
    # Of the failed: left unclaimed for Lambda's retry as the deadline came near.
    deferred: int = 0


class DeliveryError(TrailhoundError):
    """Some alerts are still unpublished after retries; the report says which and why."""

    def __init__(self, report: DeliveryReport) -> None:
        reasons = sorted({failure.reason for failure in report.failed})
        super().__init__(
            f"{len(report.failed)} alerts not published ({len(report.published)} published): "
            + "; ".join(reasons[:5])
        )
        self.report = report


class SnsPublisher:
    """Publishes alerts to an SNS topic with PublishBatch, ten per call, at most once each."""

    def __init__(
        self,
        client: SNSClient,
        topic_arn: str,
        *,
        ledger: AlertLedger | None = None,
        entry_attempts: int = ENTRY_ATTEMPTS,
        backoff_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.topic_arn = topic_arn
        self.ledger = ledger
        self._entry_attempts = entry_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep

    def publish(
        self, alerts: Iterable[Alert], remaining_millis: Callable[[], int] | None = None
    ) -> DeliveryReport:
        """Publish each alert once; raise DeliveryError if any is left unpublished.

        `remaining_millis` (the Lambda context's) bounds how long a claim holds, so a claim
        left by an invocation that timed out does not block the retry for the whole TTL, and
        the time left to publish: when the rest might not fit, it is left for Lambda's retry,
        which finds what this invocation delivered and publishes only the rest.
        """
        report = DeliveryReport()
        seen: set[str] = set()
        slowest = 0.0
        chunks = _chunks(alerts, CLAIMS_PER_ROUND)
        for chunk in chunks:
            if remaining_millis is not None and remaining_millis() < _reserve_millis(slowest):
                for alert in itertools.chain(chunk, *chunks):
                    report.failed.append(FailedAlert(alert, OUT_OF_TIME))
                    report.deferred += 1
                break
            started = time.monotonic()
            fresh: list[Alert] = []
            for alert in chunk:
                key = ledger_key(alert)
                if key in seen:
                    report.already_delivered.append(alert)
                else:
                    fresh.append(alert)
                seen.add(key)
            claimed = self._claim(fresh, remaining_millis, report)
            # Recorded 25 at a time (BatchWriteItem's most), as soon as that many went out.
            unrecorded: list[tuple[Alert, str]] = []
            for group in _chunks(claimed, PUBLISH_BATCH_MAX):
                notifications = [build_notification(alert) for alert in group]
                report.shortened += sum(notification.shortened for notification in notifications)
                for batch in _packed(notifications):
                    unrecorded += self._publish_batch(batch, report)
                    if len(unrecorded) >= WRITES_PER_CALL:
                        self._record(unrecorded[:WRITES_PER_CALL], report)
                        del unrecorded[:WRITES_PER_CALL]
            self._record(unrecorded, report)
            slowest = max(slowest, time.monotonic() - started)
        if report.failed:
            raise DeliveryError(report)
        return report

    def _claim(
        self,
        alerts: list[Alert],
        remaining_millis: Callable[[], int] | None,
        report: DeliveryReport,
    ) -> list[Alert]:
        """The alerts this invocation may publish: claimed in the ledger, or all without one."""
        if self.ledger is None or not alerts:
            return alerts
        ledger = self.ledger
        try:
            claims = self._with_ledger_retries(
                lambda: ledger.claim_all(
                    alerts, CLAIM_MILLIS if remaining_millis is None else remaining_millis()
                )
            )
        except Exception as error:  # the ledger's store failing must not pass as delivered
            reason = f"idempotency record: {_describe(error)}"
            report.failed += [FailedAlert(alert, reason) for alert in alerts]
            return []
        claimed = []
        for alert in alerts:
            claim = claims[ledger_key(alert)]
            if claim is Claim.NEW:
                claimed.append(alert)
            elif claim is Claim.DELIVERED:
                report.already_delivered.append(alert)
            else:
                report.failed.append(FailedAlert(alert, IN_PROGRESS_ELSEWHERE))
        return claimed

    def _publish_batch(
        self, batch: list[Notification], report: DeliveryReport
    ) -> list[tuple[Alert, str]]:
        """One PublishBatch call, retrying the entries SNS failed that are worth retrying; the
        ledger releases what did not go out. What did, with its message ids, is returned for
        the ledger to record."""
        from botocore.exceptions import BotoCoreError, ClientError

        pending = {str(index): notification for index, notification in enumerate(batch)}
        failures: dict[str, str] = {}
        delivered: list[tuple[Alert, str]] = []
        for attempt in range(self._entry_attempts):
            if attempt:
                self._back_off(attempt)
            try:
                response = self.client.publish_batch(
                    TopicArn=self.topic_arn,
                    PublishBatchRequestEntries=[
                        notification.entry(entry_id) for entry_id, notification in pending.items()
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                # botocore has already retried throttling and transient errors.
                failures.update(dict.fromkeys(pending, _describe(error)))
                break
            retry: dict[str, Notification] = {}
            for success in response.get("Successful", []):
                failures.pop(success["Id"], None)
                notification = pending.pop(success["Id"])
                delivered.append((notification.alert, success["MessageId"]))
            for failed in response.get("Failed", []):
                failures[failed["Id"]] = f"{failed['Code']}: {failed.get('Message', '')}"
                notification = pending.pop(failed["Id"])
                # A sender fault means the entry itself is wrong (too big, malformed): sending
                # it again cannot help.
                if not failed["SenderFault"]:
                    retry[failed["Id"]] = notification
            for entry_id in pending:
                failures[entry_id] = "SNS returned no result for the entry"
            pending = retry
            if not pending:
                break
        report.published += [alert for alert, _ in delivered]
        unpublished = []
        for entry_id, reason in failures.items():
            alert = batch[int(entry_id)].alert
            report.failed.append(FailedAlert(alert, reason))
            unpublished.append(alert)
        self._release(unpublished, report)
        return delivered

    def _record(self, delivered: list[tuple[Alert, str]], report: DeliveryReport) -> None:
        if self.ledger is None or not delivered:
            return
        ledger = self.ledger
        try:
            self._with_ledger_retries(lambda: ledger.delivered(delivered))
        except Exception as error:  # published all the same: report it, do not fail
            report.unrecorded += [FailedAlert(alert, _describe(error)) for alert, _ in delivered]

    def _with_ledger_retries(self, call: Callable[[], _T]) -> _T:
        """`call()`, tried again beyond botocore's retries, which stop once the client's retry
        quota is spent: an alert not claimed fails the invocation, and one published but not
        recorded goes out again when its batch is retried. Raises the last error."""
        for attempt in range(1, self._entry_attempts):
            try:
                return call()
            except Exception:  # any failure of the store; the last one is raised below
                self._back_off(attempt)
        return call()

    def _back_off(self, attempt: int) -> None:
        """Wait before try `attempt + 1`: the backoff, doubled each time."""
        self._sleep(self._backoff_seconds * 2 ** (attempt - 1))

    def _release(self, alerts: list[Alert], report: DeliveryReport) -> None:
        if self.ledger is None or not alerts:
            return
        try:
            self.ledger.release(alerts)
        except Exception as error:  # the claims then expire with the invocation's deadline
            report.unrecorded += [FailedAlert(alert, _describe(error)) for alert in alerts]


def _reserve_millis(slowest_round: float) -> float:
    """The time a round of claims must leave: twice the slowest so far, and a floor."""
    return max(RESERVE_MILLIS, 2 * slowest_round * 1000)


def _chunks(alerts: Iterable[Alert], size: int) -> Iterator[list[Alert]]:
    iterator = iter(alerts)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _packed(notifications: list[Notification]) -> Iterator[list[Notification]]:
    """Batches of at most ten whose sizes add up to SNS's limit for one call at most."""
    batch: list[Notification] = []
    size = 0
    for notification in notifications:
        if batch and (len(batch) == PUBLISH_BATCH_MAX or size + notification.size > SNS_MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(notification)
        size += notification.size
    if batch:
        yield batch


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return f"{type(error).__name__}: {error}"

"""What the function tells its operator: structured logs, EMF metrics and the X-Ray trace.

Powertools' Logger, Metrics and Tracer, made once per execution environment. The Tracer adds
rule loading and delivery to Lambda's X-Ray trace as subsegments, and its botocore patch
records each SNS and DynamoDB call; out of Lambda it records nothing.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from trailhound.delivery.publisher import OUT_OF_TIME, DeliveryReport, FailedAlert
from trailhound.pipeline.detection import DetectionSummary
from trailhound.pipeline.subscription import SubscriptionBatch

logger = Logger()
metrics = Metrics()
# Only boto3 calls go out of the function: patching botocore alone spares importing and
# patching every HTTP library the X-Ray SDK knows (requests, httplib, ...) at a cold start.
tracer = Tracer(patch_modules=("botocore",))

LOGGED_PER_KIND = 20
"""Bad log lines and rule failures logged one by one per invocation; the metrics count all, and
one more line says how many were not logged and where (the first LISTED_NOT_LOGGED of them).
"""
LISTED_NOT_LOGGED = 1000
"""Keeps that line well within CloudWatch Logs' 256 KB per log event."""


def count(name: str, value: int = 1) -> None:
    """Add to one of the function's metrics (a count)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def report_detection(batch: SubscriptionBatch, summary: DetectionSummary) -> None:
    """Count what a batch held and log what could not be read or matched, boundedly."""
    count("EventsReceived", len(batch.items))
    count("ParseFailures", len(summary.bad_inputs))
    failures = summary.rule_failures + summary.alert_failures
    count("RuleFailures", len(failures))
    for bad in summary.bad_inputs[:LOGGED_PER_KIND]:
        logger.warning(
            "log event is not a CloudTrail record", log_event=bad.location, error=bad.message
        )
    if len(summary.bad_inputs) > LOGGED_PER_KIND:
        logger.warning(
            "more log events are not CloudTrail records; only the first were logged",
            not_logged=len(summary.bad_inputs) - LOGGED_PER_KIND,
            log_events=[
                bad.location
                for bad in summary.bad_inputs[LOGGED_PER_KIND : LOGGED_PER_KIND + LISTED_NOT_LOGGED]
            ],
        )
    for failure in failures[:LOGGED_PER_KIND]:
        logger.error(
            "rule failed on a record",
            rule_id=failure.failure.rule_id,
            log_event=failure.location,
            error=failure.failure.error,
        )
    if len(failures) > LOGGED_PER_KIND:
        logger.error(
            "rules failed on more records; only the first were logged",
            not_logged=len(failures) - LOGGED_PER_KIND,
            failures=[
                f"{failure.failure.rule_id} on {failure.location}"
                for failure in failures[LOGGED_PER_KIND : LOGGED_PER_KIND + LISTED_NOT_LOGGED]
            ],
        )
    for rule_id, matches in summary.alerts_by_rule.items():
        with single_metric(
            name="RuleMatches",
            unit=MetricUnit.Count,
            value=matches,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="rule_id", value=rule_id)


def report_delivery(report: DeliveryReport) -> None:
    """Count what delivery did and log every alert that did not go out as it should."""
    count("AlertsPublished", len(report.published))
    count("AlertsAlreadyDelivered", len(report.already_delivered))
    count("PublishFailures", len(report.failed) - report.deferred)
    count("AlertsDeferred", report.deferred)
    if report.deferred:
        logger.warning(
            "the invocation's time ran short: alerts left for Lambda's retry, which publishes "
            "only what this invocation did not",
            alerts=report.deferred,
            published=len(report.published),
        )
    for failure in report.failed:
        if failure.reason != OUT_OF_TIME:
            logger.error("alert not published", extra=_keys(failure))
    for failure in report.unrecorded:
        logger.warning(
            "alert published but not recorded as delivered; a redelivery may repeat it",
            extra=_keys(failure),
        )
    if report.shortened:
        logger.info("alerts shortened to fit SNS's message size limit", alerts=report.shortened)


def _keys(failure: FailedAlert) -> dict[str, str | None]:
    return {
        "rule_id": failure.alert.rule_id,
        "event_id": failure.alert.event_id,
        "error": failure.reason,
    }

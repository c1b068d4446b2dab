"""The Lambda function: a CloudWatch Logs subscription batch in, one SNS message per alert out.

Decode, match and alert are the steps `trailhound replay` runs too (`sources`, `detection`);
this module adds the settings, the once-per-environment rules and clients, and the logs and
metrics an operator needs. A failure to publish fails the invocation, so Lambda retries the
batch and finally hands it to the on-failure destination; nothing is dropped silently.

Powertools' Tracer adds the rule loading and the delivery to Lambda's X-Ray trace as
subsegments, and its botocore patch records each SNS and DynamoDB call; out of Lambda it
records nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from trailhound.detection import DetectionSummary, detect
from trailhound.engine.bundle import BundleForOtherFolders, load_rules_or_bundle
from trailhound.engine.ruleset import RuleSet
from trailhound.selfwatch import names_unseen, watches_itself
from trailhound.settings import Settings, load_settings
from trailhound.sinks import (
    AlertLedger,
    DeliveryError,
    DeliveryReport,
    FailedAlert,
    SnsPublisher,
    retry_config,
)
from trailhound.sources import CONTROL_MESSAGE, PayloadError, SubscriptionBatch, decode_subscription

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailhound.alerts import Alert

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


@dataclass(frozen=True, slots=True)
class Runtime:
    """What an execution environment builds once: the rule set and the publisher."""

    ruleset: RuleSet
    publisher: SnsPublisher


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Decode the batch, match every record, publish each alert once."""
    settings = load_settings()
    # Metrics() read the namespace at import; the settings are what the template says now.
    metrics.namespace = settings.powertools_metrics_namespace
    runtime = runtime_for(settings)
    batch = _decode(event)
    if batch.message_type == CONTROL_MESSAGE:
        logger.info("CloudWatch Logs control message acknowledged", owner=batch.owner)
        metrics.add_metric(name="ControlMessages", unit=MetricUnit.Count, value=1)
        return {"messageType": batch.message_type, "events": 0, "alerts": 0}
    summary = DetectionSummary()
    alerts = list(detect(batch.items, runtime.ruleset, summary))
    _report_detection(batch, summary)
    report = _deliver(runtime.publisher, alerts, context)
    return {
        "messageType": batch.message_type,
        "events": summary.events,
        "alerts": len(alerts),
        "published": len(report.published),
        "alreadyDelivered": len(report.already_delivered),
    }


@functools.cache
@tracer.capture_method(capture_response=False)
def runtime_for(settings: Settings) -> Runtime:
    """Load the rules and make the clients, once per execution environment and settings.

    A rule that fails to load is logged and counted and the others work; no rule at all is
    an error, since a function that can never alert must not look healthy.
    """
    import boto3

    paths = settings.rule_paths
    loaded, bundle_unused = load_rules_or_bundle(paths, settings.rule_bundles)
    if bundle_unused is not None:
        # Other folders are a configuration (RulesPaths); a stale or damaged bundle is not.
        log = logger.info if isinstance(bundle_unused, BundleForOtherFolders) else logger.warning
        log("rule bundle not used: the rule files are loaded", reason=str(bundle_unused))
    for error in loaded.errors:
        logger.error("rule not loaded", rule_error=str(error), path=str(error.path))
    metrics.add_metric(name="RuleLoadErrors", unit=MetricUnit.Count, value=len(loaded.errors))
    if not loaded.rules:
        raise RuntimeError(f"no rules loaded from {', '.join(map(str, paths))}")
    logger.info(
        "rules loaded",
        rules=len(loaded.rules),
        disabled=len(loaded.disabled),
        source="files" if not settings.rule_bundles or bundle_unused is not None else "bundle",
    )
    unseen = names_unseen([settings.aws_lambda_function_name, settings.alert_topic_arn])
    if unseen and watches_itself(compiled.rule_id for compiled in loaded.rules):
        logger.warning(
            "the rules that watch trailhound itself cannot see changes to this stack: its "
            "resources' names lack 'trailhound'; deploy it under a stack name that has it",
            names=unseen,
        )
    ledger = AlertLedger(
        settings.idempotency_table,
        settings.idempotency_ttl_seconds,
        boto3.client("dynamodb", config=retry_config()),
    )
    publisher = SnsPublisher(
        boto3.client("sns", config=retry_config()), settings.alert_topic_arn, ledger=ledger
    )
    return Runtime(RuleSet(loaded.rules), publisher)


def _decode(event: dict[str, Any]) -> SubscriptionBatch:
    try:
        batch = decode_subscription(event)
    except PayloadError:
        # Retrying cannot fix the payload, but failing hands it to the on-failure destination.
        logger.exception("subscription payload not readable")
        metrics.add_metric(name="ParseFailures", unit=MetricUnit.Count, value=1)
        raise
    logger.append_keys(log_group=batch.log_group, log_stream=batch.log_stream)
    return batch


def _report_detection(batch: SubscriptionBatch, summary: DetectionSummary) -> None:
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=len(batch.items))
    metrics.add_metric(name="ParseFailures", unit=MetricUnit.Count, value=len(summary.bad_inputs))
    failures = summary.rule_failures + summary.alert_failures
    metrics.add_metric(name="RuleFailures", unit=MetricUnit.Count, value=len(failures))
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
    for rule_id, count in summary.alerts_by_rule.items():
        with single_metric(
            name="RuleMatches",
            unit=MetricUnit.Count,
            value=count,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="rule_id", value=rule_id)


@tracer.capture_method(capture_response=False)
def _deliver(
    publisher: SnsPublisher, alerts: list[Alert], context: LambdaContext
) -> DeliveryReport:
    try:
        report = publisher.publish(alerts, context.get_remaining_time_in_millis)
    except DeliveryError as error:
        _report_delivery(error.report)
        raise
    _report_delivery(report)
    return report


def _report_delivery(report: DeliveryReport) -> None:
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=len(report.published))
    metrics.add_metric(
        name="AlertsAlreadyDelivered", unit=MetricUnit.Count, value=len(report.already_delivered)
    )
    metrics.add_metric(name="PublishFailures", unit=MetricUnit.Count, value=len(report.failed))
    for failure in report.failed:
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

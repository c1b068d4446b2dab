"""The Lambda function: a CloudWatch Logs subscription batch in, one SNS message per alert out.

Decode, match and alert are the steps `trailhound replay` runs too (`trailhound.pipeline`);
this adds the settings, the rules and clients built once per environment (`runtime`), and the
logs and metrics an operator needs (`observability`). A failure to publish fails the
invocation, so Lambda retries the batch and finally hands it to the on-failure destination;
nothing is dropped silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailhound.delivery.publisher import DeliveryError, DeliveryReport, SnsPublisher
from trailhound.errors import PayloadError
from trailhound.lambda_function.observability import (
    count,
    logger,
    metrics,
    report_delivery,
    report_detection,
    tracer,
)
from trailhound.lambda_function.runtime import runtime_for
from trailhound.lambda_function.settings import load_settings
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.subscription import (
    CONTROL_MESSAGE,
    SubscriptionBatch,
    decode_subscription,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from trailhound.alerts.model import Alert


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
        count("ControlMessages")
        return {"messageType": batch.message_type, "events": 0, "alerts": 0}
    summary = DetectionSummary()
    alerts = list(detect(batch.items, runtime.ruleset, summary))
    report_detection(batch, summary)
    report = _deliver(runtime.publisher, alerts, context)
    return {
        "messageType": batch.message_type,
        "events": summary.events,
        "alerts": len(alerts),
        "published": len(report.published),
        "alreadyDelivered": len(report.already_delivered),
    }


def _decode(event: dict[str, Any]) -> SubscriptionBatch:
    try:
        batch = decode_subscription(event)
    except PayloadError:
        # Retrying cannot fix the payload, but failing hands it to the on-failure destination.
        logger.exception("subscription payload not readable")
        count("ParseFailures")
        raise
    logger.append_keys(log_group=batch.log_group, log_stream=batch.log_stream)
    return batch


@tracer.capture_method(capture_response=False)
def _deliver(
    publisher: SnsPublisher, alerts: list[Alert], context: LambdaContext
) -> DeliveryReport:
    try:
        report = publisher.publish(alerts, context.get_remaining_time_in_millis)
    except DeliveryError as error:
        report_delivery(error.report)
        raise
    report_delivery(report)
    return report

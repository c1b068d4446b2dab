"""`trailhound replay`: CloudTrail events through the Lambda's path, the alerts printed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from trailhound.cli.arguments import DEFAULT_RULES, Commands

if TYPE_CHECKING:
    from trailhound.alerts.model import Alert
    from trailhound.delivery.publisher import SnsPublisher
    from trailhound.delivery.stdout import StreamSink
    from trailhound.pipeline.detection import DetectionSummary
    from trailhound.pipeline.records import SourceItem


def add_parser(commands: Commands) -> None:
    """The command's arguments."""
    replay = commands.add_parser(
        "replay",
        help="run CloudTrail events through the rules and print the alerts",
        description="Inputs: CloudTrail log files (.json, .json.gz), JSON Lines, single events, "
        "CloudWatch Logs subscription payloads, folders (recursively) and - for stdin.",
    )
    replay.add_argument("inputs", nargs="+", metavar="INPUT")
    replay.add_argument(
        "--rules",
        type=Path,
        action="append",
        metavar="DIR",
        help="rule file or folder (repeatable; default: rules/)",
    )
    replay.add_argument("--format", choices=("text", "json"), default="text")
    replay.add_argument(
        "--publish",
        metavar="TOPIC_ARN",
        help="also publish each alert to this SNS topic, as the Lambda does",
    )
    replay.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="SNS endpoint for --publish, e.g. http://127.0.0.1:5000 for moto server",
    )
    replay.add_argument(
        "--region", metavar="REGION", help="Region for --publish (default: the topic's)"
    )
    replay.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Replay the inputs; exit 1 if any input, rule or alert failed."""
    from trailhound.authoring.loader import load_rules
    from trailhound.delivery.stdout import StreamSink
    from trailhound.engine.ruleset import RuleSet
    from trailhound.pipeline.detection import DetectionSummary, detect
    from trailhound.pipeline.logfiles import read_inputs

    publisher = _publisher(args) if args.publish else None
    if publisher is None and (args.endpoint_url or args.region):
        print("--endpoint-url and --region only go with --publish", file=sys.stderr)
        return 2
    loaded = load_rules(args.rules or [DEFAULT_RULES])
    for error in loaded.errors:
        print(f"rule not loaded: {error}", file=sys.stderr)
    ruleset = RuleSet(loaded.rules)
    summary = DetectionSummary()
    items = _with_progress(read_inputs(args.inputs, stdin=sys.stdin.buffer), sys.stderr)
    sink = StreamSink(sys.stdout, args.format)
    alerts = _written(detect(items, ruleset, summary), sink)
    published = True
    if publisher is None:
        for _ in alerts:
            pass
    else:
        published = _publish(publisher, alerts, sys.stderr)
    sys.stdout.flush()
    _print_summary(summary, len(ruleset.rules), sys.stderr)
    failed = (
        summary.bad_inputs
        or loaded.errors
        or summary.rule_failures
        or summary.alert_failures
        or not published
    )
    return 1 if failed else 0


def _written(alerts: Iterable[Alert], sink: StreamSink) -> Iterator[Alert]:
    """Each alert, once the sink has written it, so printing and publishing keep pace."""
    for alert in alerts:
        sink.write(alert)
        yield alert


def _publisher(args: argparse.Namespace) -> SnsPublisher:
    """The Lambda's publisher, without its ledger: one run publishes each alert once."""
    from trailhound.aws import retry_config, topic_region
    from trailhound.delivery.publisher import SnsPublisher

    try:
        region = args.region or topic_region(args.publish)
    except ValueError as error:
        raise SystemExit(f"trailhound replay: --publish: {error}") from None
    try:
        import boto3
    except ImportError:
        raise SystemExit(
            "trailhound replay --publish needs boto3: pip install 'trailhound[aws]'"
        ) from None
    client = boto3.client(
        "sns", region_name=region, endpoint_url=args.endpoint_url, config=retry_config()
    )
    return SnsPublisher(client, args.publish)


def _publish(publisher: SnsPublisher, alerts: Iterable[Alert], stream: TextIO) -> bool:
    from trailhound.delivery.publisher import DeliveryError

    try:
        report = publisher.publish(alerts)
    except DeliveryError as error:
        report = error.report
    for failure in report.failed:
        print(
            f"not published: {failure.alert.rule_id} on event {failure.alert.event_id}: "
            f"{failure.reason}",
            file=stream,
        )
    repeats = (
        f", {len(report.already_delivered)} repeats skipped" if report.already_delivered else ""
    )
    print(
        f"published {len(report.published)} alerts to {publisher.topic_arn}"
        f"{repeats}, {len(report.failed)} failed",
        file=stream,
    )
    return not report.failed


def _with_progress(items: Iterable[SourceItem], stream: TextIO) -> Iterator[SourceItem]:
    if not stream.isatty():
        yield from items
        return
    from tqdm import tqdm

    with tqdm(items, unit=" events", file=stream, leave=False) as bar:
        yield from bar


def _print_summary(summary: DetectionSummary, rules: int, stream: TextIO) -> None:
    for bad in summary.bad_inputs:
        print(f"skipped {bad.location}: {bad.message}", file=stream)
    for failure in summary.rule_failures:
        print(
            f"rule {failure.failure.rule_id} failed on {failure.location}: {failure.failure.error}",
            file=stream,
        )
    for failure in summary.alert_failures:
        print(
            f"alert of rule {failure.failure.rule_id} on {failure.location} not built: "
            f"{failure.failure.error}",
            file=stream,
        )
    print(
        f"{summary.events} events read, {len(summary.bad_inputs)} could not be parsed, "
        f"{rules} rules, {summary.alerts} alerts",
        file=stream,
    )
    for rule_id, count in sorted(summary.alerts_by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:6d}  {rule_id}", file=stream)

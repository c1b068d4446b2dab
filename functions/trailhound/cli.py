"""The `trailhound` command: lint and test rules, replay CloudTrail events, print the schema."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from trailhound import __version__

if TYPE_CHECKING:
    from trailhound.alerts import Alert
    from trailhound.detection import DetectionSummary
    from trailhound.sinks import SnsPublisher, StreamSink
    from trailhound.sources import SourceItem

DEFAULT_RULES = Path("rules")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:  # `trailhound replay ... | head` is normal use
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trailhound",
        description="Real-time alerting on AWS CloudTrail with Sigma rules.",
    )
    parser.add_argument("--version", action="version", version=f"trailhound {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    lint = commands.add_parser(
        "lint", help="check rule files: YAML, Sigma, trailhound keys, API names, regexes"
    )
    lint.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    lint.add_argument(
        "--strict", action="store_true", help="fail on warnings too (unknown API names)"
    )
    lint.set_defaults(run=_lint)

    test = commands.add_parser("test", help="run the inline tests of rule files")
    test.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    test.set_defaults(run=_test)

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
    replay.set_defaults(run=_replay)

    bundle = commands.add_parser(
        "bundle",
        help="compile rule files into a bundle that the Lambda loads at a cold start",
        description="Loads the rules as the Lambda would and writes them, compiled, to one file. "
        "The Lambda uses the bundle (one of RULES_BUNDLES) built from its rule folders "
        "(RULES_PATHS) while every rule file is unchanged; otherwise it loads the files.",
    )
    bundle.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    bundle.add_argument("-o", "--output", type=Path, required=True, help="the bundle file to write")
    bundle.set_defaults(run=_bundle)

    schema = commands.add_parser("schema", help="print the JSON Schema of rule files")
    schema.set_defaults(run=_schema)
    return parser


def _lint(args: argparse.Namespace) -> int:
    from trailhound.engine.lint import lint

    report = lint(args.paths or [DEFAULT_RULES])
    for error in report.errors:
        print(error)
    errors = len(report.errors) - report.warnings
    print(
        f"{report.files} files, {report.rules} rules and {report.filters} filters loaded, "
        f"{errors} errors, {report.warnings} warnings",
        file=sys.stderr,
    )
    return 1 if report.failed(strict=args.strict) else 0


def _test(args: argparse.Namespace) -> int:
    from trailhound.engine.loader import load_rules
    from trailhound.engine.ruletests import run_rule_tests

    loaded = load_rules(args.paths or [DEFAULT_RULES])
    failed = 0
    for error in loaded.errors:
        print(f"FAIL {error}")
        failed += 1
    passed = 0
    rules = [*loaded.rules, *loaded.disabled]
    for outcome in run_rule_tests(rules):
        if outcome.passed:
            passed += 1
            if args.verbose:
                print(outcome)
        else:
            failed += 1
            print(f"{outcome}  [{outcome.path}]")
    untested = [compiled.rule_id for compiled in rules if not compiled.rule.tests]
    if untested:
        print(f"rules without tests: {', '.join(untested)}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def _replay(args: argparse.Namespace) -> int:
    from trailhound.detection import DetectionSummary, detect
    from trailhound.engine.loader import load_rules
    from trailhound.engine.ruleset import RuleSet
    from trailhound.sinks import StreamSink
    from trailhound.sources import read_inputs

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
    from trailhound.sinks import SnsPublisher, retry_config, topic_region

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
    from trailhound.sinks import DeliveryError

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


def _bundle(args: argparse.Namespace) -> int:
    from trailhound.engine.bundle import write_bundle

    result = write_bundle(args.output, args.paths or [DEFAULT_RULES])
    for error in result.errors:
        print(error)
    errors = sum(not error.warning for error in result.errors)
    print(
        f"{args.output}: {len(result.rules)} rules, {len(result.disabled)} disabled, "
        f"{errors} errors",
        file=sys.stderr,
    )
    return 1 if errors else 0


def _schema(args: argparse.Namespace) -> int:
    from trailhound.engine.schema import rule_file_schema

    print(json.dumps(rule_file_schema(), indent=2))
    return 0

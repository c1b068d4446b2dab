"""What an execution environment builds once: the rules, indexed, and the SNS publisher.

Rules come from the rule bundle built for the function's rule folders while it is current,
else from the rule files (a slower cold start, never a missing rule). A rule that fails to load
is logged and counted and the others work; no rule at all is an error, since a function that
can never alert must not look healthy.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trailhound.aws import retry_config
from trailhound.delivery.ledger import AlertLedger
from trailhound.delivery.publisher import SnsPublisher
from trailhound.engine.bundle import read_bundle
from trailhound.engine.rule import LoadResult
from trailhound.engine.ruleset import RuleSet
from trailhound.errors import BundleForOtherFolders, BundleOutOfDate, BundleUnusable, NoRulesError
from trailhound.lambda_function.observability import count, logger, tracer
from trailhound.lambda_function.selfwatch import names_unseen, watches_itself
from trailhound.lambda_function.settings import Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    """The rule set and the publisher an execution environment keeps."""

    ruleset: RuleSet
    publisher: SnsPublisher


@functools.cache
@tracer.capture_method(capture_response=False)
def runtime_for(settings: Settings) -> Runtime:
    """Load the rules and make the clients, once per execution environment and settings."""
    import boto3

    paths = settings.rule_paths
    loaded, bundle_unused = load_rules_or_bundle(paths, settings.rule_bundles)
    if bundle_unused is not None:
        # Other folders are a configuration (RulesPaths); a stale or damaged bundle is not.
        log = logger.info if isinstance(bundle_unused, BundleForOtherFolders) else logger.warning
        log("rule bundle not used: the rule files are loaded", reason=str(bundle_unused))
    for error in loaded.errors:
        logger.error("rule not loaded", rule_error=str(error), path=str(error.path))
    count("RuleLoadErrors", len(loaded.errors))
    if not loaded.rules:
        raise NoRulesError(f"no rules loaded from {', '.join(map(str, paths))}")
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


def load_rules_or_bundle(
    paths: Sequence[Path], bundles: Sequence[Path]
) -> tuple[LoadResult, BundleUnusable | None]:
    """The rules from the bundle built for `paths`, if it is current, else from the files.

    Also says why no bundle was used: a BundleForOtherFolders if none of `bundles` was built
    for `paths` (a choice of configuration), else a BundleUnusable naming what went wrong.
    The files are loaded with pySigma and PyYAML, imported only then.
    """
    other_folders: list[str] = []
    problems: list[str] = []
    for bundle in bundles:
        try:
            return read_bundle(bundle, paths), None
        except BundleForOtherFolders as error:
            other_folders.append(str(error))
        except BundleOutOfDate as error:
            problems.insert(0, str(error))
            break  # The bundle for these folders; any other is for other folders.
        except BundleUnusable as error:
            problems.append(str(error))
    from trailhound.authoring.loader import load_rules

    reason: BundleUnusable | None = None
    if problems:
        reason = BundleUnusable("; ".join(problems))
    elif other_folders:
        reason = BundleForOtherFolders("; ".join(other_folders))
    return load_rules(paths).result(), reason

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaString, SpecialChars

from trailhound.authoring.catalogue import ApiCatalogue, load_catalogue

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalogue() -> ApiCatalogue:
    return load_catalogue()


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("TerminateInstances", "ec2.amazonaws.com"),
        ("ConsoleLogin", "signin.amazonaws.com"),
        ("DeleteBucket", "s3.amazonaws.com"),
        ("PutBucketPublicAccessBlock", "s3.amazonaws.com"),
        ("UpdateFunctionCode20150331v2", "lambda.amazonaws.com"),
        ("CreateFunction20150331", "lambda.amazonaws.com"),
        ("CreateDistribution2020_05_31", "cloudfront.amazonaws.com"),
        ("AssumeRoleWithWebIdentity", "sts.amazonaws.com"),
        ("DeleteAlarms", "monitoring.amazonaws.com"),
        ("SendEmail", "ses.amazonaws.com"),
        ("GetAuthorizationToken", "ecr.amazonaws.com"),
        ("InvokeModel", "bedrock.amazonaws.com"),
        ("CreateAccountAssignment", "sso.amazonaws.com"),
        ("CreateUser", "sso-directory.amazonaws.com"),
        ("SharedSnapshotCopyInitiated", "ec2.amazonaws.com"),
    ],
)
def test_real_event_names_are_known_with_their_source(
    catalogue: ApiCatalogue, name: str, source: str
) -> None:
    assert catalogue.knows_source(source)
    assert catalogue.knows_name(name, source)


def test_names_and_sources_are_case_insensitive(catalogue: ApiCatalogue) -> None:
    assert catalogue.knows_source("EC2.AmazonAWS.com")
    assert catalogue.knows_name("terminateinstances", "EC2.amazonaws.com")
    assert catalogue.knows_name("CONSOLELOGIN")


def test_name_is_checked_against_its_own_source(catalogue: ApiCatalogue) -> None:
    assert not catalogue.knows_name("ConsoleLogin", "ec2.amazonaws.com")
    assert catalogue.knows_name("ConsoleLogin")


def test_unknown_source_checks_the_name_against_every_service(catalogue: ApiCatalogue) -> None:
    assert catalogue.knows_name("TerminateInstances", "ec2.amazonaw.com")
    assert not catalogue.knows_name("TerminateInstance", "ec2.amazonaw.com")


def test_endpoint_prefix_is_not_taken_for_the_event_source(catalogue: ApiCatalogue) -> None:
    for endpoint_only in (
        "email.amazonaws.com",
        "api.ecr.amazonaws.com",
        "s3-control.amazonaws.com",
    ):
        assert not catalogue.knows_source(endpoint_only)


def test_typo_in_name_is_unknown_and_suggests_the_operation(catalogue: ApiCatalogue) -> None:
    assert not catalogue.knows_name("TerminateInstance", "ec2.amazonaws.com")
    assert catalogue.suggest_name("TerminateInstance", "ec2.amazonaws.com") == "TerminateInstances"
    assert catalogue.suggest_name("consolelogn") == "ConsoleLogin"


def test_typo_in_source_is_unknown_and_suggests_the_source(catalogue: ApiCatalogue) -> None:
    assert not catalogue.knows_source("ec2.amazonaw.com")
    assert catalogue.suggest_source("ec2.amazonaw.com") == "ec2.amazonaws.com"
    assert catalogue.suggest_source("signin.amazon.com") == "signin.amazonaws.com"


def test_nothing_is_suggested_for_a_value_unlike_any_known(catalogue: ApiCatalogue) -> None:
    assert catalogue.suggest_name("Xyzzy", "ec2.amazonaws.com") is None
    assert catalogue.suggest_source("example.org") is None
    assert catalogue.suggest_source("email.amazonaws.com") is None


def test_wildcard_is_known_when_a_known_value_matches(catalogue: ApiCatalogue) -> None:
    assert catalogue.knows_name("UpdateFunctionConfiguration*", "lambda.amazonaws.com")
    assert catalogue.knows_name("Terminate?nstances", "ec2.amazonaws.com")
    assert catalogue.knows_name("*Snapshot*", "ec2.amazonaws.com")
    assert catalogue.knows_source("*.amazonaws.com")
    assert catalogue.knows_name("ConsoleLogin", "sign*.amazonaws.com")


def test_wildcard_matching_nothing_is_unknown(catalogue: ApiCatalogue) -> None:
    assert not catalogue.knows_name("Terminate*Bucket", "ec2.amazonaws.com")
    assert not catalogue.knows_source("ec2.*.example.org")


def test_catalogue_from_a_table_needs_no_botocore() -> None:
    api = ApiCatalogue({"signin.amazonaws.com": frozenset({"ConsoleLogin"})})
    assert api.knows_name("consolelogin", "SIGNIN.amazonaws.com")
    assert api.suggest_source("signin.amazonaws.co") == "signin.amazonaws.com"
    assert not api.knows_name("RunInstances")


def test_loading_is_cached() -> None:
    assert load_catalogue() is load_catalogue()


def _corpus_pairs() -> Iterator[tuple[str, str]]:
    """(eventSource, eventName) of every record; stratus-red-team wraps each in `event`."""
    for path in sorted((REPO / "tests" / "data" / "corpus").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                event = record["event"] if "technique" in record else record
                yield event["eventSource"], event["eventName"]


def test_every_event_in_the_real_corpus_is_known(catalogue: ApiCatalogue) -> None:
    pairs = set(_corpus_pairs())
    assert pairs
    unknown = {
        (source, name)
        for source, name in pairs
        if not (catalogue.knows_source(source) and catalogue.knows_name(name, source))
    }
    assert not unknown


_WILDCARDS: dict[object, str] = {
    SpecialChars.WILDCARD_MULTI: "*",
    SpecialChars.WILDCARD_SINGLE: "?",
}


def _pattern(value: SigmaString) -> str:
    """The Sigma value as an fnmatch pattern (startswith/contains/endswith add wildcards)."""
    return "".join(part if isinstance(part, str) else _WILDCARDS.get(part, "") for part in value.s)


def _mappings(detection: SigmaDetection) -> Iterator[list[SigmaDetectionItem]]:
    items = [item for item in detection.detection_items if isinstance(item, SigmaDetectionItem)]
    if items:
        yield items
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _mappings(item)


def _values(items: list[SigmaDetectionItem], field: str) -> list[str]:
    return [
        _pattern(value)
        for item in items
        if item.field == field
        for value in item.value
        if isinstance(value, SigmaString)
    ]


def _sigma_values() -> Iterator[tuple[str, list[str], list[str]]]:
    """(rule, eventSource values, eventName values) of each detection mapping."""
    for path in sorted((REPO / "packs" / "sigmahq").glob("*.yml")):
        rule = SigmaRule.from_yaml(path.read_text())
        for detection in rule.detection.detections.values():
            for items in _mappings(detection):
                yield path.name, _values(items, "eventSource"), _values(items, "eventName")


# Values in the SigmaHQ rules that CloudTrail never records, so those selections never match:
# lint must keep reporting them rather than the catalogue accepting them.
SIGMA_MISTAKES = {
    # ElastiCache security groups only have ingress rules.
    ("aws_elasticache_security_group_modified_or_deleted.yml", "AuthorizeCacheSecurityGroupEgress"),
    ("aws_elasticache_security_group_modified_or_deleted.yml", "RevokeCacheSecurityGroupEgress"),
    # Route 53 Domains calls are logged as route53domains.amazonaws.com, not route53.
    ("aws_route_53_domain_transferred_lock_disabled.yml", "DisableDomainTransferLock"),
    ("aws_route_53_domain_transferred_to_another_account.yml", "TransferDomainToAnotherAwsAccount"),
    # IAM permission names: CloudTrail records PutBucketEncryption, PutBucketLifecycle and
    # PutBucketReplication; ReplicateObject is a permission of S3's replication role.
    ("aws_s3_data_management_tampering.yml", "PutEncryptionConfiguration"),
    ("aws_s3_data_management_tampering.yml", "PutLifecycleConfiguration"),
    ("aws_s3_data_management_tampering.yml", "PutReplicationConfiguration"),
    ("aws_s3_data_management_tampering.yml", "ReplicateObject"),
}


def test_sigma_rules_use_known_events_except_their_upstream_mistakes(
    catalogue: ApiCatalogue,
) -> None:
    """A name must be known with one of the sources beside it, or anywhere if none is."""
    checked = 0
    unknown = set()
    for rule, sources, names in _sigma_values():
        checked += len(sources) + len(names)
        beside: list[str | None] = [*sources] or [None]
        unknown |= {(rule, s) for s in sources if not catalogue.knows_source(s)}
        unknown |= {(rule, n) for n in names if not any(catalogue.knows_name(n, s) for s in beside)}
    assert checked > 50
    assert unknown == SIGMA_MISTAKES

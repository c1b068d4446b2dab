"""The eventSource and eventName values CloudTrail can record, so lint can catch typos in rules.

A rule that compares `eventName` with a misspelt operation never fires and never fails, so
`trailhound lint` checks names and sources against botocore's service models, which list every
AWS API operation. CloudTrail mostly records a call as the operation's name and
`<service>.amazonaws.com`; the tables below cover where it does not. Only lint uses this module,
never the Lambda handler, so botocore is imported when the catalogue is first loaded.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import re2

_DOMAIN = ".amazonaws.com"

# CloudTrail appends the API version to some operation names: Lambda's
# `UpdateFunctionCode20150331v2`, CloudFront's `CreateDistribution2020_05_31`.
_API_VERSION_SUFFIX = re.compile(r"(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$")

# eventSource for botocore services whose endpointPrefix is not it, by botocore service name.
# A dotted endpointPrefix (api.ecr, runtime.sagemaker, streams.dynamodb) is one endpoint of a
# service that CloudTrail records under its signingName; these are the rest.
_SOURCE_BY_SERVICE: Mapping[str, str] = {
    # SES v1, v2 and Pinpoint Email are served from `email.<region>.amazonaws.com`.
    "ses": "ses",
    "sesv2": "ses",
    "pinpoint-email": "ses",
    # S3 Control (account public access block, access points, Storage Lens) logs as S3.
    "s3control": "s3",
    # Every Bedrock runtime and agent endpoint logs as bedrock.amazonaws.com.
    "bedrock-runtime": "bedrock",
    "bedrock-agent": "bedrock",
    "bedrock-agent-runtime": "bedrock",
    "bedrock-data-automation": "bedrock",
    "bedrock-data-automation-runtime": "bedrock",
    "appstream": "appstream",  # endpointPrefix appstream2
    "memorydb": "memorydb",  # endpointPrefix memory-db
    "cloudhsmv2": "cloudhsm",
    "lexv2-models": "lex",
    "lexv2-runtime": "lex",
    "appconfigdata": "appconfig",
    # IAM Identity Center: the access portal (portal.sso, signingName awsssoportal) and the admin
    # API (sso) both log as sso.amazonaws.com; its OIDC endpoint (oidc) logs as sso-oauth.
    "sso": "sso",
    "sso-oidc": "sso-oauth",
    # Marketplace keeps the endpoint's name rather than the signingName aws-marketplace.
    "meteringmarketplace": "metering-marketplace",
    "marketplace-catalog": "catalog.marketplace",
}

# What CloudTrail records that is not a botocore operation: console sign-in, AwsServiceEvent
# records, console-only APIs, and S3 names that differ from the SDK's.
_CLOUDTRAIL_ONLY: Mapping[str, frozenset[str]] = {
    # Console sign-in (eventType AwsConsoleSignIn) and Identity Center's credential challenges.
    "signin.amazonaws.com": frozenset(
        {
            "ConsoleLogin",
            "CheckMfa",
            "SwitchRole",
            "ExitRole",
            "RenewRole",
            "GetSigninToken",
            "CredentialChallenge",
            "CredentialVerification",
            "UserAuthentication",
            "PasswordUpdated",
            "PasswordRecoveryRequested",
            "PasswordRecoveryCompleted",
        }
    ),
    # IAM Identity Center access portal and console.
    "sso.amazonaws.com": frozenset(
        {
            "Authenticate",
            "Federate",
            "ListApplications",
            "ListProfilesForApplication",
            "GetSsoConfiguration",
            "UpdateSsoConfiguration",
            "ListDirectoryAssociations",
            "DescribeRegisteredRegions",
            "AssociateDirectory",
            "DisassociateDirectory",
            "CreateApplicationInstance",
            "DeleteApplicationInstance",
            "StartSSO",
        }
    ),
    # Identity Center's built-in directory, which has no public API.
    "sso-directory.amazonaws.com": frozenset(
        {
            "AddMemberToGroup",
            "RemoveMemberFromGroup",
            "CreateUser",
            "DeleteUser",
            "UpdateUser",
            "EnableUser",
            "DisableUser",
            "DescribeUsers",
            "SearchUsers",
            "CreateGroup",
            "DeleteGroup",
            "UpdateGroup",
            "DescribeGroups",
            "SearchGroups",
            "ListGroupsForUser",
            "ListMembersInGroup",
            "UpdatePassword",
            "VerifyEmail",
            "StartVirtualMfaDeviceRegistration",
            "CompleteVirtualMfaDeviceRegistration",
            "ListMfaDevicesForUser",
            "DeleteMfaDeviceForUser",
            "DescribeDirectory",
            "CreateExternalIdPConfigurationForDirectory",
            "UpdateExternalIdPConfigurationForDirectory",
            "DeleteExternalIdPConfigurationForDirectory",
            "EnableExternalIdPConfigurationForDirectory",
            "DisableExternalIdPConfigurationForDirectory",
            "ImportExternalIdPCertificate",
        }
    ),
    # CloudShell has no SDK model; these are the calls its console makes.
    "cloudshell.amazonaws.com": frozenset(
        {
            "CreateEnvironment",
            "CreateSession",
            "DeleteEnvironment",
            "DeleteSession",
            "DescribeEnvironments",
            "GetEnvironmentStatus",
            "GetFileDownloadUrls",
            "GetFileUploadUrls",
            "PutCredentials",
            "RedeemCode",
            "SendHeartBeat",
            "StartEnvironment",
            "StopEnvironment",
        }
    ),
    # Billing console. The legacy aws-portal names are its IAM actions; both lists are partial.
    "aws-portal.amazonaws.com": frozenset(
        {
            "ViewAccount",
            "ModifyAccount",
            "ViewBilling",
            "ModifyBilling",
            "ViewPaymentMethods",
            "ModifyPaymentMethods",
            "ViewUsage",
        }
    ),
    "billingconsole.amazonaws.com": frozenset(
        {
            "AcceptFxPaymentCurrencyTermsAndConditions",
            "CloseAccount",
            "EnableBillingAlerts",
            "GetAccountEDPStatus",
            "GetBillsForBillingPeriod",
            "GetConsolidatedBillingFamilySummary",
            "GetCreditsForBillingPeriod",
            "GetTotal",
            "RedeemCredits",
            "SetAccountPreferences",
            "SetAdditionalContacts",
            "SetContactAddress",
            "SetCreditSharing",
            "SetDefaultPaymentMethod",
            "SetIAMAccessPreference",
            "SetPayInformation",
            "SetRISharing",
            "SetSecurityQuestions",
            "SetTaxRegistration",
            "UpdateCostAllocationTags",
            "ValidateAddress",
        }
    ),
    # Someone copied a shared snapshot or made a volume from it (AwsServiceEvent).
    "ec2.amazonaws.com": frozenset({"SharedSnapshotCopyInitiated", "SharedSnapshotVolumeCreated"}),
    # Automatic rotation and the end of a scheduled deletion (AwsServiceEvent).
    "kms.amazonaws.com": frozenset({"RotateKey", "DeleteExpiredKeyMaterial"}),
    "secretsmanager.amazonaws.com": frozenset(
        {
            "RotationStarted",
            "RotationSucceeded",
            "RotationFailed",
            "RotationAbandoned",
            "StartSecretVersionDelete",
            "EndSecretVersionDelete",
            "CancelSecretVersionDelete",
            "ReplicationStarted",
            "ReplicationSucceeded",
            "ReplicationFailed",
        }
    ),
    "organizations.amazonaws.com": frozenset({"CreateAccountResult"}),
    # Calls the SSM Agent makes to register and report, and its Session Manager channels.
    "ssm.amazonaws.com": frozenset(
        {
            "RegisterManagedInstance",
            "UpdateInstanceInformation",
            "ListInstanceAssociations",
            "UpdateInstanceAssociationStatus",
        }
    ),
    "ec2messages.amazonaws.com": frozenset(
        {
            "AcknowledgeMessage",
            "DeleteMessage",
            "FailMessage",
            "GetEndpoint",
            "GetMessages",
            "SendReply",
        }
    ),
    "ssmmessages.amazonaws.com": frozenset(
        {"CreateControlChannel", "CreateDataChannel", "OpenControlChannel", "OpenDataChannel"}
    ),
    # Console-only calls seen in real trails.
    "bedrock.amazonaws.com": frozenset({"PutFoundationModelEntitlement"}),
    "discovery-marketplace.amazonaws.com": frozenset({"GetListingView"}),
    "rds.amazonaws.com": frozenset({"DescribeRecommendationGroups", "DescribeRecommendations"}),
    # STS token for CodeArtifact and friends, not in the STS model.
    "sts.amazonaws.com": frozenset({"GetServiceBearerToken"}),
    # CloudTrail keeps S3's older names where the SDK renamed the operation
    # (PutPublicAccessBlock, GetBucketAccelerateConfiguration, ...), and logs console internals.
    "s3.amazonaws.com": frozenset(
        {
            "PutBucketPublicAccessBlock",
            "GetBucketPublicAccessBlock",
            "DeleteBucketPublicAccessBlock",
            "PutAccountPublicAccessBlock",
            "GetAccountPublicAccessBlock",
            "DeleteAccountPublicAccessBlock",
            "PutBucketObjectLockConfiguration",
            "GetBucketObjectLockConfiguration",
            "PutAccelerateConfiguration",
            "GetAccelerateConfiguration",
            "GetStorageLensDashboardDataInternal",
        }
    ),
}


def _wildcard(value: str) -> bool:
    return "*" in value or "?" in value


@functools.lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> Any:
    """A wildcard name as an RE2 regex over `_lines`: one linear scan instead of one per name."""
    body = "".join(
        "[^\n]*" if char == "*" else "[^\n]" if char == "?" else re2.escape(char)
        for char in pattern
    )
    return re2.compile(f"(?m)^{body}$")


@functools.lru_cache(maxsize=64)
def _lines(names: frozenset[str]) -> str:
    return "\n".join(sorted(names))


@dataclass(frozen=True)
class ApiCatalogue:
    """Known event sources and, for each, the event names CloudTrail records under it."""

    operations_by_source: Mapping[str, frozenset[str]] = field(repr=False)
    _names: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)
    _all_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _spelling: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compare case-insensitively (Sigma does); keep one spelling each to suggest.
        names = {
            source.lower(): frozenset(n.lower() for n in ops)
            for source, ops in self.operations_by_source.items()
        }
        spelling = {n.lower(): n for ops in self.operations_by_source.values() for n in ops}
        spelling.update((s.lower(), s) for s in self.operations_by_source)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_all_names", frozenset().union(*names.values()))
        object.__setattr__(self, "_spelling", spelling)

    def knows_source(self, event_source: str) -> bool:
        """True if CloudTrail records events under this source (or, with wildcards, any match)."""
        return bool(self._sources_matching(event_source))

    def knows_name(self, event_name: str, event_source: str | None = None) -> bool:
        """True if the name is an event of that source, or of any source if it is None/unknown."""
        names = self._names_for(event_source)
        name = event_name.lower()
        if _wildcard(name):
            return _wildcard_regex(name).search(_lines(names)) is not None
        if name in names:
            return True
        base = _API_VERSION_SUFFIX.sub("", name)
        return base != name and base in names

    def suggest_source(self, event_source: str) -> str | None:
        """The closest known source, for a "did you mean" hint."""
        # Sources share ".amazonaws.com", which alone makes unrelated ones look 80% alike.
        return self._closest(event_source, self._names.keys(), cutoff=0.9)

    def suggest_name(self, event_name: str, event_source: str | None = None) -> str | None:
        """The closest known name of that source (or of any source), for a "did you mean" hint."""
        return self._closest(event_name, self._names_for(event_source), cutoff=0.8)

    def _sources_matching(self, event_source: str) -> list[str]:
        source = event_source.lower()
        if _wildcard(source):
            return [known for known in self._names if fnmatchcase(known, source)]
        return [source] if source in self._names else []

    def _names_for(self, event_source: str | None) -> frozenset[str]:
        sources = self._sources_matching(event_source) if event_source is not None else []
        if not sources:
            return self._all_names
        return frozenset().union(*(self._names[s] for s in sources))

    def _closest(self, value: str, candidates: Iterable[str], cutoff: float) -> str | None:
        if _wildcard(value):
            return None
        matches = difflib.get_close_matches(value.lower(), list(candidates), n=1, cutoff=cutoff)
        return self._spelling[matches[0]] if matches else None


@functools.cache
def load_catalogue() -> ApiCatalogue:
    """The catalogue from botocore's service models and the CloudTrail-only table, loaded once."""
    operations: dict[str, set[str]] = {}
    for source, names in _botocore_operations():
        operations.setdefault(source, set()).update(names)
    for source, extra in _CLOUDTRAIL_ONLY.items():
        operations.setdefault(source, set()).update(extra)
    return ApiCatalogue({source: frozenset(names) for source, names in operations.items()})


def _event_source(service: str, metadata: Mapping[str, Any]) -> str:
    """The eventSource CloudTrail gives calls to a botocore service, from its model's metadata."""
    if service in _SOURCE_BY_SERVICE:
        return _SOURCE_BY_SERVICE[service] + _DOMAIN
    prefix = str(metadata["endpointPrefix"])
    if "." in prefix and metadata.get("signingName"):
        prefix = str(metadata["signingName"])
    return prefix.lower() + _DOMAIN


def _botocore_operations() -> Iterator[tuple[str, set[str]]]:
    """Each botocore service's event source and operation names (the latest API version's)."""
    from botocore.loaders import JSONFileLoader, Loader

    class OperationsFileLoader(JSONFileLoader):
        """Reads a model into plain dicts and keeps only its metadata and operation names.

        botocore's own loader builds OrderedDicts and caches whole models (shapes, docs): for
        every service that is several times slower and holds ~300 MB.
        """

        def load_file(self, file_path: str) -> Any:
            for suffix, read in ((".json", Path.read_bytes), (".json.gz", _read_gzip)):
                path = Path(file_path + suffix)
                if path.is_file():
                    return _slim(json.loads(read(path)))
            return None

    loader = Loader(file_loader=OperationsFileLoader())
    for service in loader.list_available_services("service-2"):
        model = loader.load_service_model(service, "service-2")
        operations: Mapping[str, Mapping[str, Any]] = model["operations"]
        # The key is the SDK's name; `name` is the wire name CloudTrail logs, where they differ.
        names = set(operations) | {str(op.get("name", key)) for key, op in operations.items()}
        yield _event_source(service, model["metadata"]), names


def _slim(model: Any) -> Any:
    if not isinstance(model, dict) or "operations" not in model:
        return model
    operations = {key: {"name": op.get("name", key)} for key, op in model["operations"].items()}
    return {"metadata": model.get("metadata", {}), "operations": operations}


def _read_gzip(path: Path) -> bytes:
    with gzip.open(path, "rb") as f:
        return f.read()

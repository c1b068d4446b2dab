"""template.yaml deployed to moto server, as `sam package` and `sam deploy` would deploy it.

aws-sam-translator (in .venv-sam: it pins an older pydantic) turns the SAM template into
CloudFormation, with the function's and the layer's code uploaded to S3 first, and moto's
CloudFormation creates the stack. Moto's CloudFormation skips some resource types and some
properties; `Deployment` creates those through the services' own APIs from the template's
properties, every intrinsic function resolved, so what exists is what the template says.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SAM_PYTHON = REPO / ".venv-sam" / "bin" / "python"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ARTIFACTS_BUCKET = "sam-artifacts"
NO_VALUE = object()
"""`Ref: AWS::NoValue`: the property is left out."""


def translate(parameters: Mapping[str, str], code: str, layer: str) -> dict[str, Any]:
    """The SAM template as CloudFormation JSON, with the code at the given s3:// locations."""
    command = [
        str(SAM_PYTHON),
        str(REPO / "tools" / "build" / "sam_translate.py"),
        str(TEMPLATE),
        f"--region={REGION}",
        f"--code={code}",
        f"--layer={layer}",
        *(f"--parameter={name}={value}" for name, value in parameters.items()),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"sam_translate.py failed:\n{done.stderr}")
    translated: dict[str, Any] = json.loads(done.stdout)
    return translated


def zip_tree(source: Path, target: Path) -> Path:
    """A zip of everything under `source`, paths relative to it, as Lambda unpacks it."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(source))
    return target


@dataclass
class Deployment:
    """One stack of the template in moto server, and the template's values resolved for it."""

    name: str
    session: boto3.Session
    endpoint: str
    template: dict[str, Any]
    parameters: dict[str, str]
    physical_ids: dict[str, str] = field(default_factory=dict)
    created_here: dict[str, str] = field(default_factory=dict)
    """Resources moto's CloudFormation skipped, created by this class: logical id -> type."""

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resources(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The template's resources whose condition holds for this stack's parameters."""
        for logical_id, resource in self.template["Resources"].items():
            if "Condition" not in resource or self.condition(resource["Condition"]):
                yield logical_id, resource

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties, every intrinsic function resolved."""
        resolved: dict[str, Any] = self.resolve(
            self.template["Resources"][logical_id].get("Properties", {})
        )
        return resolved

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs whose condition holds, resolved."""
        return {
            name: self.resolve(output["Value"])
            for name, output in self.template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def of_type(self, resource_type: str) -> list[str]:
        return [name for name, resource in self.resources() if resource["Type"] == resource_type]

    def parameter(self, name: str) -> Any:
        declared = self.template["Parameters"][name]
        value = self.parameters.get(name, str(declared.get("Default", "")))
        if declared["Type"] == "CommaDelimitedList":
            return [part.strip() for part in value.split(",")]
        if declared["Type"] == "Number":
            return int(value)
        return value

    def resolve(self, value: Any) -> Any:
        """`value` with Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Join and the condition functions
        evaluated, and AWS::NoValue left out."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self.ref,
            "Fn::GetAtt": lambda argument: self.attribute(*argument),
            "Fn::Sub": self._sub,
            "Fn::If": self._if,
            "Fn::Join": lambda argument: argument[0].join(self.resolve(argument[1])),
            "Fn::Equals": lambda argument: self._equals(*self.resolve(argument)),
            "Fn::Not": lambda argument: not self.resolve(argument[0]),
            "Fn::And": lambda argument: all(self.resolve(item) for item in argument),
            "Fn::Or": lambda argument: any(self.resolve(item) for item in argument),
            "Condition": self.condition,
        }

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": self.name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        return self.physical_ids[name]

    def attribute(self, logical_id: str, name: str) -> str:
        """Fn::GetAtt, asked of the service that holds the resource."""
        physical = self.physical_ids[logical_id]
        kind = self.template["Resources"][logical_id]["Type"]
        readers: dict[tuple[str, str], Callable[[], str]] = {
            ("AWS::KMS::Key", "Arn"): lambda: self.client("kms").describe_key(KeyId=physical)[
                "KeyMetadata"
            ]["Arn"],
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:aws:s3:::{physical}",
            ("AWS::Logs::LogGroup", "Arn"): lambda: (
                f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}:*"
            ),
            ("AWS::IAM::Role", "Arn"): lambda: self.client("iam").get_role(RoleName=physical)[
                "Role"
            ]["Arn"],
            ("AWS::SNS::Topic", "TopicName"): lambda: physical.rsplit(":", 1)[1],
            ("AWS::SQS::Queue", "Arn"): lambda: self.client("sqs").get_queue_attributes(
                QueueUrl=physical, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"],
            ("AWS::SQS::Queue", "QueueName"): lambda: physical.rsplit("/", 1)[1],
            ("AWS::DynamoDB::Table", "Arn"): lambda: self.client("dynamodb").describe_table(
                TableName=physical
            )["Table"]["TableArn"],
            ("AWS::Lambda::Function", "Arn"): lambda: self.client("lambda").get_function(
                FunctionName=physical
            )["Configuration"]["FunctionArn"],
            ("AWS::CloudTrail::Trail", "Arn"): lambda: self.client("cloudtrail").get_trail(
                Name=physical
            )["Trail"]["TrailARN"],
        }
        return readers[(kind, name)]()

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(value) for name, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                return self.attribute(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)

    def _if(self, argument: list[Any]) -> Any:
        condition, when_true, when_false = argument
        return self.resolve(when_true if self.condition(condition) else when_false)

    @staticmethod
    def _equals(left: Any, right: Any) -> bool:
        return str(left) == str(right)


@dataclass(frozen=True)
class LocalEndpoints:
    """Where the test receives what the template sends elsewhere.

    `subscriber` maps a subscription's (protocol, endpoint) to the test's HTTP server (it has
    no TLS certificate, so https becomes http); `log_destination` is the Kinesis stream and
    role that receive the log group's subscription instead of the function, which moto cannot
    invoke without Docker.
    """

    subscriber: Callable[[str, str], tuple[str, str]]
    log_destination: tuple[str, str]


def deploy(
    name: str,
    parameters: Mapping[str, str],
    endpoint: str,
    work: Path,
    local: LocalEndpoints,
) -> Deployment:
    """Package, translate and create the stack, then what moto's CloudFormation skipped."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    s3 = session.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    code_key, layer_key = f"{name}/function.zip", f"{name}/rules-layer.zip"
    s3.upload_file(
        str(zip_tree(REPO / "functions", work / "function.zip")), ARTIFACTS_BUCKET, code_key
    )
    s3.upload_file(
        str(zip_tree(build_rules_layer(work / "layer"), work / "layer.zip")),
        ARTIFACTS_BUCKET,
        layer_key,
    )
    template = translate(
        parameters, f"s3://{ARTIFACTS_BUCKET}/{code_key}", f"s3://{ARTIFACTS_BUCKET}/{layer_key}"
    )
    cloudformation = session.client("cloudformation", endpoint_url=endpoint, region_name=REGION)
    # Moto checks the outputs' Fn::GetAtt against the resource types it knows, and so fails on
    # the trail's; `Deployment.outputs` resolves them once every resource exists.
    submitted = {key: value for key, value in template.items() if key != "Outputs"}
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(submitted),
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {name}: {status}")
    deployment = Deployment(name, session, endpoint, template, dict(parameters))
    for resource in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]:
        deployment.physical_ids[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    for logical_id in deployment.of_type("AWS::KMS::Key"):
        _key_policy(deployment, logical_id)
    for logical_id, resource in deployment.resources():
        if logical_id not in deployment.physical_ids:
            create = CREATORS.get(resource["Type"])
            if create is None:
                raise NotImplementedError(
                    f"moto's CloudFormation skipped {logical_id} ({resource['Type']}); "
                    "add a creator for its type to stack_deployment.CREATORS"
                )
            deployment.physical_ids[logical_id] = create(deployment, logical_id, local)
            deployment.created_here[logical_id] = resource["Type"]
    for logical_id in deployment.of_type("AWS::DynamoDB::Table"):
        _table_settings(deployment, logical_id)
    return deployment


def build_rules_layer(target: Path) -> Path:
    """The rules layer's content, by the Makefile target that `sam build` runs for it."""
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(REPO),
            "build-RulesLayer",
            f"ARTIFACTS_DIR={target}",
        ],
        check=True,
        capture_output=True,
    )
    return target


Creator = Callable[[Deployment, str, LocalEndpoints], str]


def _trail(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    cloudtrail = deployment.client("cloudtrail")
    options = {
        "Name": properties["TrailName"],
        "S3BucketName": properties["S3BucketName"],
        "IsMultiRegionTrail": properties["IsMultiRegionTrail"] == "true",
        "IncludeGlobalServiceEvents": properties["IncludeGlobalServiceEvents"],
        "EnableLogFileValidation": properties["EnableLogFileValidation"],
        "CloudWatchLogsLogGroupArn": properties["CloudWatchLogsLogGroupArn"],
        "CloudWatchLogsRoleArn": properties["CloudWatchLogsRoleArn"],
    }
    if "KMSKeyId" in properties:
        options["KmsKeyId"] = properties["KMSKeyId"]
    cloudtrail.create_trail(**options)
    if properties["IsLogging"]:
        cloudtrail.start_logging(Name=properties["TrailName"])
    return str(properties["TrailName"])


def _bucket_policy(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    deployment.client("s3").put_bucket_policy(
        Bucket=properties["Bucket"], Policy=json.dumps(properties["PolicyDocument"])
    )
    return f"{deployment.name}-{logical_id}"


def _topic_policy(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    for topic in properties["Topics"]:
        deployment.client("sns").set_topic_attributes(
            TopicArn=topic,
            AttributeName="Policy",
            AttributeValue=json.dumps(properties["PolicyDocument"]),
        )
    return f"{deployment.name}-{logical_id}"


def _queue_policy(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    for queue in properties["Queues"]:
        deployment.client("sqs").set_queue_attributes(
            QueueUrl=queue, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
        )
    return f"{deployment.name}-{logical_id}"


def _subscription(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    protocol, endpoint = local.subscriber(properties["Protocol"], properties["Endpoint"])
    attributes = {}
    if "FilterPolicy" in properties:
        attributes["FilterPolicy"] = json.dumps(properties["FilterPolicy"])
        attributes["FilterPolicyScope"] = properties.get("FilterPolicyScope", "MessageAttributes")
    subscription = deployment.client("sns").subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return str(subscription["SubscriptionArn"])


def _subscription_filter(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    name = f"{deployment.name}-{logical_id}"
    stream_arn, role_arn = local.log_destination
    deployment.client("logs").put_subscription_filter(
        logGroupName=properties["LogGroupName"],
        filterName=name,
        filterPattern=properties["FilterPattern"],
        destinationArn=stream_arn,
        roleArn=role_arn,
    )
    return name


def _event_invoke_config(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    deployment.client("lambda").put_function_event_invoke_config(
        FunctionName=properties["FunctionName"],
        Qualifier=properties["Qualifier"],
        MaximumRetryAttempts=properties["MaximumRetryAttempts"],
        MaximumEventAgeInSeconds=properties["MaximumEventAgeInSeconds"],
        DestinationConfig=properties["DestinationConfig"],
    )
    return f"{deployment.name}-{logical_id}"


def _alarm(deployment: Deployment, logical_id: str, local: LocalEndpoints) -> str:
    properties = deployment.properties(logical_id)
    name = f"{deployment.name}-{logical_id}"
    deployment.client("cloudwatch").put_metric_alarm(AlarmName=name, **properties)
    return name


CREATORS: dict[str, Creator] = {
    "AWS::CloudTrail::Trail": _trail,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SNS::Subscription": _subscription,
    "AWS::Logs::SubscriptionFilter": _subscription_filter,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::CloudWatch::Alarm": _alarm,
}
"""The resource types moto's CloudFormation skips, created through their own APIs."""


def _table_settings(deployment: Deployment, logical_id: str) -> None:
    """The table's TTL and point-in-time recovery, which moto's CloudFormation ignores."""
    properties = deployment.properties(logical_id)
    dynamodb = deployment.client("dynamodb")
    table = deployment.physical_ids[logical_id]
    if "TimeToLiveSpecification" in properties:
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification=properties["TimeToLiveSpecification"]
        )
    if "PointInTimeRecoverySpecification" in properties:
        dynamodb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification=properties["PointInTimeRecoverySpecification"],
        )


def _key_policy(deployment: Deployment, logical_id: str) -> None:
    """The key policy again: moto's CloudFormation stores it as an object, not as JSON text."""
    properties = deployment.properties(logical_id)
    deployment.client("kms").put_key_policy(
        KeyId=deployment.physical_ids[logical_id],
        PolicyName="default",
        Policy=json.dumps(properties["KeyPolicy"]),
    )

"""Print the SAM template as the CloudFormation JSON that `sam deploy` would submit.

Runs in .venv-sam: aws-sam-translator pins an older pydantic than trailhound's. The local
CodeUri and ContentUri are replaced by the S3 locations given, as `sam package` does.

    .venv-sam/bin/python tools/build/sam_translate.py template.yaml --region us-east-1 \\
        --code s3://bucket/function.zip --layer s3://bucket/rules.zip [--parameter Name=Value]...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import (  # type: ignore[import-not-found,unused-ignore]
    transform,
)
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-not-found,unused-ignore]


class NoManagedPolicies:
    """The template names managed policies by ARN, so no IAM look-up by name is needed."""

    def load(self) -> dict[str, str]:
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("--region", required=True)
    parser.add_argument("--code", required=True, help="s3:// location of the function's zip")
    parser.add_argument("--layer", required=True, help="s3:// location of the rules layer's zip")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)

    template: dict[str, Any] = yaml_parse(args.template.read_text(encoding="utf-8"))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = args.code
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = args.layer
    parameters = dict(item.split("=", 1) for item in args.parameter)
    # The translator builds ARNs for the Region of its boto session.
    os.environ["AWS_DEFAULT_REGION"] = args.region
    translated = transform(template, parameters, NoManagedPolicies())
    json.dump(translated, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

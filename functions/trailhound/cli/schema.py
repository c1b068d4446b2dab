"""`trailhound schema`: the JSON Schema of rule and filter files, for editors."""

from __future__ import annotations

import argparse
import json

from trailhound.cli.arguments import Commands


def add_parser(commands: Commands) -> None:
    """The command's arguments."""
    schema = commands.add_parser("schema", help="print the JSON Schema of rule files")
    schema.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the schema."""
    from trailhound.authoring.schema import rule_file_schema

    print(json.dumps(rule_file_schema(), indent=2))
    return 0

"""`trailhound bundle`: compile rule files into the bundle the Lambda loads at a cold start."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trailhound.cli.arguments import DEFAULT_RULES, Commands


def add_parser(commands: Commands) -> None:
    """The command's arguments."""
    bundle = commands.add_parser(
        "bundle",
        help="compile rule files into a bundle that the Lambda loads at a cold start",
        description="Loads the rules as the Lambda would and writes them, compiled, to one file. "
        "The Lambda uses the bundle (one of RULES_BUNDLES) built from its rule folders "
        "(RULES_PATHS) while every rule file is unchanged; otherwise it loads the files.",
    )
    bundle.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    bundle.add_argument("-o", "--output", type=Path, required=True, help="the bundle file to write")
    bundle.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the bundle; exit 1 if a rule does not load."""
    from trailhound.authoring.bundle import write_bundle

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

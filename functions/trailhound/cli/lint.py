"""`trailhound lint`: check rule files before they are deployed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trailhound.cli.arguments import DEFAULT_RULES, Commands


def add_parser(commands: Commands) -> None:
    """The command's arguments."""
    lint = commands.add_parser(
        "lint", help="check rule files: YAML, Sigma, trailhound keys, API names, regexes"
    )
    lint.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    lint.add_argument(
        "--strict", action="store_true", help="fail on warnings too (unknown API names)"
    )
    lint.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Lint the rules; exit 1 on errors (and on warnings with --strict)."""
    from trailhound.authoring.lint import lint

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

"""The `trailhound` command: lint and test rules, replay CloudTrail events, bundle, schema.

One module per command, each with `add_parser` (its arguments) and `run` (what it does); each
imports what it needs when it runs, so `trailhound --help` starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trailhound import __version__
from trailhound.cli import bundle, lint, replay, schema, test


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: the process's); returns the exit status."""
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
    for command in (lint, test, replay, bundle, schema):
        command.add_parser(commands)
    return parser

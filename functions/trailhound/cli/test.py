"""`trailhound test`: run the inline tests of rule files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trailhound.cli.arguments import DEFAULT_RULES, Commands


def add_parser(commands: Commands) -> None:
    """The command's arguments."""
    test = commands.add_parser("test", help="run the inline tests of rule files")
    test.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    test.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run every inline test; the last line is "N passed, M failed"."""
    from trailhound.authoring.loader import load_rules
    from trailhound.authoring.ruletests import run_rule_tests

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
    untested = [compiled.rule_id for compiled in rules if not compiled.tests]
    if untested:
        print(f"rules without tests: {', '.join(untested)}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0

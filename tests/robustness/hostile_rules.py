"""Hostile rule files against `lint` and the loader: each is refused with a clear error, fast.

Rule files come from pull requests and shared packs, so a file is input like any other: an
alias bomb, a megabyte of YAML, a condition nested a thousand deep or a backtracking regex must
neither hang `lint` nor, in the Lambda, stop the other rules from loading. Each case runs in
its own process with a timeout, which reports its wall time, the peak memory Python allocated
(tracemalloc) and the process's peak resident size; then one `load_rules` over a folder of every
hostile file beside the repository's rules shows the good rules all load.

    .venv/bin/python -m tests.robustness.hostile_rules [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailhound.authoring.catalogue import load_catalogue
from trailhound.authoring.lint import lint
from trailhound.authoring.loader import load_rules

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"

HEADER = "title: Hostile rule\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: high\n"
SELECTION = "detection:\n  selection:\n    eventName: DeleteBucket\n"
ADVERSARIAL_TEXT = "a" * 100_000 + "!"
"""What makes a backtracking engine take exponential (or quadratic) time on the regexes below."""


def _rule(detection: str) -> bytes:
    return (HEADER + detection).encode()


def _condition(condition: str) -> bytes:
    return _rule(f"{SELECTION}  condition: {condition}\n")


def _regex(pattern: str) -> bytes:
    return _rule(
        f"detection:\n  selection:\n    userAgent|re: '{pattern}'\n  condition: selection\n"
    )


def _alias_bomb() -> bytes:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    return _rule(f"{SELECTION}  condition: selection\n") + ("\n".join(levels) + "\n").encode()


def _selections(count: int) -> bytes:
    body = "".join(f"  selection_{index}:\n    eventName: Api{index}\n" for index in range(count))
    return _rule(f"detection:\n{body}  condition: 1 of selection_*\n")


def _block_list(count: int) -> bytes:
    values = "".join(f"      - DeleteBucket{index}\n" for index in range(count))
    return _rule(f"detection:\n  selection:\n    eventName:\n{values}  condition: selection\n")


@dataclass(frozen=True)
class Case:
    """A hostile rule file and the fragment of the error that must refuse it (None: loads)."""

    name: str
    content: Callable[[], bytes]
    refusal: str | None


CASES = (
    Case("alias bomb (9^9 strings)", _alias_bomb, "anchors and aliases are not allowed"),
    Case(
        "1 MB file",
        lambda: _condition("selection") + b"# padding\n" * 100_000,
        "a rule file may hold at most 262,144",
    ),
    Case(
        "non-UTF-8 bytes",
        lambda: _rule("detection:\n  selection:\n    userAgent: caf\xe9\n").replace(
            b"\xc3\xa9", b"\xe9"
        ),
        "not valid UTF-8",
    ),
    Case("NUL and control bytes", lambda: _condition("selection\x00\x07"), "invalid YAML"),
    Case(
        "python object tag",
        lambda: _condition("selection") + b"runbook: !!python/object/apply:os.system [id]\n",
        "invalid YAML",
    ),
    Case(
        "YAML nested 120,000 deep",
        lambda: _rule(SELECTION) + b"description: " + b"[" * 120_000 + b"]" * 120_000,
        # Ours ("nesting deeper than 32 levels") or, first, libyaml's own limit since 0.2.6.
        "nesting",
    ),
    Case(
        "100,000-value flow list",
        lambda: _rule(
            "detection:\n  selection:\n    eventName: ["
            + ",".join(["a"] * 100_000)
            + "]\n  condition: selection\n"
        ),
        "more than 20,000 YAML values",
    ),
    Case("6,000-value list", lambda: _block_list(6_000), "a rule may have at most 5,000"),
    Case("1 of 3,000 selections", lambda: _selections(3_000), "a rule may have at most 5,000"),
    Case("not x 1,000", lambda: _condition("not " * 1_000 + "selection"), "nests 1000 levels"),
    Case(
        "brackets x 1,000",
        lambda: _condition("(" * 1_000 + "selection" + ")" * 1_000),
        "nests 1000 levels",
    ),
    Case(
        "not (...) x 150",
        lambda: _condition("not (" * 150 + "selection" + ")" * 150),
        "nests 300 levels",
    ),
    Case(
        "or x 10,000",
        lambda: _condition(" or ".join(["selection"] * 10_000)),
        "characters long; at most 4,096 are allowed",
    ),
    Case("regex backreference", lambda: _regex("(a)\\1"), "is not valid RE2"),
    Case("regex a{1000}{1000}", lambda: _regex("a{1000}{1000}"), "bad repetition operator"),
    Case("regex .{65535}", lambda: _regex(".{65535}"), "invalid repetition size"),
    Case(
        "regex nested 2,000 groups (RE2)",
        lambda: _regex("(" * 2_000 + "a" + ")" * 2_000),
        None,
    ),
    Case("regex (a+)+$ (RE2: linear)", lambda: _regex("(a+)+$"), None),
    Case("regex (x+x+)+y (RE2: linear)", lambda: _regex("(x+x+)+y"), None),
    Case(
        "200 KB string value",
        lambda: _rule(
            "detection:\n  selection:\n    userAgent|contains: '"
            + "x" * 200_000
            + "'\n  condition: selection\n"
        ),
        None,
    ),
)


@dataclass(frozen=True)
class Outcome:
    """What `lint` said about one case, and what it cost."""

    name: str
    errors: list[str]
    loaded: int
    seconds: float
    peak_bytes: int
    max_rss_kb: int
    match_seconds: float | None = None


def write_case(case: Case, folder: Path) -> Path:
    """The case's file in `folder`, named after the case."""
    slug = "".join(char if char.isalnum() else "_" for char in case.name.lower()).strip("_")
    path = folder / f"hostile_{slug}.yml"
    path.write_bytes(case.content())
    return path


def lint_file(path: Path) -> dict[str, Any]:
    """Lint one file: its errors, wall time, and (in a second run) the peak of Python's heap."""
    load_catalogue()
    started = time.perf_counter()
    report = lint([path])
    seconds = time.perf_counter() - started
    tracemalloc.start()
    lint([path])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    loaded = load_rules([path]).rules
    match_seconds = None
    if loaded:
        started = time.perf_counter()
        loaded[0].condition.predicate({"userAgent": ADVERSARIAL_TEXT, "eventName": "x"})
        match_seconds = time.perf_counter() - started
    return {
        "errors": [str(error) for error in report.errors if not error.warning],
        "loaded": len(loaded),
        "seconds": seconds,
        "peak_bytes": peak,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "match_seconds": match_seconds,
    }


def run_case(case: Case, folder: Path, timeout: float) -> Outcome:
    """Lint the case in a child process, so a hang or a crash is a finding, not the end."""
    path = write_case(case, folder)
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(case.name, [f"TIMEOUT after {timeout:.0f} s"], 0, timeout, 0, 0)
    if child.returncode != 0:
        detail = (child.stderr.strip().splitlines() or ["no output"])[-1]
        return Outcome(case.name, [f"CRASH (exit {child.returncode}): {detail}"], 0, 0, 0, 0)
    return Outcome(case.name, **json.loads(child.stdout))


def verdict(case: Case, outcome: Outcome) -> bool:
    """Refused with the expected message, or (for harmless cases) loaded without error."""
    if case.refusal is None:
        return outcome.loaded == 1 and not outcome.errors
    return outcome.loaded == 0 and any(case.refusal in error for error in outcome.errors)


def mixed_folder(folder: Path) -> tuple[int, int, int, list[str]]:
    """Every hostile file beside the repository's rules: (good rules, loaded, errors, stray)."""
    rules = folder / "rules"
    shutil.copytree(RULES, rules)
    good = len(load_rules([rules]).rules)
    for case in CASES:
        write_case(case, rules)
    result = load_rules([rules])
    hostile = {path.name for path in rules.glob("hostile_*.yml")}
    stray = [str(error) for error in result.errors if error.path.name not in hostile]
    return good, len(result.rules), len(result.errors), stray


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(lint_file(args.one)))
        return 0
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print(f"{'case':32} {'result':8} {'lint s':>7} {'heap MB':>8} {'RSS MB':>7}  error")
        for case in CASES:
            outcome = run_case(case, folder, args.timeout)
            ok = verdict(case, outcome)
            failures += not ok
            result = ("refused" if case.refusal else "loaded") if ok else "FAILED"
            message = outcome.errors[0].split(": ", 1)[-1] if outcome.errors else ""
            if outcome.match_seconds is not None:
                message = f"matches 100k chars in {outcome.match_seconds * 1000:.2f} ms"
            print(
                f"{case.name:32} {result:8} {outcome.seconds:7.2f} "
                f"{outcome.peak_bytes / 2**20:8.1f} {outcome.max_rss_kb / 1024:7.0f}  "
                f"{message[:110]}"
            )
        good, loaded, errors, stray = mixed_folder(folder)
    harmless = sum(case.refusal is None for case in CASES)
    print(
        f"\nload_rules over rules/ plus {len(CASES)} hostile files: {loaded} rules loaded "
        f"({good} good + {harmless} harmless hostile), {errors} errors, "
        f"{len(stray)} about good rules"
    )
    failures += loaded != good + harmless or bool(stray)
    print(f"{len(CASES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

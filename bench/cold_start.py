"""Cold start: a fresh Python importing the handler and loading 1,000 rules, next to `import boto3`.

Run: .venv/bin/python -m bench.cold_start [--runs N] [--rules N]

Each figure is the median wall time of --runs fresh interpreters, started one after the other in
turns (so that a busy moment hits every command alike), after one unmeasured run of each to warm
the bytecode cache and the page cache (--warmup). Every command ends with os._exit(0): a Lambda
environment is frozen, not torn down, so no command is charged for freeing its objects at exit.
The environment is Lambda's as far as the libraries look (LAMBDA_TASK_ROOT,
AWS_LAMBDA_FUNCTION_NAME): the X-Ray SDK and powertools' Tracer set up as they do there.

- `python -c pass`: the interpreter alone;
- `python -c "import boto3"`: the yardstick, what any Python Lambda function that calls AWS pays;
- trailhound: `import trailhound.lambda_function.handler`, then load and index the rules as the
  handler does at a cold start (`load_rules_or_bundle`, `RuleSet`): the rule pack and the
  SigmaHQ pack as shipped, read from their files; and a folder of 1,000 rule files (the real
  rules and the seeded variants of bench/throughput.py), read from the files and from a rule
  bundle built from them (`trailhound bundle`, as the rules layer ships);
- the whole cold start: the same with the bundle, then the handler's settings and its SNS and
  DynamoDB clients (`runtime_for`), with boto3 imported on the way.

The last lines say where the time goes: the import and the rule loading measured inside the
child, and the modules that take longest to import (python -X importtime).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.markdown import block
from bench.throughput import ROOT, write_rule_folder
from trailhound.authoring.bundle import write_bundle
from trailhound.authoring.loader import load_rules

BOTO3 = '`python -c "import boto3"`'

LOAD_RULES = """
import json, os, sys, time
start = time.perf_counter()
import trailhound.lambda_function.handler
imported = time.perf_counter()
from pathlib import Path
from trailhound.lambda_function.runtime import load_rules_or_bundle
from trailhound.engine.ruleset import RuleSet
bundles = [Path(sys.argv[1])] if sys.argv[1] != "-" else []
loaded, unused = load_rules_or_bundle([Path(path) for path in sys.argv[2:]], bundles)
ruleset = RuleSet(loaded.rules)
done = time.perf_counter()
assert not loaded.errors and unused is None, (loaded.errors[:3], unused)
print(json.dumps({"rules": len(loaded.rules), "import": imported - start, "load": done - imported}))
sys.stdout.flush()
os._exit(0)
"""

WHOLE_COLD_START = """
import os
from trailhound.lambda_function import handler
runtime = handler.runtime_for(handler.load_settings())
assert len(runtime.ruleset.rules) > 0
os._exit(0)
"""


def run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{done.stderr}")
    return elapsed, done.stdout


def import_time_by_package(command: list[str], env: dict[str, str]) -> list[tuple[str, int]]:
    """Microseconds spent importing each top-level package's own modules (python -X importtime)."""
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, int] = {}
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or not fields[0].strip().isdigit():
            continue
        # Self times add up to the whole import, so each package is charged only its own.
        package = fields[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0) + int(fields[0])
    return sorted(totals.items(), key=lambda item: -item[1])


def lambda_package(scratch: Path) -> tuple[Path, Path]:
    """The Lambda package for this machine, twice: without bytecode, as `sam build` copies it,
    and compiled as `make build` leaves it (unchecked-hash .pyc files)."""
    bare = scratch / "package"
    requirements = str(ROOT / "functions" / "requirements.txt")
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
    done = subprocess.run(
        [*install, "--target", str(bare), "-r", requirements], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"pip could not install the package's requirements:\n{done.stderr}")
    shutil.copytree(
        ROOT / "functions" / "trailhound",
        bare / "trailhound",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for cache in list(bare.rglob("__pycache__")):
        shutil.rmtree(cache)
    compiled = scratch / "package-compiled"
    shutil.copytree(bare, compiled)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(compiled),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return bare, compiled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs of each first")
    parser.add_argument("--sigma", type=Path, default=ROOT / "packs" / "sigmahq")
    parser.add_argument(
        "--package",
        action="store_true",
        help="also time the whole cold start from a package as Lambda gets it, with and without "
        "its bytecode (installs the package's requirements into a scratch folder with pip)",
    )
    args = parser.parse_args()

    python = sys.executable
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "functions"),
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:trailhound-alerts",
        "IDEMPOTENCY_TABLE": "trailhound-ledger",
        "POWERTOOLS_SERVICE_NAME": "trailhound",
        "POWERTOOLS_METRICS_NAMESPACE": "trailhound",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
        "AWS_LAMBDA_FUNCTION_NAME": "trailhound-alerts",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as template.yaml sets it
    }
    real = load_rules([ROOT / "rules", args.sigma]).rules
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch, "rules")
        folder.mkdir()
        paths = write_rule_folder(real, folder, args.rules)
        bundle = Path(scratch, "rules.bundle.json")
        write_bundle(bundle, [folder])
        env["RULES_PATHS"] = str(folder)
        env["RULES_BUNDLES"] = str(bundle)
        packs = [str(ROOT / "rules"), str(args.sigma)]
        thousand = f"{len(paths):,}"
        from_bundle = (
            f"import the handler, load {thousand} rules from a rule bundle (as the Lambda does)"
        )
        commands = {
            "`python -c pass`": [python, "-c", "import os; os._exit(0)"],
            BOTO3: [python, "-c", "import os, boto3; os._exit(0)"],
            "import the handler, load the rule pack and the SigmaHQ pack from their files "
            f"({len(real)} rules)": [
                python,
                "-c",
                LOAD_RULES,
                "-",
                *packs,
            ],
            f"import the handler, load {thousand} rules from their files": [
                python,
                "-c",
                LOAD_RULES,
                "-",
                str(folder),
            ],
            from_bundle: [python, "-c", LOAD_RULES, str(bundle), str(folder)],
            "the same, then the settings and the SNS and DynamoDB clients (the whole "
            "`runtime_for`)": [python, "-c", WHOLE_COLD_START],
        }
        extra: dict[str, dict[str, str]] = {}
        if args.package:
            bare, compiled = lambda_package(Path(scratch))
            # Lambda's code folder is read-only: nothing compiled at a cold start is kept.
            for label, folder_of_code in (
                (
                    "the whole cold start from a package without bytecode (as sam build makes it)",
                    bare,
                ),
                (
                    "the whole cold start from the package with its bytecode (as make build "
                    "makes it)",
                    compiled,
                ),
            ):
                commands[label] = [python, "-c", WHOLE_COLD_START]
                extra[label] = {
                    "PYTHONPATH": str(folder_of_code),
                    "LAMBDA_TASK_ROOT": str(folder_of_code),
                    "PYTHONDONTWRITEBYTECODE": "1",
                }
        times: dict[str, list[float]] = {label: [] for label in commands}
        inside: dict[str, list[dict[str, float]]] = {label: [] for label in commands}
        for _ in range(args.warmup):
            for label, command in commands.items():
                run(command, {**env, **extra.get(label, {})})
        for _ in range(args.runs):
            for label, command in commands.items():
                elapsed, output = run(command, {**env, **extra.get(label, {})})
                times[label].append(elapsed)
                if command[2] is LOAD_RULES:
                    inside[label].append(json.loads(output))
        imports = import_time_by_package(commands[from_bundle], env)

    median = {label: statistics.median(values) for label, values in times.items()}
    boto3 = median[BOTO3]
    print(f"median of {args.runs} fresh interpreters each; Python {sys.version.split()[0]}\n")
    rows = [[label, f"{median[label]:.3f}", f"{median[label] / boto3:.2f}"] for label in times]
    intro = f"Median of {args.runs} runs:"
    print(block("cold-start", ["command", "seconds", "× `import boto3`"], rows, intro=intro))
    print("\ninside the trailhound children (median):")
    for label, children in inside.items():
        if children:
            imported = statistics.median(child["import"] for child in children)
            loaded = statistics.median(child["load"] for child in children)
            print(
                f"  {label:<40} import {imported:.3f} s, "
                f"load and index {children[0]['rules']:,.0f} rules {loaded:.3f} s"
            )
    total = sum(micros for _package, micros in imports)
    print(
        f"importing the handler: {total / 1e6:.3f} s, of which (python -X importtime, self times):"
    )
    for package, micros in imports[:10]:
        print(f"  {package:<28}{micros / 1e6:>7.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Each benchmark script runs to the end on a handful of events: the figures are not checked,
only that the scripts still work with the code they measure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SAMPLES = ["ec2_terminate_instances.json", "s3_delete_bucket.json", "s3_create_bucket.json"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of three sample events, one JSON line each."""
    folder = tmp_path_factory.mktemp("corpus")
    lines = [
        json.dumps(json.loads((REPO / "events" / "cloudtrail" / name).read_text()))
        for name in SAMPLES
    ]
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def bench(script: str, *arguments: str) -> str:
    module = "bench." + script.removesuffix(".py")
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_throughput_compares_the_handler_path_with_the_decode_floor(corpus: Path) -> None:
    output = bench(
        "throughput.py",
        f"--corpus={corpus}",
        f"--sigma={REPO / 'packs' / 'sigmahq'}",
        "--repeat=1",
        "--rule-counts=10,200",
    )
    assert "3 real CloudTrail events" in output
    assert "trailhound, 200 rules" in output


def test_comparison_runs_the_three_evaluators_and_lists_disagreements(corpus: Path) -> None:
    output = bench("comparison.py", f"--corpus={corpus}", "--repeat=1", "--batch=2")
    assert "pySigma tree walk" in output
    assert "disagreements" in output


def test_cold_start_times_fresh_interpreters() -> None:
    output = bench(
        "cold_start.py",
        "--runs=1",
        "--warmup=0",
        "--rules=200",
        f"--sigma={REPO / 'packs' / 'sigmahq'}",
    )
    assert 'python -c "import boto3"' in output
    assert "load 200 rules from a rule bundle" in output


def test_memory_measures_a_payload_and_prices_a_million_events(corpus: Path) -> None:
    output = bench("memory.py", f"--corpus={corpus}", "--limit=20000")
    assert "peak resident" in output
    assert "CloudWatch Logs ingestion" in output


def test_throughput_variants_watch_calls_that_change_something(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The larger rule sets' variants look like detections: each pins catalogued write calls."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    import throughput

    from trailhound.authoring.catalogue import load_catalogue
    from trailhound.authoring.loader import load_rules

    real = load_rules([REPO / "rules"]).rules
    catalogue = load_catalogue()
    _, paths = throughput._variants(real, tmp_path, 200)
    variants = load_rules(paths)
    assert not variants.errors
    assert len(variants.rules) == 200
    write_calls = {
        name.lower()
        for names in catalogue.operations_by_source.values()
        for name in names
        if not name.startswith(throughput.READ_PREFIXES)
    }
    for compiled in variants.rules:
        requirement = compiled.condition.requirement
        assert requirement is not None, compiled.rule_id
        if requirement.field == "eventName":
            assert {value.lower() for value in requirement.values} <= write_calls


def test_the_handler_bench_drives_lambda_handler_on_each_set_and_the_worst_case() -> None:
    output = bench(
        "handler.py",
        f"--corpus={REPO / 'tests' / 'data' / 'corpus'}",
        "--passes=1",
        "--invocation-bytes=20000",
    )
    assert "<!-- bench:handler -->" in output and "<!-- bench:worst-case -->" in output
    assert "quiet: corpus events that match no rule" in output
    assert "sns.PublishBatch" in output and "dynamodb.TransactWriteItems" in output

"""pysigma-backend-duckdb evaluating Sigma rules on batches of CloudTrail events, for comparison.py.

Runs in its own environment (`make install-bench` makes .venv-bench): the backend requires
pySigma below 2, while trailhound runs on pySigma 2. It does not import trailhound.

    .venv-bench/bin/python bench/duckdb_evaluator.py RULES_DIR BATCH.jsonl... [--repeat N]

Each rule is converted to DuckDB SQL by the backend as it is (`SELECT * FROM logs WHERE ...`).
Each batch, a file of JSON lines, becomes the table `logs` with one column per field the rules
name (the column named as the rule names the field, which is how the backend's SQL refers to
it), filled by one `json_extract_string` of all their dotted paths per event (three times faster
than one call per field); then one query, the UNION ALL of every rule's, returns the matching
(rule, eventID) pairs. DuckDB runs on one thread, like the Python evaluators. Prints JSON:
conversion errors, seconds per pass over all batches (in total and loading the table), and the
matches.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb  # type: ignore[import-not-found,unused-ignore]
from sigma.rule import SigmaDetection, SigmaRule  # type: ignore[import-not-found,unused-ignore]
from sigma.types import SigmaFieldReference  # type: ignore[import-not-found,unused-ignore]
from sigma_backend_duckdb import DuckDBBackend  # type: ignore[import-not-found,unused-ignore]


def fields_of(detection: Any) -> Iterator[str]:
    """Every field a detection names, fields referred to by `fieldref` included."""
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from fields_of(item)
            continue
        if item.field:
            yield item.field
        for value in item.value:
            if isinstance(value, SigmaFieldReference):
                yield value.field


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", type=Path)
    parser.add_argument("batches", type=Path, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    backend = DuckDBBackend()
    queries: dict[str, str] = {}
    unconverted: dict[str, str] = {}
    fields = {"eventID"}
    start = time.perf_counter()
    for path in sorted(args.rules.glob("*.yml")):
        try:
            rule = SigmaRule.from_yaml(path.read_text(encoding="utf-8"))
            (query,) = backend.convert_rule(rule)
        except Exception as error:  # the backend's own errors: reported, the rule left out
            unconverted[path.stem] = f"{type(error).__name__}: {error}"
            continue
        queries[path.stem] = query
        for detection in rule.detection.detections.values():
            fields.update(fields_of(detection))
    converted = time.perf_counter() - start

    names = sorted(fields)
    paths = ", ".join(f"'$.{field}'" for field in names)
    columns = ", ".join(f'e[{index}] AS "{field}"' for index, field in enumerate(names, 1))
    union = " UNION ALL ".join(
        f"SELECT '{stem}' AS rule, eventID FROM ({query})" for stem, query in queries.items()
    )
    connection = duckdb.connect()
    connection.execute("SET threads TO 1")
    passes: list[float] = []
    loading: list[float] = []
    matches: set[tuple[str, str]] = set()
    for _ in range(args.repeat):
        start = time.perf_counter()
        loaded = 0.0
        for batch in args.batches:
            source = str(batch).replace("'", "''")
            load_start = time.perf_counter()
            connection.execute(
                f"CREATE OR REPLACE TEMP TABLE logs AS SELECT {columns} FROM ("
                f"SELECT json_extract_string(json, [{paths}]) AS e "
                f"FROM read_json_objects('{source}', format='newline_delimited'))"
            )
            loaded += time.perf_counter() - load_start
            matches.update(connection.execute(union).fetchall())
        passes.append(time.perf_counter() - start)
        loading.append(loaded)

    json.dump(
        {
            "duckdb": duckdb.__version__,
            "rules": len(queries),
            "unconverted": unconverted,
            "convert_seconds": converted,
            "passes": passes,
            "loading": loading,
            "matches": sorted([event_id, rule] for rule, event_id in matches),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`trailhound bundle`: rule files compiled into the bundle the Lambda reads at a cold start."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson

from trailhound.authoring.loader import LoadedRules, load_rules
from trailhound.engine.bundle import FORMAT, digests, relative, rule_entry


def write_bundle(destination: Path, paths: Sequence[Path]) -> LoadedRules:
    """Load the rules under `paths` and write them to `destination`; returns what loaded.

    Paths are stored relative to the bundle's folder, so the folders and the bundle can move
    together (from the build folder to the Lambda layer's /opt).
    """
    result = load_rules(paths)
    base = destination.parent.resolve()
    document = {
        "format": FORMAT,
        "paths": [relative(path, base) for path in paths],
        "digests": digests(paths, base),
        "files": result.files,
        "rules": [rule_entry(compiled, base) for compiled in result.rules + result.disabled],
        "errors": [
            [relative(error.path, base), error.line, error.message, error.warning]
            for error in result.errors
        ],
    }
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(orjson.dumps(document))
    return result

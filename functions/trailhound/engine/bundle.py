"""Rule bundles read at a cold start: rules compiled at build time, without YAML or pySigma.

`trailhound bundle` (`trailhound.authoring.bundle`) loads rule folders exactly as the handler
would (every check, filters folded in) and writes what loading gave: each rule's metadata and
condition tree, the errors, and a digest of every rule file. A bundle stands in for the files
only if it was built from the same folders and every rule file is still byte for byte what it
was built from; otherwise the caller loads the files. So an out-of-date bundle costs a slower
cold start, never a rule.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from trailhound.engine.conditions import deferred_condition
from trailhound.engine.rule import CompiledRule, LoadResult, Rule, Severity, rule_files_in
from trailhound.errors import BundleForOtherFolders, BundleOutOfDate, BundleUnusable, RuleProblem

FORMAT = 1
"""Increased whenever the bundle's layout or the meaning of a condition tree changes."""


def read_bundle(bundle: Path, paths: Sequence[Path]) -> LoadResult:
    """The rules of `bundle`, if it holds exactly the rule files under `paths` as they are now.

    Raises BundleUnusable saying why not (another set of folders, a file added, removed or
    changed since the build, an unreadable or older bundle).
    """
    try:
        document = orjson.loads(bundle.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise BundleUnusable(f"cannot read {bundle}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BundleUnusable(f"{bundle} is not a format {FORMAT} rule bundle: rebuild it")
    base = bundle.parent.resolve()
    try:
        built_for = [str(base / path) for path in document["paths"]]
        wanted = [str(path.resolve()) for path in paths]
        if built_for != wanted:
            raise BundleForOtherFolders(
                f"{bundle} was built for {', '.join(built_for)}, not {', '.join(wanted)}"
            )
        changed = _changes(document["digests"], digests(paths, base))
    except BundleUnusable:
        raise
    except Exception as error:  # an unreadable rule file, a damaged bundle: the files decide
        raise BundleOutOfDate(f"cannot check {bundle}: {type(error).__name__}: {error}") from error
    if changed:
        raise BundleOutOfDate(f"rule files changed since {bundle} was built: {changed}")
    # Building makes many small objects that all live on, and no garbage cycles: the cyclic
    # collector would walk them again and again (half the time of 1,000 rules) to free nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        result = LoadResult(files=int(document["files"]))
        for entry in document["rules"]:
            compiled = _compiled_rule(entry, base)
            (result.rules if compiled.rule.enabled else result.disabled).append(compiled)
        result.errors = [
            RuleProblem(base / path, line, message, warning)
            for path, line, message, warning in document["errors"]
        ]
    except Exception as error:  # a damaged bundle must not stop the files from loading
        raise BundleOutOfDate(f"{bundle} is damaged: {type(error).__name__}: {error}") from error
    finally:
        if collecting:
            gc.enable()
    return result


def digests(paths: Sequence[Path], base: Path) -> dict[str, str]:
    """The SHA-256 of every rule file under `paths`, by its path relative to `base`."""
    by_path = {}
    for path in paths:
        root = relative(path, base)
        if not path.is_dir():
            by_path[root] = hashlib.sha256(path.read_bytes()).hexdigest()
            continue
        for parts, found in rule_files_in(path):
            digest = hashlib.sha256(Path(found).read_bytes()).hexdigest()
            by_path[str(Path(root, *parts))] = digest
    return by_path


def _changes(built: dict[str, str], now: dict[str, str]) -> str:
    added = sorted(now.keys() - built.keys())
    removed = sorted(built.keys() - now.keys())
    edited = sorted(name for name in now.keys() & built.keys() if now[name] != built[name])
    parts = [
        f"{label} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
        for label, names in (("added", added), ("removed", removed), ("edited", edited))
        if names
    ]
    return "; ".join(parts)


def relative(path: Path, base: Path) -> str:
    """`path` as a bundle in `base` stores it: relative where it lies under `base`."""
    resolved = path.resolve()
    return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(resolved)


def rule_entry(compiled: CompiledRule, base: Path) -> dict[str, Any]:
    """A rule as a bundle stores it: its metadata and condition tree, paths relative to `base`."""
    rule = compiled.rule
    return {
        "rule_id": rule.rule_id,
        "path": relative(rule.path, base),
        "title": rule.title,
        "severity": rule.severity.value,
        "description": rule.description,
        "tags": rule.tags,
        "falsepositives": rule.falsepositives,
        "references": rule.references,
        "sigma_id": rule.sigma_id,
        "runbook": rule.runbook,
        "title_template": rule.title_template,
        "enabled": rule.enabled,
        "filters": rule.filters,
        "condition": compiled.condition.node,
    }


def _compiled_rule(entry: dict[str, Any], base: Path) -> CompiledRule:
    rule = Rule(
        rule_id=entry["rule_id"],
        path=base / entry["path"],
        title=entry["title"],
        severity=Severity(entry["severity"]),
        description=entry["description"],
        tags=tuple(entry["tags"]),
        falsepositives=tuple(entry["falsepositives"]),
        references=tuple(entry["references"]),
        sigma_id=entry["sigma_id"],
        runbook=entry["runbook"],
        title_template=entry["title_template"],
        enabled=entry["enabled"],
        filters=tuple(entry["filters"]),
    )
    return CompiledRule(rule=rule, condition=deferred_condition(entry["condition"]))

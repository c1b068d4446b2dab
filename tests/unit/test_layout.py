"""The layout holds: no import cycle, and the Lambda's path never reaches the authoring side."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.support.corpus import REPO
from tests.support.lambda_stack import function_environment
from trailhound.authoring.bundle import write_bundle

PACKAGE = REPO / "functions" / "trailhound"


def imports_of(path: Path) -> set[str]:
    """Every trailhound module `path` imports, at the top or inside a function or TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
            found.add(node.module)
    return {name for name in found if name.startswith("trailhound")}


def module_graph() -> dict[str, set[str]]:
    """Module → the trailhound modules it imports (a package counts as its __init__)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return {
        name: {target for target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the nodes along it, or None."""
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*trail[trail.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        trail.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    graph = module_graph()
    # A package's __init__ importing its own modules is no cycle of concern; none does here.
    assert cycle_in(graph) is None


def test_no_package_imports_another_that_imports_it_back() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in module_graph().items():
        package = ".".join(module.split(".")[:2])
        packages.setdefault(package, set()).update(
            ".".join(target.split(".")[:2]) for target in targets
        )
    graph = {name: targets - {name} for name, targets in packages.items()}
    assert cycle_in(graph) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None


def test_the_lambda_path_loads_nothing_of_authoring_pysigma_or_pyyaml(tmp_path: Path) -> None:
    """From a current bundle, a cold start and an alerting batch import none of them."""
    bundle = tmp_path / "rules.bundle.json"
    write_bundle(bundle, [REPO / "rules"])
    script = f"""
import json, sys
from trailhound.lambda_function import handler
from trailhound.delivery.notifications import build_notification
from trailhound.pipeline.detection import DetectionSummary, detect
from trailhound.pipeline.logfiles import read_inputs
runtime = handler.runtime_for(handler.load_settings())
alerts = list(detect(read_inputs([{str(REPO / "events" / "subscription")!r}]),
                     runtime.ruleset, DetectionSummary()))
messages = [build_notification(alert) for alert in alerts]
loaded = sorted(name for name in sys.modules
                if name.split(".")[0] in ("sigma", "yaml", "pyparsing")
                or name.startswith("trailhound.authoring"))
print(json.dumps({{"alerts": len(messages), "loaded": loaded}}))
"""
    env = function_environment(RULES_PATHS=str(REPO / "rules"), RULES_BUNDLES=str(bundle))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["alerts"] > 10
    assert result["loaded"] == []

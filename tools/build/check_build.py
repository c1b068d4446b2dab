"""Check what `sam build` put in .aws-sam/build before it is deployed.

Lambda cannot tell until an invocation that a package carries native libraries for the wrong
CPU or Python (a builder that found no arm64 wheel falls back to the build machine's), nor that
the rules are not where RULES_PATHS says. This looks: every shared library is an ELF file for
the function's architecture and runtime, every module has bytecode for the runtime (else each
cold start compiles what it imports), boto3 comes with any packaged botocore, the rule
folders RULES_PATHS names (/opt is the layers' content) load the same rules as the
repository's, and every rule bundle RULES_BUNDLES names is current, one of them for RULES_PATHS
(else every cold start would parse the rule files).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from trailhound.errors import BundleUnusable
from trailhound.engine.bundle import read_bundle
from trailhound.authoring.loader import load_rules

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
"""ELF e_machine of each Lambda architecture: EM_X86_64 and EM_AARCH64."""
LAYERS_ROOT = Path("/opt")


def main() -> int:
    template_path = BUILD / "template.yaml"
    if not template_path.is_file():
        print(f"{template_path} not found: run `make build` first", file=sys.stderr)
        return 1
    template: dict[str, Any] = yaml.safe_load(template_path.read_text(encoding="utf-8"))
    resources: dict[str, Any] = template["Resources"]
    problems: list[str] = []
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            function = _merged(template, resource["Properties"])
            problems += _check_function(name, function)
            problems += _check_rules(name, function, template, resources)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _merged(template: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    globals_: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    return {**globals_, **properties}


def _check_function(name: str, function: dict[str, Any]) -> list[str]:
    code = BUILD / function["CodeUri"]
    architecture = function.get("Architectures", ["x86_64"])[0]
    runtime_tag = "cpython-" + function["Runtime"].removeprefix("python").replace(".", "")
    module = function["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
    problems = [] if (code / module).is_file() else [f"{name}: handler module {module} missing"]
    libraries = sorted(code.rglob("*.so"))
    for library in libraries:
        where = f"{name}: {library.relative_to(code)}"
        machine = _elf_machine(library)
        if machine != ELF_MACHINES[architecture]:
            problems.append(f"{where}: not an {architecture} library (ELF machine {machine})")
        if "cpython-" in library.name and runtime_tag not in library.name:
            problems.append(f"{where}: built for another Python than {function['Runtime']}")
    print(f"{name}: {len(libraries)} native libraries checked for {architecture}, {runtime_tag}")
    sources = [path for path in code.rglob("*.py") if "__pycache__" not in path.parts]
    uncompiled = [path for path in sources if not _compiled(path, runtime_tag)]
    for path in uncompiled[:5]:
        problems.append(
            f"{name}: {path.relative_to(code)} has no unchecked-hash {runtime_tag} bytecode"
        )
    if len(uncompiled) > 5:
        problems.append(f"{name}: {len(uncompiled) - 5} more modules without bytecode")
    print(f"{name}: {len(sources) - len(uncompiled)} of {len(sources)} modules compiled")
    # A packaged botocore shadows the runtime's; the runtime's boto3 may not work with it.
    if (code / "botocore").is_dir() and not (code / "boto3").is_dir():
        problems.append(f"{name}: botocore is in the package without boto3")
    return problems


def _compiled(source: Path, runtime_tag: str) -> bool:
    """Whether the module has bytecode for the runtime that the interpreter takes unchecked.

    A .pyc header's second word holds its flags: bit 0 hash-based, bit 1 check the source
    (PEP 552); hash-based and unchecked is `0b01`.
    """
    cached = source.parent / "__pycache__" / f"{source.stem}.{runtime_tag}.pyc"
    try:
        header = cached.read_bytes()[:16]
    except OSError:
        return False
    return len(header) == 16 and int.from_bytes(header[4:8], "little") == 0b01


def _elf_machine(library: Path) -> int | None:
    with library.open("rb") as stream:
        header = stream.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "big" if header[5] == 2 else "little")


def _check_rules(
    name: str, function: dict[str, Any], template: dict[str, Any], resources: dict[str, Any]
) -> list[str]:
    rules_paths = function.get("Environment", {}).get("Variables", {}).get("RULES_PATHS")
    if isinstance(rules_paths, dict) and "Ref" in rules_paths:
        rules_paths = template["Parameters"][rules_paths["Ref"]]["Default"]
    if not isinstance(rules_paths, str):
        return [f"{name}: RULES_PATHS is not set to a plain value or a parameter's default"]
    layers = [
        BUILD / resources[layer["Ref"]]["Properties"]["ContentUri"]
        for layer in function.get("Layers", [])
        if isinstance(layer, dict) and layer.get("Ref") in resources
    ]
    task_root = BUILD / function["CodeUri"]
    problems = []
    built_folders = []
    for path in (Path(part.strip()) for part in rules_paths.split(",")):
        found = _built(path, layers, task_root)
        if found is None:
            problems.append(f"{name}: RULES_PATHS names {path}, which no layer or package holds")
            continue
        built_folders.append(found)
        relative = path.relative_to(LAYERS_ROOT) if path.is_relative_to(LAYERS_ROOT) else path
        problems += _compare_rules(name, path, found, ROOT / relative)
    bundles = function.get("Environment", {}).get("Variables", {}).get("RULES_BUNDLES")
    if bundles and not problems:
        problems += _check_bundles(name, bundles, layers, task_root, built_folders)
    return problems


def _built(path: Path, layers: list[Path], task_root: Path, kind: str = "dir") -> Path | None:
    """Where the build holds `path` as the function will see it (/opt is the layers')."""
    if path.is_relative_to(LAYERS_ROOT):
        candidates = [layer / path.relative_to(LAYERS_ROOT) for layer in layers]
    else:
        candidates = [task_root / path]
    for candidate in candidates:
        if candidate.is_dir() if kind == "dir" else candidate.is_file():
            return candidate
    return None


def _check_bundles(
    name: str, bundles: str, layers: list[Path], task_root: Path, folders: list[Path]
) -> list[str]:
    """Each bundle is current for the folders it was built from; one is for RULES_PATHS."""
    problems = []
    used = False
    for bundle in (Path(part.strip()) for part in bundles.split(",") if part.strip()):
        found = _built(bundle, layers, task_root, kind="file")
        if found is None:
            problems.append(f"{name}: RULES_BUNDLES names {bundle}, which no layer holds")
            continue
        built_for = [found.parent / path for path in json.loads(found.read_bytes())["paths"]]
        try:
            loaded = read_bundle(found, built_for)
        except BundleUnusable as error:
            problems.append(f"{name}: {bundle} would never be used: {error}")
            continue
        used = used or [path.resolve() for path in built_for] == [
            path.resolve() for path in folders
        ]
        print(f"{name}: {bundle} is current, {len(loaded.rules)} rules")
    if not used and not problems:
        problems.append(f"{name}: no bundle of RULES_BUNDLES is for the default RULES_PATHS")
    return problems


def _compare_rules(name: str, path: Path, built: Path, source: Path) -> list[str]:
    shipped = load_rules([built])
    expected = load_rules([source])
    problems = [f"{name}: {path}: {error}" for error in shipped.errors]
    shipped_ids = {rule.rule_id for rule in shipped.rules + shipped.disabled}
    expected_ids = {rule.rule_id for rule in expected.rules + expected.disabled}
    if shipped_ids != expected_ids:
        missing = sorted(expected_ids - shipped_ids)
        extra = sorted(shipped_ids - expected_ids)
        problems.append(f"{name}: {path} differs from {source}: missing {missing}, extra {extra}")
    print(f"{name}: {path} holds {len(shipped.rules)} rules ({len(shipped.disabled)} disabled)")
    return problems


if __name__ == "__main__":
    sys.exit(main())

"""Contract: every function's handler module loads with only what the template gives it (its layers + the runtime).

The test venv has everything installed, so a handler that imports numpy through a shared module would pass every
other test and fail on Lambda with Runtime.ImportModuleError. Here each handler is imported in a fresh interpreter
(no site-packages) that sees the venv's packages minus those of the layers the function does NOT have, and the
src/ packages its layers ship (the WorkflowLayer without layers/workflow/Makefile's LOCAL_ONLY modules).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from contract_helpers import ROOT

LAYER_FOLDERS = {"ForecastDependenciesLayer": "forecast_dependencies", "PowertoolsLayer": "powertools",
                 "WorkflowLayer": "workflow", "TargetLibraryLayer": "target_library"}

LOAD_APP = """
import importlib.util, sys
sys.path[:0] = sys.argv[1:3]
spec = importlib.util.spec_from_file_location("app", sys.argv[1] + "/app.py")
spec.loader.exec_module(importlib.util.module_from_spec(spec))
"""


def _site(tmp: Path, blocked: set[str], layers: set[str], local_only: set[str]) -> Path:
    """What the function sees: the venv's packages minus the blocked ones, and the src/ packages its layers ship."""
    site = tmp / "site"
    site.mkdir(parents=True)
    purelib = Path(sysconfig.get_paths()["purelib"])
    for entry in purelib.iterdir():
        top = re.split(r"[-.]", entry.name)[0].lower()
        if top not in blocked and not entry.name.startswith("__editable__") and entry.suffix != ".pth":
            (site / entry.name).symlink_to(entry)
    if "WorkflowLayer" in layers:
        dropped = {name.rsplit(".", 1)[1] for name in local_only}
        shutil.copytree(ROOT / "src" / "thermostat", site / "thermostat",
                        ignore=lambda _d, names: [n for n in names if n.removesuffix(".py") in dropped
                                                  or n == "__pycache__"])
    if "TargetLibraryLayer" in layers:
        (site / "thermostat_target").symlink_to(ROOT / "src" / "thermostat_target")
    return site


def _load(code: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(site)}
    return subprocess.run([sys.executable, "-S", "-c", LOAD_APP, str(code), str(site)],
                          capture_output=True, text=True, env=env, cwd=site, timeout=120)


def _distribution_names(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[=<>!~\[ ]", line)[0].lower().replace("_", "-"))
    return names


def _runtime_distributions() -> set[str]:
    """boto3 and everything it needs: the python3.13 runtime ships them, whatever the layers say."""
    seen, todo = set(), ["boto3"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" not in requirement:
                todo.append(re.split(r"[=<>!~\[ ;(]", requirement)[0].lower().replace("_", "-"))
    return seen


def _layer_packages() -> dict[str, set[str]]:
    """Top-level import names each layer provides (third-party ones minus what the runtime has anyway)."""
    by_distribution: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            by_distribution.setdefault(distribution.lower().replace("_", "-"), set()).add(module)
    runtime = _runtime_distributions()
    packages: dict[str, set[str]] = {}
    for layer, folder in LAYER_FOLDERS.items():
        path = ROOT / "layers" / folder
        makefile = (path / "Makefile").read_text(encoding="utf-8")
        packages[layer] = set(re.findall(r"copy_src_package,(\w+)", makefile))
        if (path / "requirements.txt").exists():
            for distribution in _distribution_names(path / "requirements.txt") - runtime:
                packages[layer] |= by_distribution.get(distribution, set())
    return packages


def _local_only_modules() -> set[str]:
    makefile = (ROOT / "layers" / "workflow" / "Makefile").read_text(encoding="utf-8")
    names = re.search(r"^LOCAL_ONLY := (.+)$", makefile, re.MULTILINE)
    assert names, "layers/workflow/Makefile defines LOCAL_ONLY"
    return {f"thermostat.{name.removesuffix('.py')}" for name in names.group(1).split()}


def _functions(resources: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    out = []
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            props = resource["Properties"]
            layers = {ref["Ref"] for ref in props.get("Layers", [])}
            out.append((logical_id, props["CodeUri"].rstrip("/"), layers))
    return sorted(out)


def test_every_handler_loads_with_only_its_layers_and_the_runtime(resources, tmp_path):
    # GIVEN each function of the template, the layers it has, and what every layer provides
    packages, local_only = _layer_packages(), _local_only_modules()
    assert "numpy" in packages["ForecastDependenciesLayer"] and "thermostat" in packages["WorkflowLayer"]
    functions = _functions(resources)
    assert len(functions) >= 7
    failures = []
    for logical_id, code_uri, layers in functions:
        blocked = set().union(*(names for layer, names in packages.items() if layer not in layers))
        # WHEN its handler module is imported where only its layers' packages and the runtime's exist
        result = _load(ROOT / code_uri, _site(tmp_path / logical_id, blocked, layers, local_only))
        if result.returncode:
            failures.append(f"{logical_id} ({code_uri}): {result.stderr.strip().splitlines()[-1]}")
    # THEN it loads, as Lambda would load it
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("module", "layers"), [("numpy", {"WorkflowLayer"}), ("thermostat.sim", {"WorkflowLayer"}),
                                                ("thermostat", set())])
def test_a_handler_importing_what_its_layers_lack_fails_to_load(tmp_path, module, layers):
    # GIVEN a handler that imports something its function's layers do not have
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(f"import {module}\n", encoding="utf-8")
    # WHEN it is loaded the way the test above loads every handler
    result = _load(code, _site(tmp_path, {"numpy"}, layers, _local_only_modules()))
    # THEN it fails, naming what is missing
    assert result.returncode and "ModuleNotFoundError" in result.stderr, result.stderr

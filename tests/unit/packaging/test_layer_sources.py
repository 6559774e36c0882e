"""The layers built from src/ ship the package's sources only (layers/*/Makefile, as `sam build` runs them).

`sam build` runs `make -f <Makefile> build-<LogicalId>` in a scratch copy of the layer's ContentUri (src/)
with ARTIFACTS_DIR set; these tests do the same on a small copy of a source tree that a local
`pip install ./src/thermostat_target` (build/, *.egg-info) and an editor (__pycache__, .pyc) have dirtied.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAYERS = ROOT / "layers"

pytestmark = [
    pytest.mark.skipif(shutil.which("make") is None or shutil.which("tar") is None, reason="needs make and tar"),
    pytest.mark.skipif(sys.version_info[:2] != (3, 13), reason="the layer recipes compile with python3.13"),
]


def write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build_layer(src: Path, layer: str, logical_id: str, artifacts: Path) -> set[str]:
    """Run the layer's recipe like `sam build`; return the files of the built layer (relative paths)."""
    subprocess.run(
        ["make", "--no-print-directory", "-f", str(LAYERS / layer / "Makefile"), f"build-{logical_id}",
         f"ARTIFACTS_DIR={artifacts}", f"BUILD_PYTHON={sys.executable}"],
        cwd=src, check=True, capture_output=True, text=True)
    return {p.relative_to(artifacts).as_posix() for p in artifacts.rglob("*") if p.is_file()}


def test_stray_build_output_in_the_target_library_never_reaches_the_layer(tmp_path: Path):
    # GIVEN src/thermostat_target after `pip install ./src/thermostat_target` and some editing
    src = tmp_path / "src"
    package = src / "thermostat_target"
    write(package / "__init__.py", "from thermostat_target.cache import X\n")
    write(package / "cache.py", "X = 1\n")
    write(package / "pyproject.toml", "[project]\nname = 'thermostat-target'\n")
    write(package / "build" / "lib" / "thermostat_target" / "cache.py", "X = 'stale'\n")
    write(package / "x.egg-info" / "PKG-INFO", "Name: thermostat-target\n")
    write(package / "thermostat_target.egg-info" / "SOURCES.txt", "cache.py\n")
    write(package / "dist" / "thermostat_target-0.1.0.tar.gz", "not really\n")
    write(package / "__pycache__" / "cache.cpython-312.pyc", "stale bytecode")
    write(package / ".mypy_cache" / "x.py", "")
    write(package / "notes.txt", "scratch\n")
    # WHEN the TargetLibraryLayer is built from it
    files = build_layer(src, "target_library", "TargetLibraryLayer", tmp_path / "artifacts")
    # THEN the layer has the package's modules (and the bytecode compiled for them), nothing else
    sources = {f for f in files if not f.endswith(".pyc")}
    assert sources == {"python/thermostat_target/__init__.py", "python/thermostat_target/cache.py"}
    assert {f for f in files if f.endswith(".pyc")} == {
        "python/thermostat_target/__pycache__/__init__.cpython-313.pyc",
        "python/thermostat_target/__pycache__/cache.cpython-313.pyc"}


def test_the_workflow_layer_ships_modules_subpackages_and_schemas_without_local_only_code(tmp_path: Path):
    # GIVEN a src/thermostat with a subpackage, JSON schemas, laptop-only modules and stray build output
    src = tmp_path / "src"
    package = src / "thermostat"
    for name in ("__init__.py", "config.py", "store/__init__.py", "store/objects.py", "cli.py", "plan_cli.py",
                 "validate_cli.py", "packaging_check.py", "sim/__init__.py", "local/__init__.py"):
        write(package / name, "")
    write(package / "schemas" / "execution-input.schema.json", "{}")
    write(package / "schemas" / "README.md", "not shipped\n")
    write(package / "build" / "lib" / "thermostat" / "config.py", "")
    write(package / "thermostat.egg-info" / "PKG-INFO", "")
    write(package / "store" / "__pycache__" / "objects.cpython-313.pyc", "stale")
    # WHEN the WorkflowLayer is built from it
    files = build_layer(src, "workflow", "WorkflowLayer", tmp_path / "artifacts")
    # THEN modules, the subpackage and the schema ship; the laptop-only code and the build output do not
    assert {f for f in files if not f.endswith(".pyc")} == {
        "python/thermostat/__init__.py", "python/thermostat/config.py", "python/thermostat/store/__init__.py",
        "python/thermostat/store/objects.py", "python/thermostat/schemas/execution-input.schema.json"}
    # AND the only bytecode is what the recipe compiled from those sources, for python3.13
    assert all(".cpython-313." in f for f in files if f.endswith(".pyc"))
    assert not any("/build/" in f or ".egg-info" in f for f in files)

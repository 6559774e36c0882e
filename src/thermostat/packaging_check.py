"""Check what `sam build` produced: unzipped size of each function with its layers, and a cold import.

    python -m thermostat.packaging_check .aws-sam/build [--python python3.13] [--runs 2]

Lambda refuses a function whose code plus layers exceed 262,144,000 bytes unzipped ("250 MB"). The
Forecast function carries statsmodels, numpy, scipy and pandas, so this is checked after every build,
together with the time a fresh python3.13 process takes to import the forecast stack from the built
artifacts only (no site-packages: what /var/task + /opt give the Lambda runtime, plus boto3 which the
runtime bundles). Exit status 1 with a message naming the function when a limit is exceeded.

A local developer tool: it is left out of the WorkflowLayer (layers/workflow/Makefile).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes, function code + all its layers ("250 MB")
MIB = 1024 * 1024
DEFAULT_IMPORT_LIMIT_S = 5.0
FORECAST_IMPORTS = ("statsmodels.tsa.holtwinters", "statsmodels.tsa.stattools")  # what thermostat.forecast.hints uses
HEAVY_PACKAGES = ("statsmodels", "numpy", "scipy", "pandas")
# What the python3.13 Lambda runtime bundles (boto3 and its dependencies): linked in for the import check.
RUNTIME_BUNDLED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


class PackagingError(Exception):
    """The build output is missing, malformed, too big or too slow to import."""


@dataclass(frozen=True)
class FunctionBuild:
    logical_id: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    external_layers: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def sizes(self) -> tuple[int, int]:
        return dir_size(self.code_dir), sum(dir_size(d) for d in self.layer_dirs)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref, !Sub ...) into their long form."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # a SafeLoader subclass
    except FileNotFoundError:
        raise PackagingError(f"{path}: not found (run `make build` first)") from None
    except yaml.YAMLError as exc:
        raise PackagingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise PackagingError(f"{path}: no Resources section")
    return data


def dir_size(path: Path) -> int:
    """Apparent size in bytes of every file below ``path`` (what the zip unpacks to)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def _plain_env(variables: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, str]:
    """Environment values that are literals or !Ref to a parameter (its default); others are left out."""
    env: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, str | int | float | bool):
            env[name] = str(value).lower() if isinstance(value, bool) else str(value)
        elif isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
            default = parameters[value["Ref"]].get("Default")
            if default is not None:
                env[name] = str(default)
    return env


def functions_in(build_dir: Path) -> list[FunctionBuild]:
    """Every zip function of the built template with its code dir and the build dirs of its layers."""
    build_dir = build_dir.resolve()
    template = load_template(build_dir / "template.yaml")
    resources: dict[str, Any] = template["Resources"]
    parameters: dict[str, Any] = template.get("Parameters") or {}
    globals_fn: dict[str, Any] = (template.get("Globals") or {}).get("Function") or {}
    layer_dirs = {
        name: build_dir / str(res["Properties"]["ContentUri"])
        for name, res in resources.items()
        if res.get("Type") == "AWS::Serverless::LayerVersion" and isinstance(
            res.get("Properties", {}).get("ContentUri"), str)
    }
    found: list[FunctionBuild] = []
    for name, res in sorted(resources.items()):
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties") or {}
        code = props.get("CodeUri")
        if not isinstance(code, str):
            continue  # an image function or code in S3: nothing local to measure
        dirs: list[Path] = []
        external: list[str] = []
        for layer in [*(globals_fn.get("Layers") or []), *(props.get("Layers") or [])]:
            ref = layer.get("Ref") if isinstance(layer, dict) else None
            if ref in layer_dirs:
                dirs.append(layer_dirs[ref])
            else:
                external.append(json.dumps(layer))
        variables = {
            **((globals_fn.get("Environment") or {}).get("Variables") or {}),
            **((props.get("Environment") or {}).get("Variables") or {}),
        }
        found.append(FunctionBuild(name, build_dir / code, tuple(dirs), tuple(external),
                                   _plain_env(variables, parameters)))
    if not found:
        raise PackagingError(f"{build_dir / 'template.yaml'}: no AWS::Serverless::Function with a local CodeUri")
    return found


def _python_paths(fn: FunctionBuild) -> list[str]:
    """sys.path as the Lambda runtime builds it: /var/task, then /opt/python (layers are unpacked into /opt
    in order, a later layer's file replacing an earlier one's, hence the reversed order here)."""
    paths = [str(fn.code_dir)]
    for layer in reversed(fn.layer_dirs):
        for sub in (layer / "python" / "lib" / "python3.13" / "site-packages", layer / "python"):
            if sub.is_dir():
                paths.append(str(sub))
    return paths


def _link_runtime_bundled(into: Path) -> None:
    """Symlink boto3 and its dependencies (which the python3.13 runtime bundles) from this interpreter."""
    for name in RUNTIME_BUNDLED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (into / source.name).symlink_to(source)


_IMPORT_SCRIPT = """
import json, sys, time
sys.path[:0] = json.loads(sys.argv[1])
modules, handler = json.loads(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
for name in modules:
    __import__(name)
t1 = time.perf_counter()
error = None
if handler:
    try:
        __import__(handler)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
t2 = time.perf_counter()
files = {name: getattr(sys.modules.get(name), "__file__", None) for name in json.loads(sys.argv[4])}
print(json.dumps({"stack_s": t1 - t0, "handler_s": t2 - t1, "files": files, "handler_error": error}))
"""


@dataclass(frozen=True)
class ImportTiming:
    stack_s: float
    handler_s: float  # extra time to import the handler module after the stack (0.0 without one)
    files: Mapping[str, str | None]
    handler_error: str | None = None


def cold_import(fn: FunctionBuild, python: str, modules: tuple[str, ...] = FORECAST_IMPORTS) -> ImportTiming:
    """Import ``modules`` (then the handler module ``app`` if the code dir has one) in a fresh, isolated
    interpreter that sees only the built artifacts and the runtime's bundled boto3. No bytecode is written."""
    handler = "app" if (fn.code_dir / "app.py").is_file() else ""
    with tempfile.TemporaryDirectory(prefix="thermostat-runtime-") as runtime_dir:
        _link_runtime_bundled(Path(runtime_dir))
        paths = [*_python_paths(fn), runtime_dir]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "LAMBDA_TASK_ROOT": str(fn.code_dir),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            **fn.env,
        }
        # -I: no user site, no PYTHON* variables, no cwd; -S: no site-packages; -B: write no bytecode
        # (/opt and /var/task are read-only on Lambda, and the build must stay as sam produced it)
        argv = [python, "-I", "-S", "-B", "-c", _IMPORT_SCRIPT, json.dumps(paths), json.dumps(list(modules)),
                handler, json.dumps(list(HEAVY_PACKAGES))]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise PackagingError(f"{fn.logical_id}: cold import failed ({python}):\n{tail}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return ImportTiming(float(data["stack_s"]), float(data["handler_s"]), data["files"], data["handler_error"])


def check_origin(fn: FunctionBuild, timing: ImportTiming) -> None:
    """The heavy packages must come from the function's layers, never from a stray interpreter path."""
    roots = [str(fn.code_dir), *(str(d) for d in fn.layer_dirs)]
    for name, path in timing.files.items():
        if path is not None and not any(path.startswith(root + os.sep) for root in roots):
            raise PackagingError(f"{fn.logical_id}: {name} was imported from {path}, outside the build")


def _mib(size: int) -> str:
    return f"{size / MIB:8.1f}"


def run(build_dir: Path, python: str, runs: int, import_limit_s: float, import_function: str) -> list[str]:
    """Print the report; return the problems found (empty = pass)."""
    problems: list[str] = []
    functions = functions_in(build_dir)
    print(f"unzipped sizes in MiB (limit {LAMBDA_UNZIPPED_LIMIT / MIB:.1f} MiB = {LAMBDA_UNZIPPED_LIMIT:,} bytes)")
    print(f"{'function':<32}{'code':>8}{'layers':>9}{'total':>9}  of limit")
    for fn in functions:
        code, layers = fn.sizes()
        total = code + layers
        print(f"{fn.logical_id:<32}{_mib(code)}{_mib(layers)} {_mib(total)}  {total / LAMBDA_UNZIPPED_LIMIT:6.1%}")
        if fn.external_layers:
            print(f"{'':<32}(not counted: layers outside this build: {', '.join(fn.external_layers)})")
        if total > LAMBDA_UNZIPPED_LIMIT:
            problems.append(f"{fn.logical_id}: {total:,} bytes unzipped with its layers, over Lambda's "
                            f"{LAMBDA_UNZIPPED_LIMIT:,}")
    target = next((fn for fn in functions if fn.logical_id == import_function), None)
    if target is None:
        problems.append(f"{import_function}: not in {build_dir / 'template.yaml'}")
        return problems
    timings: list[ImportTiming] = []
    for attempt in range(1, runs + 1):
        timing = cold_import(target, python)
        check_origin(target, timing)
        timings.append(timing)
        extra = f", then handler module app: {timing.handler_s:.2f} s" if timing.handler_s else ""
        print(f"cold import #{attempt} ({import_function}: {', '.join(FORECAST_IMPORTS)}): "
              f"{timing.stack_s:.2f} s{extra}")
        if timing.handler_error:
            problems.append(f"{import_function}: importing its handler module app failed: {timing.handler_error}")
            break
    best = min(t.stack_s + t.handler_s for t in timings)
    if best > import_limit_s:
        problems.append(f"{import_function}: cold import takes {best:.2f} s (best of {runs}), "
                        f"over {import_limit_s:.1f} s: is the bytecode compiled for python3.13?")
    return problems


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m thermostat.packaging_check", description=__doc__.split("\n")[0])
    parser.add_argument("build_dir", type=Path, help="sam build output (.aws-sam/build)")
    parser.add_argument("--python", default=sys.executable, help="python3.13 for the cold import (default: this one)")
    parser.add_argument("--runs", type=int, default=2, help="fresh processes to time (the best counts)")
    parser.add_argument("--import-limit-s", type=float, default=DEFAULT_IMPORT_LIMIT_S)
    parser.add_argument("--import-function", default="ForecastFunction", help="logical id to import-check")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        problems = run(args.build_dir, args.python, max(1, args.runs), args.import_limit_s, args.import_function)
    except PackagingError as exc:
        problems = [str(exc)]
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    if not problems:
        print("packaging check passed")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

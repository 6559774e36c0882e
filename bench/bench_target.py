"""Figures of the target library: import cost, ping answer time (protocol v2), real-event overhead, sizes.

    .venv/bin/python bench/bench_target.py [--runs 9] [--calls 20000]

Import cost is the median over fresh interpreters of ``python -X importtime -c "import thermostat_target"``
(cumulative us of the package), measured on a layer built like the Layer should be (bytecode compiled
by this interpreter, ``--invalidation-mode unchecked-hash``), and also from plain sources (no .pyc:
what you get with PYTHONDONTWRITEBYTECODE or a build that ships no bytecode). The wheel of this project
also carries the workflow package, so the library's "wheel" figure is a zip of src/thermostat_target.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "thermostat_target"
sys.path.insert(0, str(ROOT / "src"))
LAYER_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", "pyproject.toml")


def build_wheel(dest: Path) -> int | None:
    """Size of the standalone ``thermostat-target`` wheel (src/thermostat_target/pyproject.toml), built
    from a copy so that no build/ or egg-info is left in the source tree; None if it cannot be built."""
    copy = dest / "pkg"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dest / "wheel"),
                        str(copy)], check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError):
        return None
    wheels = list((dest / "wheel").glob("*.whl"))
    return wheels[0].stat().st_size if wheels else None


def build_layer(dest: Path, compiled: bool) -> Path:
    """python/thermostat_target/ as in the Layer; returns the python/ dir."""
    python_dir = dest / "python"
    shutil.copytree(PACKAGE, python_dir / "thermostat_target", ignore=LAYER_IGNORE)
    if compiled:
        compileall.compile_dir(str(python_dir), quiet=1,
                               invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return python_dir


def import_cost_ms(python_path: Path, statement: str, runs: int) -> tuple[float, float]:
    """Median over fresh interpreters of the cumulative import time of thermostat_target modules (ms).

    Never writes bytecode: a layer is read-only on Lambda, and the sources case must stay source-only."""
    samples = []
    env = {**os.environ, "PYTHONPATH": str(python_path), "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], env=env,
                             capture_output=True, text=True, check=True).stderr
        total = 0
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].rstrip().startswith(" thermostat_target"):  # top-level only
                total += int(parts[1])
        samples.append(total / 1000.0)
    return statistics.median(samples), min(samples)


def per_call_us(fn: Any, args: tuple[Any, ...], calls: int, batch: int = 200) -> float:
    """Median over batches of the mean time per call (us)."""
    samples = []
    for _ in range(max(1, calls // batch)):
        started = time.perf_counter_ns()
        for _ in range(batch):
            fn(*args)
        samples.append((time.perf_counter_ns() - started) / batch / 1000.0)
    return statistics.median(samples)


def zip_size(source: Path, arc_root: str, dest: Path) -> int:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, f"{arc_root}/{path.relative_to(source)}")
    return dest.stat().st_size


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per import figure")
    parser.add_argument("--calls", type=int, default=20000, help="calls per timing figure")
    args = parser.parse_args()

    from thermostat_target import TTLValue, warm_aware
    from thermostat_target.testing import FakeLambdaContext, make_ping, ping_context

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        layer = build_layer(tmp_path / "layer", compiled=True)
        sources = build_layer(tmp_path / "src", compiled=False)
        print(f"python {sys.version.split()[0]}, {args.runs} fresh interpreters per import figure")
        full = "from thermostat_target import warm_aware, TTLValue, cached; import thermostat_target.providers"
        for label, path in (("layer (.pyc)", layer), ("sources (no .pyc)", sources)):
            base, base_min = import_cost_ms(path, "import thermostat_target", args.runs)
            surface, surface_min = import_cost_ms(path, full, args.runs)
            print(f"import cost, {label:<18}: import thermostat_target {base:6.2f} ms (min {base_min:.2f}) | "
                  f"warm_aware+TTLValue+cached+providers {surface:6.2f} ms (min {surface_min:.2f})"
                  "   median (target <= 5 ms)")

        context = FakeLambdaContext(timeout_ms=10**9)            # what every event source gives
        marked = ping_context(timeout_ms=10**9)                   # a direct Invoke by Thermostat
        ping = make_ping(release_at_ms=0, max_hold_ms=0, refresh=False)
        bare = warm_aware(lambda e, c: None)
        print(f"ping answered, no hold, no refresh     : {per_call_us(bare, (ping, marked), args.calls):8.2f} us "
              "median   (target <= 1000 us)")
        TTLValue(lambda: {"schema": 1}, max_age=3600).get()
        with_cache = warm_aware(lambda e, c: None)
        ping_refresh = make_ping(release_at_ms=0, max_hold_ms=0, refresh=True)
        print(f"ping answered, refresh, nothing due    : "
              f"{per_call_us(with_cache, (ping_refresh, marked), args.calls):8.2f} us median")

        def raw(event: Any, context: Any) -> Any:
            return event

        event = {"order_id": 1, "amount": 12.5}
        wrapped = warm_aware(raw, metrics=False)
        plain = per_call_us(raw, (event, context), args.calls * 5)
        decorated = per_call_us(wrapped, (event, context), args.calls * 5)
        print(f"overhead on a real event (metrics off) : {decorated - plain:8.2f} us median   (target <= 20 us; "
              f"{plain:.2f} -> {decorated:.2f} us per call)")
        forged = per_call_us(wrapped, (ping, context), args.calls * 5)
        print(f"ping-shaped event without the marker   : {forged - plain:8.2f} us median overhead (handed to the "
              "handler, counted as real)")
        devnull = open(os.devnull, "w")  # noqa: SIM115
        saved, sys.stdout = sys.stdout, devnull
        try:
            with_metrics = per_call_us(warm_aware(raw, metrics=True), (event, context), args.calls)
        finally:
            sys.stdout = saved
            devnull.close()
        print(f"overhead on a real event (metrics on)  : {with_metrics - plain:8.2f} us median (one EMF line)")

        src_zip = zip_size(sources / "thermostat_target", "thermostat_target", tmp_path / "src.zip")
        layer_zip = zip_size(layer, "python", tmp_path / "layer.zip")
        wheel = build_wheel(tmp_path / "wheel-build")
        wheel_text = f"{wheel / 1024:6.1f} KiB" if wheel else "not built (pip wheel failed: offline?)"
        print(f"wheel thermostat-target (pip wheel ./src/thermostat_target)          : {wheel_text}")
        print(f"library zip (src/thermostat_target, sources only)                  : {src_zip / 1024:6.1f} KiB "
              f"zipped, {dir_size(sources) / 1024:6.1f} KiB unzipped")
        print(f"layer zip (python/thermostat_target/ with .pyc)                    : {layer_zip / 1024:6.1f} KiB "
              f"zipped, {dir_size(layer) / 1024:6.1f} KiB unzipped")


if __name__ == "__main__":
    main()

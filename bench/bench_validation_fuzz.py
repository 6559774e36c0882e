"""Fuzz counts of the execution-input validation: how many malformed inputs are named right.

    .venv/bin/python bench/bench_validation_fuzz.py [--inputs 5000] [--valid 1000] [--seed 0]

Each fuzzed input is a valid execution input with ONE mutation (wrong type, unknown key at any level,
out-of-range number, min > max, bad name characters including unicode digits and trailing newlines, empty
strings, huge integers, overlong strings, bad ARN shapes, non-object root...), drawn by the generators of
tests/unit/workflow/test_wf_validation_fuzz.py (the test suite runs a few hundred of them on every
``make test``). Outcomes:

- right field: InvalidInputError whose path names the mutated field (or its parent);
- wrong path: InvalidInputError naming another field (or an empty path);
- other exception: anything else raised (a bug);
- accepted: the malformed input passed (a bug).

Valid inputs (``--valid``) are counted as accepted or rejected.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
FUZZ_TESTS = ROOT / "tests" / "unit" / "workflow" / "test_wf_validation_fuzz.py"

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from thermostat.exceptions import InvalidInputError  # noqa: E402
from thermostat.validation import validate_execution_input  # noqa: E402

OUTCOMES = ("right field", "wrong path", "other exception", "accepted")


def load_generators() -> ModuleType:
    spec = importlib.util.spec_from_file_location("thermostat_validation_fuzz", FUZZ_TESTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Counts = collections.Counter[str]


def run(count: int, valid: int, random_seed: int) -> tuple[dict[str, Counts], Counts, list[str], float]:
    fuzz = load_generators()
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    valid_counts: collections.Counter[str] = collections.Counter()
    samples: list[str] = []
    spent = [0.0]
    config = settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))

    def classify(kind: str, document: object, paths: set[str]) -> None:
        start = time.perf_counter()
        try:
            validate_execution_input(document, fuzz.SETTINGS)
            outcome = "accepted"
        except InvalidInputError as exc:
            outcome = "right field" if exc.path and exc.path in paths else "wrong path"
            if outcome == "wrong path":
                samples.append(f"{kind}: got {exc.path!r}, expected one of {sorted(paths)}")
        except Exception as exc:  # a bug: counted, not raised
            outcome = "other exception"
            samples.append(f"{kind}: {type(exc).__name__}")
        spent[0] += time.perf_counter() - start
        by_kind[kind][outcome] += 1

    @settings(config)
    @given(fuzz.mutated())
    def fuzzed(case: tuple[str, object, set[str]]) -> None:
        classify(*case)

    @settings(config, max_examples=max(valid, 1))
    @given(fuzz.VALID)
    def valid_inputs(document: dict[str, Any]) -> None:
        try:
            validate_execution_input(document, fuzz.SETTINGS)
            valid_counts["accepted"] += 1
        except Exception as exc:  # a bug: counted, not raised
            valid_counts[f"rejected ({type(exc).__name__})"] += 1

    for test in (fuzzed, valid_inputs) if valid else (fuzzed,):
        seed(random_seed)(test)()
    return by_kind, valid_counts, samples, spent[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=5000, help="fuzzed (malformed) inputs")
    parser.add_argument("--valid", type=int, default=1000, help="valid inputs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    by_kind, valid_counts, samples, spent = run(args.inputs, args.valid, args.seed)
    total: collections.Counter[str] = sum(by_kind.values(), collections.Counter())
    tried = sum(total.values())
    width = max(len(kind) for kind in by_kind)
    print(f"{'mutation':<{width}}  " + "  ".join(f"{o:>15}" for o in OUTCOMES))
    for kind in sorted(by_kind):
        print(f"{kind:<{width}}  " + "  ".join(f"{by_kind[kind][o]:>15}" for o in OUTCOMES))
    print(f"{'total':<{width}}  " + "  ".join(f"{total[o]:>15}" for o in OUTCOMES))
    print(f"\n{tried} malformed inputs tried: {total['right field']} named the right field, {total['wrong path']} "
          f"another path, {total['other exception']} raised another exception, {total['accepted']} were accepted.")
    print(f"valid inputs: {dict(valid_counts)}")
    print(f"validation time: {spent / max(tried, 1) * 1e3:.3f} ms per malformed input; "
          f"wall time {time.perf_counter() - started:.1f} s (generation included)")
    for sample in samples[:10]:
        print("  " + sample)
    return 0 if total["right field"] == tried and set(valid_counts) <= {"accepted"} else 1


if __name__ == "__main__":
    sys.exit(main())

"""The whole state machine on the embedded AWS: the real template.yaml, ASL and handlers (thermostat.local)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from thermostat.local.faults import FaultPlan
from thermostat.local.report import TargetEnvs, runtime_envs
from thermostat.local.seed import default_trace_dir
from thermostat.local.session import ExecutionRun, LocalAws, LocalAwsConfig

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
TRACE = default_trace_dir(REPO)
SCHEMA_TARGET = "thermostat-demo-schema-registry"
SSM_TARGET = "thermostat-demo-ssm-config"
DEMO = {"DeployDemoTargets": "true"}  # the demo targets are opt-in (template parameter)

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(), reason="template.yaml not there yet")


def load_event(name: str) -> Any:
    return json.loads((REPO / "events" / name).read_text())


LocalAwsFactory = Callable[..., AbstractContextManager[LocalAws]]


@pytest.fixture
def local_aws() -> LocalAwsFactory:
    """``with local_aws(faults={...}, idle_ttl_s=...) as aws:`` — a fresh embedded AWS per use."""

    @contextmanager
    def make(faults: dict[str, Any] | None = None, **config: Any) -> Iterator[LocalAws]:
        plan = FaultPlan.from_dict(faults) if faults else FaultPlan()
        parameters = {**DEMO, **config.pop("parameters", {})}
        with LocalAws(LocalAwsConfig(template=TEMPLATE, trace_dir=TRACE if TRACE.is_dir() else None,
                                     faults=plan, parameters=parameters, **config)) as aws:
            yield aws

    return make


@pytest.fixture(scope="module")
def shared_aws() -> Iterator[LocalAws]:
    """One embedded AWS per module for tests that only start executions (no faults, no clock moves): ~3 s.

    Module scope, not session: moto's state is process-wide, so this must be gone before a test of another
    module deploys its own (``local_aws``); a module that uses ``shared_aws`` must not use ``local_aws``."""
    with LocalAws(LocalAwsConfig(template=TEMPLATE, trace_dir=TRACE if TRACE.is_dir() else None,
                                 parameters=dict(DEMO))) as aws:
        yield aws


def run_and_observe(aws: LocalAws, execution_input: Any) -> tuple[ExecutionRun, dict[str, TargetEnvs]]:
    """Run one execution; also return, per target, which environments really answered (runtime's view)."""
    mark = aws.runtime.invocation_count
    run = aws.run(execution_input, timeout_s=120)
    names = [t["function"] for t in (run.output or {}).get("targets", [])]
    return run, runtime_envs(aws.runtime.records_since(mark), names)


def targets_by_name(run: ExecutionRun) -> dict[str, dict[str, Any]]:
    assert run.status == "SUCCEEDED", (run.describe.get("error"), run.describe.get("cause"))
    return {t["function"]: t for t in run.output["targets"]}

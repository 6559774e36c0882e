"""The whole state machine on the embedded AWS: the real template.yaml, ASL and handlers (thermostat.local).

Helpers shared by the e2e modules: a fresh embedded AWS per test (``local_aws``) or one per module
(``shared_aws``), one execution with the runtime's ground truth (``run_and_observe``), the stack's state
store read back from the embedded S3 (``state_store``, ``report_of``, ``records_of``) and the payload of
every state measured from the execution history (``payloads``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from thermostat import claims
from thermostat.local.faults import FaultPlan
from thermostat.local.figures import Payload, payloads
from thermostat.local.report import TargetEnvs, runtime_envs
from thermostat.local.runtime import FunctionStats
from thermostat.local.seed import default_trace_dir
from thermostat.local.session import ExecutionRun, LocalAws, LocalAwsConfig
from thermostat.records import TargetRecord, record_from_json
from thermostat.store import StateStore

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
TRACE = default_trace_dir(REPO)
TARGETS_DIR = Path(__file__).resolve().parent / "targets"
SCHEMA_TARGET = "thermostat-demo-schema-registry"
SSM_TARGET = "thermostat-demo-ssm-config"
HANDLER_TARGET = "thermostat-demo-handler-object"
DEMO_TARGETS = (SCHEMA_TARGET, SSM_TARGET, HANDLER_TARGET)
DEMO = {"DeployDemoTargets": "true"}  # the demo targets are opt-in (template parameter)
PAYLOAD_LIMIT = 200 * 1024  # every state's input and output stays below this (Step Functions: 256 KiB)

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(), reason="template.yaml not there yet")


def load_event(name: str) -> Any:
    return json.loads((REPO / "events" / name).read_text())


LocalAwsFactory = Callable[..., AbstractContextManager[LocalAws]]


def make_config(faults: dict[str, Any] | None = None, **config: Any) -> LocalAwsConfig:
    plan = FaultPlan.from_dict(faults) if faults else FaultPlan()
    parameters = {**DEMO, **config.pop("parameters", {})}
    return LocalAwsConfig(template=TEMPLATE, trace_dir=TRACE if TRACE.is_dir() else None, faults=plan,
                          parameters=parameters, **config)


@pytest.fixture
def local_aws() -> LocalAwsFactory:
    """``with local_aws(faults={...}, idle_ttl_s=...) as aws:`` — a fresh embedded AWS per use."""

    @contextmanager
    def make(faults: dict[str, Any] | None = None, **config: Any) -> Iterator[LocalAws]:
        with LocalAws(make_config(faults, **config)) as aws:
            yield aws

    return make


@pytest.fixture(scope="module")
def shared_aws() -> Iterator[LocalAws]:
    """One embedded AWS per module for tests that only start executions (no faults, no clock moves): ~3 s.

    Module scope, not session: moto's state is process-wide, so this must be gone before a test of another
    module deploys its own (``local_aws``); a module that uses ``shared_aws`` must not use ``local_aws``."""
    with LocalAws(make_config()) as aws:
        yield aws


def run_and_observe(aws: LocalAws, execution_input: Any, timeout_s: float = 120
                    ) -> tuple[ExecutionRun, dict[str, TargetEnvs]]:
    """Run one execution; also return, per target, which environments really answered (runtime's view)."""
    mark = aws.runtime.invocation_count
    run = aws.run(execution_input, timeout_s=timeout_s)
    names = [t["function"] for t in (run.output or {}).get("targets", [])]
    return run, runtime_envs(aws.runtime.records_since(mark), names)


def targets_by_name(run: ExecutionRun) -> dict[str, dict[str, Any]]:
    assert run.status == "SUCCEEDED", (run.describe.get("error"), run.describe.get("cause"))
    return {t["function"]: t for t in run.output["targets"]}


def pinned(*names: str, count: int | None = None, low: int = 1, high: int = 20) -> dict[str, Any]:
    """An execution input warming only ``names`` (no tag discovery), each at ``count`` or in [low, high]."""
    low, high = (count, count) if count is not None else (low, high)
    return {"targets": [{"function": n, "min": low, "max": high} for n in names], "discover": False}


def align(aws: LocalAws, phase_s: float = 150.0, slot_s: float = 300.0) -> None:
    """Move the fake clock forward to ``phase_s`` into a 5-minute slot, so that which slots a run's CloudWatch
    reads cover (they end at a slot boundary, 2 minutes back) does not depend on the wall clock's phase."""
    aws.advance((phase_s - aws.clock.time() % slot_s) % slot_s)


# --- the state store, read back --------------------------------------------------------------------------

def state_store(aws: LocalAws) -> StateStore:
    bucket = aws.stack.buckets["StateBucket"].name
    return StateStore(boto3.client("s3", region_name=aws.stack.region), bucket)


def report_of(aws: LocalAws, run: ExecutionRun) -> dict[str, Any]:
    """The full report the run wrote (``runs/<run_name>/report.json``)."""
    key = run.output["report_key"]
    assert isinstance(key, str) and key.endswith("/report.json"), run.output
    doc: dict[str, Any] = state_store(aws).get_run_doc(key)
    return doc


def state_output(run: ExecutionRun, state: str) -> dict[str, Any]:
    """A state's (last) output in the execution history."""
    for event in reversed(run.events):
        details = event.get("stateExitedEventDetails")
        if details and details["name"] == state:
            output: dict[str, Any] = json.loads(details["output"])
            return output
    raise KeyError(f"{state}: not in the history of {run.name}")


def plan_of(aws: LocalAws, run: ExecutionRun) -> dict[str, dict[str, Any]]:
    """The run's PlanRecords by function name (the plan's own reasons: what limited each target and why)."""
    plan = claims.resolve(state_store(aws), state_output(run, "Plan")["plan"], "plan")
    return {str(record["function"]): record for record in plan}


def records_of(aws: LocalAws) -> dict[str, TargetRecord]:
    """Every per-target record in the state store, decoded."""
    return {key: record_from_json(doc) for key, doc in state_store(aws).load().records.items()}


def lease_of(aws: LocalAws) -> dict[str, Any] | None:
    s3 = boto3.client("s3", region_name=aws.stack.region)
    store = state_store(aws)
    try:
        body = s3.get_object(Bucket=store.bucket, Key=store.lease_key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    lease: dict[str, Any] = json.loads(body)
    return lease


def state_objects(aws: LocalAws) -> dict[str, str]:
    """key -> ETag of every object under ``thermostat/state/`` (the lease, the manifest, the shards)."""
    s3 = boto3.client("s3", region_name=aws.stack.region)
    store = state_store(aws)
    listed = s3.list_objects_v2(Bucket=store.bucket, Prefix="thermostat/state/")
    return {o["Key"]: o["ETag"] for o in listed.get("Contents", [])}


def shard_targets(aws: LocalAws, key: str) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=aws.stack.region)
    body = s3.get_object(Bucket=state_store(aws).bucket, Key=key)["Body"].read()
    targets: dict[str, Any] = json.loads(gzip.decompress(body))["targets"]
    return targets


# --- what the runtime saw ----------------------------------------------------------------------------------

def real_throttles(counters: Mapping[str, FunctionStats]) -> dict[str, int]:
    """Per function, real (non-ping) requests answered 429: the throttles users would see."""
    return {name: c.real_throttles for name, c in counters.items() if c.real_throttles}


def ping_counts(counters: Mapping[str, FunctionStats], name: str) -> tuple[int, int]:
    """(ping invocations, ping throttles) of one function."""
    stats = counters.get(name, FunctionStats())
    return stats.ping_invocations, stats.ping_throttles


def state_payloads(run: ExecutionRun) -> list[Payload]:
    """Every state's input and output (UTF-8 bytes), as ``GetExecutionHistory`` shows them."""
    return payloads(run.events)

"""``LocalAws``: the embedded AWS as one context manager — moto, the local runtime, the template deployed.

```python
with LocalAws(LocalAwsConfig(template=Path("template.yaml"))) as aws:
    run = aws.run({"targets": [...]})        # start an execution, wait for a terminal status
    aws.advance(60)                           # "1 minute later" on the fake clock
    again = aws.run({...})
```

On entry: the process's wall clock made to follow the fake clock (handlers, Step Functions and
CloudWatch see one "now"), ``mock_aws`` (Step Functions executing, Lambda without Docker), the process
sandbox, the moto workarounds, the local runtime wired into moto's Lambda (publishing AWS/Lambda
metrics), the faults, the template deployed, ``extra_targets`` copies of the demo targets, and 24 h of
CloudWatch history seeded for every target. On exit it waits for running executions to finish (moto
runs them on daemon threads that would otherwise call ``localhost:5000`` once the mock is gone), then
undoes everything in reverse order. Long steps report through ``config.progress`` (one line at least
every ~2 s).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from thermostat.local import aws_faults, bridge, cloudwatch_fast, sandbox, workarounds
from thermostat.local.clock import OffsetClock
from thermostat.local.deploy import Deployment, create_function, deploy
from thermostat.local.direct import DirectLambda
from thermostat.local.exceptions import ExecutionTimeoutError
from thermostat.local.faults import FaultPlan, install_cloudwatch_latency
from thermostat.local.metrics import LambdaMetrics
from thermostat.local.runtime import DEFAULT_ACCOUNT_LIMIT, DEFAULT_IDLE_TTL_S, LocalLambdaRuntime
from thermostat.local.seed import SeededTarget, seed_history
from thermostat.local.session_traffic import RealTraffic
from thermostat.local.template import load_template
from thermostat.local.template_model import FunctionDef, LocalStack

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
TARGET_TAG = ("thermostat:enabled", "true")
QUIET_LOGGERS = ("moto", "aws_xray_sdk")
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def _silence(logger: logging.Logger) -> Callable[[], None]:
    handler, propagate = logging.NullHandler(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False

    def undo() -> None:
        logger.removeHandler(handler)
        logger.propagate = propagate

    return undo


@dataclass
class LocalAwsConfig:
    template: Path = Path("template.yaml")
    parameters: dict[str, str] = field(default_factory=dict)
    stack_name: str = "thermostat"
    region: str = "us-east-1"
    idle_ttl_s: float = DEFAULT_IDLE_TTL_S
    account_limit: int = DEFAULT_ACCOUNT_LIMIT
    faults: FaultPlan = field(default_factory=FaultPlan)
    trace_dir: Path | None = None  # None: a synthetic day of history
    seed: int = 7
    extra_targets: int = 0
    seed_functions: tuple[str, ...] = ()  # seeded besides the tagged targets (e.g. named in the input)
    clock: OffsetClock = field(default_factory=OffsetClock)
    shift_process_time: bool = True  # time.time()/datetime.now() everywhere follow the fake clock
    progress: Callable[[str], None] | None = None  # one line per step of long work (deploy, seeding, runs)
    progress_every_s: float = 2.0


@dataclass
class ExecutionRun:
    arn: str
    name: str
    describe: dict[str, Any]
    events: list[dict[str, Any]]
    wall_s: float

    @property
    def status(self) -> str:
        return str(self.describe["status"])

    @property
    def output(self) -> Any:
        raw = self.describe.get("output")
        return json.loads(raw) if raw else None


class LocalAws(RealTraffic):
    def __init__(self, config: LocalAwsConfig | None = None) -> None:
        self.config = config or LocalAwsConfig()
        self.clock = self.config.clock
        self.stack: LocalStack = load_template(self.config.template, parameters=self.config.parameters,
                                               stack_name=self.config.stack_name, region=self.config.region)
        self.faults = self.config.faults.renamed(self.stack.logical_to_name())
        self.metrics = LambdaMetrics(lag_s=self.faults.metrics_lag_s, account_id=self.stack.account_id,
                                     region=self.stack.region)
        self.runtime = LocalLambdaRuntime(clock=self.clock, idle_ttl_s=self.config.idle_ttl_s,
                                          account_limit=self.config.account_limit, faults=self.faults,
                                          metrics=self.metrics)
        self.aws_faults = aws_faults.AwsFaults(self.faults.aws)
        self.deployment: Deployment | None = None
        self.seeded: list[SeededTarget] = []
        self.extra: list[FunctionDef] = []
        self.timings: dict[str, float] = {}  # seconds: "deploy", "extra_targets", "seed"
        self._undo: list[Callable[[], None]] = []
        self._executions: list[str] = []
        self._sfn: Any = None

    # --- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> LocalAws:
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _start(self) -> None:
        if self.config.shift_process_time:
            self._undo.append(self.clock.shift_process_time())
        mock = mock_aws(config=MOTO_CONFIG)
        mock.start()
        self._undo.append(mock.stop)
        for name in QUIET_LOGGERS:  # moto's interpreter logs every caught task failure with its stack
            self._undo.append(_silence(logging.getLogger(name)))
        self._undo.append(sandbox.install())
        self._undo.append(workarounds.install_all(account_settings=self._account_settings))
        self._undo.append(workarounds.install_read_hook(self.publish_metrics))
        self._undo.append(bridge.install(self.runtime))
        self._undo.append(cloudwatch_fast.install())
        self._undo.append(self.runtime.shutdown)
        if self.faults.cloudwatch_latency_ms:
            self._undo.append(install_cloudwatch_latency(self.faults.cloudwatch_latency_ms))
        self._undo.append(aws_faults.install(self.aws_faults))  # always: set_faults may add AWS faults later
        self._sfn = boto3.client("stepfunctions", region_name=self.stack.region)
        started = time.perf_counter()
        self.deployment = deploy(self.stack, self.runtime)
        self.timings["deploy"] = time.perf_counter() - started
        started = time.perf_counter()
        self._add_extra_targets(self.config.extra_targets)
        self.timings["extra_targets"] = time.perf_counter() - started
        started = time.perf_counter()
        names = self.target_names()
        self._say(f"Seeding 24 h of CloudWatch history for {len(names)} targets …")
        self.seeded = seed_history(names, now=self.clock.time(), trace_dir=self.config.trace_dir,
                                   seed=self.config.seed, account_id=self.stack.account_id,
                                   region=self.stack.region, reserved=dict(self.runtime.reserved))
        self.timings["seed"] = time.perf_counter() - started

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the fault plan from now on (e.g. a fault for the next execution only): function faults
        (counters restart), invoke jitter, metric lag and AWS API faults. ``cloudwatch.latency_ms`` is the
        configured one's (installed on entry)."""
        self.faults = plan.renamed(self.stack.logical_to_name())
        self.runtime.set_faults(self.faults)
        self.metrics.lag_s = self.faults.metrics_lag_s
        self.aws_faults.replace(self.faults.aws)

    def _say(self, line: str) -> None:
        if self.config.progress is not None:
            self.config.progress(line)

    def publish_metrics(self) -> int:
        """Write the runtime's finished minutes of AWS/Lambda metrics into CloudWatch (done before every read
        and after every execution); returns how many datapoints."""
        return self.metrics.publish(self.clock.time())

    def _stop(self) -> None:
        try:
            self._drain()
        finally:
            while self._undo:
                self._undo.pop()()

    def _drain(self, timeout_s: float = 60.0) -> None:
        if self._sfn is None:
            return
        deadline = time.monotonic() + timeout_s
        for arn in self._executions:
            while self._sfn.describe_execution(executionArn=arn)["status"] not in TERMINAL:
                if time.monotonic() > deadline:  # last resort: moto marks it ABORTED
                    self._sfn.stop_execution(executionArn=arn, error="LocalAwsClosing",
                                             cause="the embedded AWS was shut down while it ran")
                    break
                time.sleep(0.05)

    def _account_settings(self) -> tuple[int, int, int]:
        return self.runtime.account_limit, self.runtime.reserved_total, len(self.runtime.functions)

    # --- targets -------------------------------------------------------------------------------------
    def demo_targets(self) -> list[FunctionDef]:
        key, value = TARGET_TAG
        return [fn for fn in self.stack.functions.values() if fn.tags.get(key) == value]

    def target_names(self) -> list[str]:
        names = [fn.name for fn in self.demo_targets()] + [fn.name for fn in self.extra]
        known = {fn.name for fn in self.stack.functions.values()}
        names += [n for n in self.config.seed_functions if n in known and n not in names]
        return names

    def _add_extra_targets(self, count: int) -> None:
        bases = self.demo_targets()
        if count <= 0 or not bases:
            return
        client = DirectLambda(self.stack.account_id, self.stack.region)  # CreateFunction's work, 3x faster
        last = time.monotonic()
        for i in range(count):
            copy, _ = self._deploy_like(client, bases[i % len(bases)],
                                        f"{self.stack.stack_name}-demo-extra-{i + 1:03d}",
                                        logical_id=f"ExtraTarget{i + 1:03d}")
            self.extra.append(copy)
            if time.monotonic() - last >= self.config.progress_every_s:
                last = time.monotonic()
                self._say(f"Deploying extra targets: {i + 1:,}/{count:,}")

    def _deploy_like(self, client: Any, base: FunctionDef, name: str, **changes: Any) -> tuple[FunctionDef, str]:
        """Deploy a copy of ``base`` named ``name`` (with ``changes``) onto the local runtime; (it, its ARN)."""
        assert self.deployment is not None, "use LocalAws as a context manager"
        fn = replace(base, name=name, arn=base.arn.rsplit(":", 1)[0] + f":{name}",
                     environment={**base.environment, "POWERTOOLS_SERVICE_NAME": name}, **changes)
        arn = create_function(client, fn, self.deployment.role_arn, {}, self.runtime, self.stack.region,
                              self.stack.account_id)
        return fn, arn

    def add_function(self, name: str, code_dir: Path, handler: str = "app.handler",
                     tags: dict[str, str] | None = None, reserved_concurrency: int | None = None) -> str:
        """Deploy one more function (e.g. a test's own target) from a code directory; returns its ARN.

        It gets the demo targets' runtime, memory, timeout and environment, no layer (``thermostat_target``
        is importable from the project), and runs on the local runtime like every template function.
        """
        base = next(iter(self.demo_targets()), None) or next(iter(self.stack.functions.values()))
        client = boto3.client("lambda", region_name=self.stack.region)
        _, arn = self._deploy_like(client, base, name, logical_id=name, code_dir=code_dir, handler=handler,
                                   layers=(), layer_dirs=(), tags=dict(tags or {}),
                                   reserved_concurrency=reserved_concurrency, auto_publish_alias=None)
        return arn

    # --- executions ----------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the fake clock (idle reclaim counts it; handlers still see real time)."""
        self.clock.advance(seconds)
        self.runtime.reclaim_idle()

    def start(self, execution_input: Any, name: str | None = None, state_machine: str | None = None) -> str:
        assert self.deployment is not None, "use LocalAws as a context manager"
        name = name or f"local-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
        arn = self._sfn.start_execution(stateMachineArn=self.deployment.state_machine_arn(state_machine),
                                        name=name, input=json.dumps(execution_input))["executionArn"]
        self._executions.append(arn)
        return str(arn)

    def wait(self, arn: str, timeout_s: float = 300.0) -> dict[str, Any]:
        started = time.monotonic()
        deadline, last = started + timeout_s, started
        mark = self.runtime.invocation_count
        while True:
            describe: dict[str, Any] = self._sfn.describe_execution(executionArn=arn)
            if describe["status"] in TERMINAL:
                return describe
            now = time.monotonic()
            if now > deadline:
                raise ExecutionTimeoutError(f"{arn} still {describe['status']} after {timeout_s:.0f} s")
            if now - last >= self.config.progress_every_s:
                last = now
                self._say(f"  {describe['name']}: running {now - started:.0f} s, "
                          f"{self.runtime.invocation_count - mark:,} invocations completed, "
                          f"{self.runtime.busy_total:,} in progress")
            time.sleep(0.05)

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in self._sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events.extend(page["events"])
        return events

    def run(self, execution_input: Any, name: str | None = None, timeout_s: float = 300.0) -> ExecutionRun:
        """Start an execution, wait for its end, and return its description and history."""
        started = time.perf_counter()
        arn = self.start(execution_input, name)
        describe = self.wait(arn, timeout_s)
        wall = time.perf_counter() - started
        self.publish_metrics()
        return ExecutionRun(arn, str(describe["name"]), describe, self.history(arn), wall)

"""What :func:`thermostat.local.template.load_template` returns: the template's resources, resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thermostat.local.environment import FunctionCode


@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    layers: tuple[str, ...]  # layer version ARNs
    layer_dirs: tuple[Path, ...]  # local `python/` folders of those layers (when they exist unbuilt)
    tags: dict[str, str]
    reserved_concurrency: int | None
    auto_publish_alias: str | None
    arn: str
    architectures: tuple[str, ...] = ("x86_64",)

    def code(self, region: str, account_id: str) -> FunctionCode:
        return FunctionCode(
            name=self.name, code_dir=self.code_dir, handler=self.handler, memory_mb=self.memory_mb,
            timeout_s=float(self.timeout_s), environment=dict(self.environment), layer_dirs=self.layer_dirs,
            runtime=self.runtime, region=region, account_id=account_id,
        )


@dataclass(frozen=True)
class LayerDef:
    logical_id: str
    name: str
    content_dir: Path | None
    arn: str
    runtimes: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleDef:
    event_id: str
    target: str  # logical id of the state machine
    type: str  # Schedule | ScheduleV2
    expression: str
    enabled: bool
    input: Any
    name: str | None = None  # the schedule's Name property, when the template sets one


@dataclass(frozen=True)
class StateMachineDef:
    logical_id: str
    name: str
    arn: str
    definition: str  # JSON text with DefinitionSubstitutions applied
    type: str  # STANDARD | EXPRESS
    tags: dict[str, str]
    schedules: tuple[ScheduleDef, ...]
    substitutions: dict[str, str]


@dataclass(frozen=True)
class SsmParameterDef:
    logical_id: str
    name: str
    value: str
    type: str
    description: str


@dataclass(frozen=True)
class LogGroupDef:
    logical_id: str
    name: str
    retention_days: int | None


@dataclass
class LocalStack:
    path: Path
    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, str]
    functions: dict[str, FunctionDef] = field(default_factory=dict)
    layers: dict[str, LayerDef] = field(default_factory=dict)
    state_machines: dict[str, StateMachineDef] = field(default_factory=dict)
    ssm_parameters: dict[str, SsmParameterDef] = field(default_factory=dict)
    log_groups: dict[str, LogGroupDef] = field(default_factory=dict)
    schedules: list[ScheduleDef] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)  # logical id -> type not deployed locally

    def function(self, key: str) -> FunctionDef:
        """By logical id or physical name."""
        if key in self.functions:
            return self.functions[key]
        for fn in self.functions.values():
            if fn.name == key:
                return fn
        raise KeyError(key)

    def state_machine(self, key: str | None = None) -> StateMachineDef:
        """By logical id or name; the only one when ``key`` is None."""
        if key is None:
            if len(self.state_machines) != 1:
                raise KeyError(f"{len(self.state_machines)} state machines; name one")
            return next(iter(self.state_machines.values()))
        for sm in self.state_machines.values():
            if key in (sm.logical_id, sm.name, sm.arn):
                return sm
        raise KeyError(key)

    def logical_to_name(self) -> dict[str, str]:
        return {fn.logical_id: fn.name for fn in self.functions.values()}

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
    allowed_pattern: str | None = None  # put-parameter refuses a value that does not match (a kill switch's true|false)


@dataclass(frozen=True)
class LogGroupDef:
    logical_id: str
    name: str
    retention_days: int | None


def _ints(props: dict[str, Any], *keys: str) -> dict[str, Any]:
    """CloudFormation accepts "300" for an integer property; the AWS APIs do not."""
    return {k: (int(v) if k in keys and isinstance(v, str) else v) for k, v in props.items()}


@dataclass(frozen=True)
class BucketDef:
    """An ``AWS::S3::Bucket``, its settings in the S3 API's shapes (what ``deploy`` puts on the bucket)."""

    logical_id: str
    name: str
    arn: str
    versioning: str | None = None  # "Enabled" | "Suspended"
    encryption: dict[str, Any] | None = None  # ServerSideEncryptionConfiguration
    public_access_block: dict[str, Any] | None = None
    ownership_controls: dict[str, Any] | None = None
    lifecycle_rules: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_properties(cls, logical_id: str, name: str, arn: str, props: dict[str, Any]) -> BucketDef:
        encryption = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
        return cls(
            logical_id, name, arn,
            versioning=(props.get("VersioningConfiguration") or {}).get("Status"),
            encryption=None if not encryption else {"Rules": [
                {"ApplyServerSideEncryptionByDefault": rule.get("ServerSideEncryptionByDefault") or {},
                 **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {})}
                for rule in encryption]},
            public_access_block=props.get("PublicAccessBlockConfiguration"),
            ownership_controls=props.get("OwnershipControls"),
            lifecycle_rules=tuple(_lifecycle_rule(r) for r in (props.get("LifecycleConfiguration") or {})
                                  .get("Rules") or []),
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the API's shape (expiry, noncurrent versions, multipart uploads;
    transitions and tag filters have no local meaning and are left out)."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled"), "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    expiration = {k: v for k, v in (("Days", rule.get("ExpirationInDays")),
                                    ("ExpiredObjectDeleteMarker", rule.get("ExpiredObjectDeleteMarker")))
                  if v is not None}
    if expiration:
        out["Expiration"] = _ints(expiration, "Days")
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = _ints(rule["NoncurrentVersionExpiration"], "NoncurrentDays")
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = _ints(rule["AbortIncompleteMultipartUpload"], "DaysAfterInitiation")
    return out


@dataclass(frozen=True)
class BucketPolicyDef:
    """An ``AWS::S3::BucketPolicy``: recorded, not applied (moto enforces a Deny without its Condition)."""

    logical_id: str
    bucket: str
    document: dict[str, Any]


@dataclass(frozen=True)
class AlarmDef:
    """An ``AWS::CloudWatch::Alarm`` as ``PutMetricAlarm`` arguments."""

    logical_id: str
    name: str
    arguments: dict[str, Any]

    @classmethod
    def from_properties(cls, logical_id: str, name: str, props: dict[str, Any]) -> AlarmDef:
        args = _ints({**props, "AlarmName": name}, "Period", "EvaluationPeriods", "DatapointsToAlarm")
        if "Threshold" in args:
            args["Threshold"] = float(args["Threshold"])
        args["Metrics"] = [
            {**query, **({"MetricStat": _ints(query["MetricStat"], "Period")} if "MetricStat" in query else {})}
            for query in args.get("Metrics") or []] or None
        return cls(logical_id, name, {k: v for k, v in args.items() if v is not None})


@dataclass(frozen=True)
class DashboardDef:
    logical_id: str
    name: str
    body: str  # JSON text (checked when the template is read)


@dataclass(frozen=True)
class CustomResourceDef:
    """A custom resource: recorded with its resolved properties, never invoked locally."""

    logical_id: str
    type: str
    service_token: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class RuleDef:
    """An ``AWS::Events::Rule`` on the default bus: created in moto, whose EventBridge delivers to no state
    machine; :mod:`thermostat.local.rules` does that part (pattern, input transformer, StartExecution)."""

    logical_id: str
    name: str
    event_pattern: dict[str, Any]
    targets: tuple[dict[str, Any], ...]  # PutTargets shapes: Id, Arn, RoleArn, InputTransformer, ...
    state: str = "ENABLED"
    description: str = ""


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
    buckets: dict[str, BucketDef] = field(default_factory=dict)
    bucket_policies: dict[str, BucketPolicyDef] = field(default_factory=dict)
    alarms: dict[str, AlarmDef] = field(default_factory=dict)
    dashboards: dict[str, DashboardDef] = field(default_factory=dict)
    custom_resources: dict[str, CustomResourceDef] = field(default_factory=dict)
    rules: dict[str, RuleDef] = field(default_factory=dict)  # EventBridge rules
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

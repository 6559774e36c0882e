"""Reads the real SAM ``template.yaml`` into what the embedded AWS deploys (nothing is re-declared).

Parameters (defaults, overridable and checked against their constraints), ``Conditions``, ``Globals``
merged into each function (SAM's rules: maps merged, lists prepended, scalars overridden), functions'
code directory/handler/memory/timeout/environment/layers/tags/reserved concurrency, layers, SSM
parameters, log groups, S3 buckets (and their bucket policies), CloudWatch alarms and dashboards, EventBridge
rules, state
machines with ``DefinitionUri`` read and ``DefinitionSubstitutions`` applied, their schedules (recorded:
nothing fires them locally) and custom resources (recorded, never invoked). A resource whose
``Condition`` is false is not deployed, and neither is an output whose ``Condition`` is false. Physical
names follow ``<stack>-<LogicalId>`` unless the template names the resource; an unnamed bucket gets a
name the way CloudFormation makes one (``<stack>-<logicalid>-<suffix>``, lowercase, at most 63
characters; the suffix is stable for one stack, region and account). ARNs use the local account and region.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from thermostat.local.exceptions import TemplateError
from thermostat.local.intrinsics import Resolver, parameter_values, substitute_definition
from thermostat.local.template_model import (
    AlarmDef,
    BucketDef,
    BucketPolicyDef,
    CustomResourceDef,
    DashboardDef,
    FunctionDef,
    LayerDef,
    LocalStack,
    LogGroupDef,
    RuleDef,
    ScheduleDef,
    SsmParameterDef,
    StateMachineDef,
)

__all__ = ["LocalStack", "load_template"]

ACCOUNT_ID = "123456789012"
SAM_FUNCTION = "AWS::Serverless::Function"
SAM_LAYER = "AWS::Serverless::LayerVersion"
SAM_STATE_MACHINE = "AWS::Serverless::StateMachine"
BUCKET = "AWS::S3::Bucket"
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
EVENTS_RULE = "AWS::Events::Rule"
_OTHER = (BUCKET, "AWS::S3::BucketPolicy", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", CUSTOM_RESOURCE,
          EVENTS_RULE)
_NAME_PROPERTY = {SAM_FUNCTION: "FunctionName", SAM_STATE_MACHINE: "Name", SAM_LAYER: "LayerName",
                  "AWS::SSM::Parameter": "Name", "AWS::Logs::LogGroup": "LogGroupName", "AWS::IAM::Role": "RoleName",
                  BUCKET: "BucketName", "AWS::CloudWatch::Alarm": "AlarmName",
                  "AWS::CloudWatch::Dashboard": "DashboardName", EVENTS_RULE: "Name"}
_LEFTOVER = re.compile(r"\$\{([A-Za-z0-9_:.]+)\}")
_LAMBDA_ARN = "arn:aws:lambda:{region}:{account}:function:{name}"
_STATES_ARN = "arn:aws:states:{region}:{account}:stateMachine:{name}"
_ARN_FORMAT = {  # resource type -> its ARN ({path}: the name without a leading "/")
    SAM_FUNCTION: _LAMBDA_ARN, "AWS::Lambda::Function": _LAMBDA_ARN,
    SAM_STATE_MACHINE: _STATES_ARN, "AWS::StepFunctions::StateMachine": _STATES_ARN,
    SAM_LAYER: "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::SSM::Parameter": "arn:aws:ssm:{region}:{account}:parameter/{path}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    BUCKET: "arn:aws:s3:::{name}",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "AWS::CloudWatch::Dashboard": "arn:aws:cloudwatch::{account}:dashboard/{name}",
    EVENTS_RULE: "arn:aws:events:{region}:{account}:rule/{name}",
}
_DEFAULT_ARN = "arn:aws:{service}:{region}:{account}:{name}"


def load_template(path: Path, *, parameters: Mapping[str, Any] | None = None, stack_name: str = "thermostat",
                  region: str = "us-east-1", account_id: str = ACCOUNT_ID) -> LocalStack:
    """Read and resolve ``path``; raises :class:`TemplateError` naming the file and the offending key."""
    try:
        doc = yaml_parse(path.read_text())
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such file") from None
    except Exception as exc:  # yaml errors carry their line
        raise TemplateError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise TemplateError(f"{path}: no Resources section")
    return _Reader(path, doc, dict(parameters or {}), stack_name, region, account_id).read()


def _merge_globals(globals_: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(globals_)
    for key, value in props.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = _merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = [*base, *value]
        else:
            merged[key] = value
    return merged


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass
class _Reader:
    path: Path
    doc: dict[str, Any]
    overrides: dict[str, Any]
    stack_name: str
    region: str
    account_id: str
    names: dict[str, str] = field(default_factory=dict)

    def read(self) -> LocalStack:
        self.root = self.path.parent
        self.resources: dict[str, dict[str, Any]] = self.doc["Resources"]
        self.params = parameter_values(self.path, self.doc.get("Parameters") or {}, self.overrides)
        pseudo = {
            "AWS::StackName": self.stack_name, "AWS::Region": self.region, "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": "",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local",
        }
        self.resolver = Resolver(parameters=self.params, pseudo=pseudo, ref=self._ref, get_att=self._get_att,
                                 conditions=self.doc.get("Conditions"), mappings=self.doc.get("Mappings"))
        stack = LocalStack(path=self.path, stack_name=self.stack_name, region=self.region,
                           account_id=self.account_id, parameters=dict(self.params))
        globals_ = self.doc.get("Globals") or {}
        for logical_id, resource in self.resources.items():
            kind = resource.get("Type", "")
            condition = resource.get("Condition")
            if condition and not self.resolver.condition(condition):
                continue
            raw = resource.get("Properties") or {}
            where = f"{self.path.name}: Resources.{logical_id}"
            if kind == SAM_FUNCTION:
                props = self.resolver.resolve(_merge_globals(globals_.get("Function") or {}, raw), where)
                stack.functions[logical_id] = self._function(logical_id, props, where)
            elif kind == SAM_LAYER:
                props = self.resolver.resolve(raw, where)
                stack.layers[logical_id] = self._layer(logical_id, props)
            elif kind == SAM_STATE_MACHINE:
                props = _merge_globals(globals_.get("StateMachine") or {}, raw)
                stack.state_machines[logical_id] = self._state_machine(logical_id, props, where)
            elif kind == "AWS::SSM::Parameter":
                props = self.resolver.resolve(raw, where)
                stack.ssm_parameters[logical_id] = SsmParameterDef(
                    logical_id, self._ref(logical_id), _text(props.get("Value", "")), props.get("Type", "String"),
                    props.get("Description", ""), props.get("AllowedPattern"))
            elif kind == "AWS::Logs::LogGroup":
                props = self.resolver.resolve(raw, where)
                stack.log_groups[logical_id] = LogGroupDef(logical_id, self._ref(logical_id),
                                                           props.get("RetentionInDays"))
            elif kind in _OTHER or kind.startswith("Custom::"):
                self._other(stack, logical_id, kind, self.resolver.resolve(raw, where), where)
            else:
                stack.ignored[logical_id] = kind
        for sm in stack.state_machines.values():
            stack.schedules.extend(sm.schedules)
        for name, output in (self.doc.get("Outputs") or {}).items():
            if output.get("Condition") and not self.resolver.condition(output["Condition"]):
                continue
            try:
                stack.outputs[name] = self.resolver.resolve(output.get("Value"), f"Outputs.{name}")
            except TemplateError as exc:
                stack.outputs[name] = f"<unresolved: {exc}>"
        return stack

    def _other(self, stack: LocalStack, logical_id: str, kind: str, props: dict[str, Any], where: str) -> None:
        """Buckets, bucket policies, alarms, dashboards, custom resources (``_OTHER``)."""
        if kind == BUCKET:
            stack.buckets[logical_id] = BucketDef.from_properties(logical_id, self._physical(logical_id),
                                                                  self._arn(logical_id), props)
        elif kind == "AWS::S3::BucketPolicy":
            stack.bucket_policies[logical_id] = BucketPolicyDef(logical_id, _text(props.get("Bucket", "")),
                                                                props.get("PolicyDocument") or {})
        elif kind == "AWS::CloudWatch::Alarm":
            stack.alarms[logical_id] = AlarmDef.from_properties(logical_id, self._physical(logical_id), props)
        elif kind == EVENTS_RULE:
            stack.rules[logical_id] = RuleDef(logical_id, self._physical(logical_id), props.get("EventPattern") or {},
                                              tuple(props.get("Targets") or ()), str(props.get("State", "ENABLED")),
                                              str(props.get("Description", "")))
        elif kind == "AWS::CloudWatch::Dashboard":
            body = _text(props.get("DashboardBody", ""))
            try:
                json.loads(body)
            except ValueError as exc:
                raise TemplateError(f"{where}.Properties.DashboardBody: not valid JSON: {exc}") from None
            stack.dashboards[logical_id] = DashboardDef(logical_id, self._physical(logical_id), body)
        else:  # AWS::CloudFormation::CustomResource or Custom::<Name>
            token = _text(props.pop("ServiceToken", ""))
            stack.custom_resources[logical_id] = CustomResourceDef(logical_id, kind, token, props)

    # --- names and attributes ------------------------------------------------------------------------
    def _name_property(self, logical_id: str) -> str | None:
        resource = self.resources[logical_id]
        key = _NAME_PROPERTY.get(resource.get("Type", ""))
        raw = (resource.get("Properties") or {}).get(key) if key else None
        return None if raw is None else _text(self.resolver.resolve(raw, f"Resources.{logical_id}.{key}"))

    def _physical(self, logical_id: str) -> str:
        if logical_id not in self.names:
            named = self._name_property(logical_id)
            if named is None and self.resources[logical_id].get("Type") == BUCKET:
                named = self._generated_bucket_name(logical_id)
            self.names[logical_id] = named or f"{self.stack_name}-{logical_id}"[:64]
        return self.names[logical_id]

    def _generated_bucket_name(self, logical_id: str) -> str:
        """``<stack>-<logicalid>-<suffix>`` lowercase, at most 63 characters, as CloudFormation names buckets."""
        seed = f"{self.account_id}/{self.region}/{self.stack_name}/{logical_id}".encode()
        suffix = hashlib.sha256(seed).hexdigest()[:12]
        stem = f"{self.stack_name}-{logical_id}".lower()[:63 - len(suffix) - 1].rstrip("-.")
        return f"{stem}-{suffix}"

    def _arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id].get("Type", "")
        name = self._physical(logical_id)
        service = kind.split("::")[1].lower() if "::" in kind else "unknown"
        return _ARN_FORMAT.get(kind, _DEFAULT_ARN).format(region=self.region, account=self.account_id, name=name,
                                                          path=name.lstrip("/"), service=service)

    def _ref(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            alias = re.fullmatch(r"(\w+?)Alias(\w+)", logical_id)
            if alias and alias.group(1) in self.resources:  # SAM's AutoPublishAlias resource
                return f"{self._arn(alias.group(1))}:{alias.group(2)}"
            raise KeyError(logical_id)
        kind = self.resources[logical_id].get("Type", "")
        if kind in (SAM_STATE_MACHINE, "AWS::StepFunctions::StateMachine", SAM_LAYER):
            return self._arn(logical_id)
        return self._physical(logical_id)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            if logical_id.endswith("Role") and attribute == "Arn":  # SAM-generated execution roles
                return f"arn:aws:iam::{self.account_id}:role/{self.stack_name}-{logical_id}"[:140]
            raise KeyError(logical_id)
        if attribute == "Arn":
            return self._arn(logical_id)
        if attribute in ("Name", "FunctionName"):
            return self._physical(logical_id)
        kind = self.resources[logical_id].get("Type", "")
        if kind == BUCKET and attribute in ("DomainName", "RegionalDomainName"):
            region = "" if attribute == "DomainName" else f".{self.region}"
            return f"{self._physical(logical_id)}.s3{region}.amazonaws.com"
        if kind == SAM_STATE_MACHINE and attribute == "StateMachineRevisionId":
            return f"{self._arn(logical_id)}:local"  # one revision per local deploy
        props = self.resources[logical_id].get("Properties") or {}
        if attribute in props:
            return _text(self.resolver.resolve(props[attribute], f"Resources.{logical_id}.{attribute}"))
        raise KeyError(f"{logical_id}.{attribute}")

    # --- resources -----------------------------------------------------------------------------------
    def _local_dir(self, value: Any, where: str) -> Path:
        if not isinstance(value, str):
            raise TemplateError(f"{where}: must be a local path to run locally (got {value!r})")
        path = (self.root / value).resolve()
        if not path.is_dir():
            raise TemplateError(f"{where}: directory {value!r} does not exist")
        return path

    def _function(self, logical_id: str, props: dict[str, Any], where: str) -> FunctionDef:
        if "InlineCode" in props:
            raise TemplateError(f"{where}.InlineCode: inline code is not supported locally; use CodeUri")
        code_dir = self._local_dir(props.get("CodeUri"), f"{where}.Properties.CodeUri")
        handler = props.get("Handler")
        if not isinstance(handler, str) or "." not in handler:
            raise TemplateError(f"{where}.Properties.Handler: expected 'module.function', got {handler!r}")
        layer_dirs = []
        for arn in props.get("Layers") or []:
            for layer_id, resource in self.resources.items():
                if resource.get("Type") == SAM_LAYER and self._arn(layer_id) == arn:
                    content = (self.root / str((resource.get("Properties") or {}).get("ContentUri", ""))).resolve()
                    if (content / "python").is_dir():
                        layer_dirs.append(content / "python")
        reserved = props.get("ReservedConcurrentExecutions")
        env = (props.get("Environment") or {}).get("Variables") or {}
        return FunctionDef(
            logical_id=logical_id, name=self._physical(logical_id), code_dir=code_dir, handler=handler,
            runtime=str(props.get("Runtime", "python3.13")), memory_mb=int(props.get("MemorySize", 128)),
            timeout_s=int(props.get("Timeout", 3)), environment={k: _text(v) for k, v in env.items()},
            layers=tuple(str(a) for a in props.get("Layers") or []), layer_dirs=tuple(layer_dirs),
            tags={"lambda:createdBy": "SAM", **{k: _text(v) for k, v in (props.get("Tags") or {}).items()}},
            reserved_concurrency=None if reserved is None else int(reserved),
            auto_publish_alias=props.get("AutoPublishAlias"), arn=self._arn(logical_id),
            architectures=tuple(props.get("Architectures") or ("x86_64",)),
        )

    def _layer(self, logical_id: str, props: dict[str, Any]) -> LayerDef:
        content = props.get("ContentUri")
        content_dir = (self.root / content).resolve() if isinstance(content, str) else None
        return LayerDef(logical_id, self._physical(logical_id), content_dir, self._arn(logical_id),
                        tuple(props.get("CompatibleRuntimes") or ()))

    def _state_machine(self, logical_id: str, props: dict[str, Any], where: str) -> StateMachineDef:
        if "DefinitionUri" in props:
            uri = props["DefinitionUri"]
            if not isinstance(uri, str):
                raise TemplateError(f"{where}.Properties.DefinitionUri: must be a local file to run locally")
            file = self.root / uri
            try:
                text = file.read_text()
            except OSError as exc:
                raise TemplateError(f"{where}.Properties.DefinitionUri: cannot read {uri}: {exc}") from None
        elif "Definition" in props:
            file, text = self.path, json.dumps(props["Definition"])
        else:
            raise TemplateError(f"{where}: neither DefinitionUri nor Definition")
        subs = self.resolver.resolve(props.get("DefinitionSubstitutions") or {}, f"{where}.DefinitionSubstitutions")
        definition = substitute_definition(text, subs)
        leftover = _LEFTOVER.search(definition)
        if leftover:
            raise TemplateError(f"{file.name}: ${{{leftover.group(1)}}} is not in {logical_id}'s "
                                "DefinitionSubstitutions")
        try:
            json.loads(definition)
        except ValueError as exc:
            raise TemplateError(f"{file.name}: not valid JSON after DefinitionSubstitutions: {exc}") from None
        schedules = []
        for event_id, event in (props.get("Events") or {}).items():
            if event.get("Type") not in ("Schedule", "ScheduleV2"):
                continue
            ev = self.resolver.resolve(event.get("Properties") or {}, f"{where}.Events.{event_id}")
            enabled = ev.get("State", "ENABLED") == "ENABLED" and ev.get("Enabled", True) is not False
            schedules.append(ScheduleDef(event_id, logical_id, str(event["Type"]), str(ev.get("ScheduleExpression")),
                                         enabled, ev.get("Input"), ev.get("Name")))
        return StateMachineDef(
            logical_id=logical_id, name=self._physical(logical_id), arn=self._arn(logical_id),
            definition=definition, type=str(self.resolver.resolve(props.get("Type", "STANDARD"), where)),
            tags={k: _text(v) for k, v in (self.resolver.resolve(props.get("Tags") or {}, where)).items()},
            schedules=tuple(schedules), substitutions={k: _text(v) for k, v in subs.items()},
        )

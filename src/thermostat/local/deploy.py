"""Deploys a resolved :class:`LocalStack` into moto through the ordinary AWS APIs (inside ``mock_aws``).

moto's CloudFormation is not used: it has no ``AWS::Serverless`` transform, ignores
``DefinitionSubstitutions`` and writes state machines into the backend that does not execute them
(see ``docs/local.md``). So each resource is created with its own service API, from the template.
Two kinds are recorded in :class:`Deployment` and not created: bucket policies (moto enforces a
``Deny`` statement whatever its ``Condition``, so the template's deny-non-TLS policy would refuse every
local request) and custom resources (nothing invokes them locally).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

from thermostat.local.runtime import LocalLambdaRuntime
from thermostat.local.template_model import BucketDef, FunctionDef, LocalStack

EXECUTION_ROLE = "thermostat-local-execution"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
        "Service": ["lambda.amazonaws.com", "states.amazonaws.com", "scheduler.amazonaws.com"]}}],
}


@dataclass
class Deployment:
    stack: LocalStack
    role_arn: str
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function ARN
    layers: dict[str, str] = field(default_factory=dict)  # logical id -> layer version ARN
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> state machine ARN
    schedules: list[str] = field(default_factory=list)  # EventBridge Scheduler schedule names (never fire)
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name
    alarms: list[str] = field(default_factory=list)  # alarm names (created in moto; nothing evaluates them)
    dashboards: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # EventBridge rules (thermostat.local.rules delivers their events)
    recorded: dict[str, str] = field(default_factory=dict)  # logical id -> type, kept but not created

    def state_machine_arn(self, key: str | None = None) -> str:
        return self.state_machines[self.stack.state_machine(key).logical_id]


def placeholder_zip(note: str) -> bytes:
    """The code package moto stores; the real code runs from the template's CodeUri directory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", f"thermostat.local placeholder: code runs from {note}\n")
    return buffer.getvalue()


def _clients(region: str) -> dict[str, Any]:
    return {name: boto3.client(name, region_name=region)
            for name in ("iam", "lambda", "ssm", "logs", "stepfunctions", "scheduler", "s3", "cloudwatch", "events")}


def create_bucket(client: Any, bucket: BucketDef, region: str) -> str:
    """One S3 bucket with the template's encryption, public access block, ownership, versioning, lifecycle."""
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket=bucket.name, **location)
    if bucket.encryption:
        client.put_bucket_encryption(Bucket=bucket.name, ServerSideEncryptionConfiguration=bucket.encryption)
    if bucket.public_access_block:
        client.put_public_access_block(Bucket=bucket.name, PublicAccessBlockConfiguration=bucket.public_access_block)
    if bucket.ownership_controls:
        client.put_bucket_ownership_controls(Bucket=bucket.name, OwnershipControls=bucket.ownership_controls)
    if bucket.versioning:
        client.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": bucket.versioning})
    if bucket.lifecycle_rules:
        client.put_bucket_lifecycle_configuration(Bucket=bucket.name,
                                                  LifecycleConfiguration={"Rules": list(bucket.lifecycle_rules)})
    return bucket.name


def create_function(client: Any, fn: FunctionDef, role_arn: str, layer_arns: dict[str, str],
                    runtime: LocalLambdaRuntime, region: str, account_id: str) -> str:
    """One Lambda function from its template definition, registered with the local runtime."""
    response = client.create_function(
        FunctionName=fn.name, Runtime=fn.runtime, Role=role_arn, Handler=fn.handler,
        Code={"ZipFile": placeholder_zip(str(fn.code_dir))}, MemorySize=fn.memory_mb, Timeout=fn.timeout_s,
        Environment={"Variables": fn.environment}, Tags=fn.tags, Architectures=list(fn.architectures),
        Layers=[layer_arns.get(arn, arn) for arn in fn.layers],
    )
    if fn.reserved_concurrency is not None:
        client.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=fn.reserved_concurrency)
    if fn.auto_publish_alias:
        version = client.publish_version(FunctionName=fn.name)["Version"]
        client.create_alias(FunctionName=fn.name, Name=fn.auto_publish_alias, FunctionVersion=version)
    runtime.register(fn.code(region, account_id), fn.reserved_concurrency)
    return str(response["FunctionArn"])


def deploy(stack: LocalStack, runtime: LocalLambdaRuntime) -> Deployment:
    c = _clients(stack.region)
    try:
        role_arn = c["iam"].get_role(RoleName=EXECUTION_ROLE)["Role"]["Arn"]
    except c["iam"].exceptions.NoSuchEntityException:
        role_arn = c["iam"].create_role(RoleName=EXECUTION_ROLE,
                                        AssumeRolePolicyDocument=json.dumps(_TRUST))["Role"]["Arn"]
    out = Deployment(stack=stack, role_arn=role_arn)
    for bucket in stack.buckets.values():
        out.buckets[bucket.logical_id] = create_bucket(c["s3"], bucket, stack.region)
    out.recorded.update({p.logical_id: "AWS::S3::BucketPolicy" for p in stack.bucket_policies.values()})
    layer_arns: dict[str, str] = {}
    for layer in stack.layers.values():
        published = c["lambda"].publish_layer_version(
            LayerName=layer.name, Content={"ZipFile": placeholder_zip(str(layer.content_dir))},
            CompatibleRuntimes=list(layer.runtimes))
        layer_arns[layer.arn] = out.layers[layer.logical_id] = published["LayerVersionArn"]
    for fn in stack.functions.values():
        out.functions[fn.logical_id] = create_function(c["lambda"], fn, role_arn, layer_arns, runtime,
                                                       stack.region, stack.account_id)
    for param in stack.ssm_parameters.values():
        c["ssm"].put_parameter(Name=param.name, Value=param.value, Type=param.type, Overwrite=True,
                               **({"Description": param.description} if param.description else {}),
                               **({"AllowedPattern": param.allowed_pattern} if param.allowed_pattern else {}))
    for group in stack.log_groups.values():
        c["logs"].create_log_group(logGroupName=group.name)
        if group.retention_days:
            c["logs"].put_retention_policy(logGroupName=group.name, retentionInDays=int(group.retention_days))
    for sm in stack.state_machines.values():
        arn = c["stepfunctions"].create_state_machine(
            name=sm.name, definition=sm.definition, roleArn=role_arn, type=sm.type,
            tags=[{"key": k, "value": v} for k, v in sm.tags.items()])["stateMachineArn"]
        out.state_machines[sm.logical_id] = arn
        for schedule in sm.schedules:
            name = (schedule.name or f"{sm.name}-{schedule.event_id}")[:64]
            c["scheduler"].create_schedule(
                Name=name, ScheduleExpression=schedule.expression, FlexibleTimeWindow={"Mode": "OFF"},
                State="ENABLED" if schedule.enabled else "DISABLED",
                Target={"Arn": arn, "RoleArn": role_arn, "Input": _input_text(schedule.input)})
            out.schedules.append(name)
    for alarm in stack.alarms.values():
        c["cloudwatch"].put_metric_alarm(**alarm.arguments)
        out.alarms.append(alarm.name)
    for dashboard in stack.dashboards.values():
        c["cloudwatch"].put_dashboard(DashboardName=dashboard.name, DashboardBody=dashboard.body)
        out.dashboards.append(dashboard.name)
    for rule in stack.rules.values():
        c["events"].put_rule(Name=rule.name, EventPattern=json.dumps(rule.event_pattern), State=rule.state,
                             Description=rule.description)
        c["events"].put_targets(Rule=rule.name, Targets=[dict(t) for t in rule.targets])
        out.rules.append(rule.name)
    out.recorded.update({r.logical_id: r.type for r in stack.custom_resources.values()})
    return out


def _input_text(value: Any) -> str:
    if value is None:
        return "{}"
    return value if isinstance(value, str) else json.dumps(value)

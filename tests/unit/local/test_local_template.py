"""Reading a SAM template into what the embedded AWS deploys (a small fixture template, then the real one)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from thermostat.local.deploy import deploy
from thermostat.local.exceptions import TemplateError
from thermostat.local.intrinsics import NO_VALUE, Resolver, substitute_definition
from thermostat.local.runtime import LocalLambdaRuntime
from thermostat.local.template import load_template

from .conftest import FIXTURES

TEMPLATE = FIXTURES / "template.yaml"
REPO = Path(__file__).resolve().parents[3]


def test_globals_are_merged_into_each_function() -> None:
    stack = load_template(TEMPLATE)
    counter, other = stack.function("CounterFunction"), stack.function("OtherFunction")
    # scalars: the function wins over Globals; absent ones come from Globals
    assert (counter.memory_mb, counter.timeout_s, counter.runtime) == (256, 5, "python3.13")
    assert (other.memory_mb, other.timeout_s) == (512, 30)
    # maps: merged, the function's keys win
    bucket = stack.buckets["StoreBucket"].name
    assert counter.environment == {"GREETING": "hello", "STACK": "thermostat-us-east-1",
                                   "PARAM_NAME": "/thermostat/config", "BUCKET": bucket,
                                   "BUCKET_ARN": f"arn:aws:s3:::{bucket}"}
    assert other.environment["GREETING"] == "overridden"
    # tags: Globals + the function's + SAM's own
    assert counter.tags == {"lambda:createdBy": "SAM", "project": "thermostat", "thermostat:enabled": "true"}
    # lists: Globals' layers, resolved to ARNs, with the layer's local python/ folder on the path
    assert counter.layers == ("arn:aws:lambda:us-east-1:123456789012:layer:thermostat-LibLayer:1",)
    assert counter.layer_dirs == ((FIXTURES / "layers" / "lib" / "python").resolve(),)
    assert counter.code_dir == (FIXTURES / "functions" / "counter").resolve()
    assert other.reserved_concurrency == 3 and counter.reserved_concurrency is None


def test_names_follow_the_template_or_stack_and_logical_id() -> None:
    stack = load_template(TEMPLATE, stack_name="demo")
    assert stack.function("CounterFunction").name == "demo-CounterFunction"
    assert stack.function("OtherFunction").name == "demo-other"
    assert stack.ssm_parameters["ConfigParameter"].name == "/demo/config"
    # AND an output whose Condition is false is left out, like its resource
    assert stack.outputs == {"MachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:demo-machine",
                             "CounterFunctionName": "demo-CounterFunction"}
    assert "ExtraFunction" not in stack.functions
    extra = load_template(TEMPLATE, stack_name="demo", parameters={"DeployExtra": "true"})
    assert extra.outputs["ExtraFunctionName"] == extra.function("ExtraFunction").name == "demo-ExtraFunction"


@pytest.mark.parametrize("stack_name", ["demo", "Thermostat-Prod", "s" * 128])
def test_an_unnamed_bucket_is_named_the_way_cloudformation_names_it(stack_name: str) -> None:
    # GIVEN a bucket without BucketName, in stacks with short, mixed-case and very long names
    name = load_template(TEMPLATE, stack_name=stack_name).buckets["StoreBucket"].name
    # THEN its name is <stack>-<logicalid>-<suffix>: lowercase, at most 63 characters, a valid bucket name
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), name
    assert name.startswith(f"{stack_name}-storebucket-"[:40].lower())
    # AND the same stack gets the same name again, another stack another name
    assert load_template(TEMPLATE, stack_name=stack_name).buckets["StoreBucket"].name == name
    assert load_template(TEMPLATE, stack_name=stack_name + "x").buckets["StoreBucket"].name != name


def test_buckets_alarms_dashboards_and_custom_resources_are_read() -> None:
    stack = load_template(TEMPLATE, parameters={"RetentionDays": "3"})
    bucket = stack.buckets["StoreBucket"]
    # THEN the bucket's settings are in the S3 API's shapes
    assert bucket.versioning == "Enabled"
    assert bucket.encryption == {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    assert bucket.lifecycle_rules[1] == {"ID": "runs", "Status": "Enabled", "Filter": {"Prefix": "runs/"},
                                         "Expiration": {"Days": 3}}
    assert stack.bucket_policies["StoreBucketPolicy"].bucket == bucket.name
    # AND alarms are PutMetricAlarm arguments, numbers as numbers (CloudFormation takes "300", the API does not)
    failed = stack.alarms["FailedAlarm"].arguments
    assert (failed["AlarmName"], failed["Period"], failed["Threshold"]) == ("thermostat-failed", 300, 1.0)
    assert failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": stack.state_machine().arn}]
    cost = stack.alarms["CostAlarm"].arguments
    assert cost["AlarmName"] == "thermostat-CostAlarm" and cost["Metrics"][0]["MetricStat"]["Period"] == 86400
    # AND the dashboard body is JSON with ${!Literal} kept literal; the custom resource is recorded, resolved
    body = json.loads(stack.dashboards["Board"].body)
    assert body["widgets"][0]["properties"]["markdown"] == f"{stack.state_machine().arn} ${{PROP('Dim.Target')}}"
    hook = stack.custom_resources["Hook"]
    assert hook.service_token == stack.function("CounterFunction").arn
    assert hook.properties["Machine"] == stack.state_machine().arn and hook.properties["Revision"]


def test_a_dashboard_body_that_is_not_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("Resources:\n  B:\n    Type: AWS::CloudWatch::Dashboard\n"
                                     "    Properties:\n      DashboardBody: '{\"widgets\": ['\n")
    with pytest.raises(TemplateError, match=r"Resources.B.Properties.DashboardBody: not valid JSON"):
        load_template(tmp_path / "t.yaml")


def test_the_new_resource_kinds_are_deployed_into_moto(runtime: LocalLambdaRuntime) -> None:
    # GIVEN the fixture template
    stack = load_template(TEMPLATE, stack_name="fx")
    with mock_aws():
        # WHEN it is deployed
        out = deploy(stack, runtime)
        s3 = boto3.client("s3", region_name="us-east-1")
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        bucket = out.buckets["StoreBucket"]
        versioning = s3.get_bucket_versioning(Bucket=bucket)["Status"]
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        s3.put_object(Bucket=bucket, Key="runs/r1/plan.json", Body=b"{}")  # the policy is recorded, not applied
        alarms = {a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
        dashboards = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
        switch = boto3.client("ssm", region_name="us-east-1").describe_parameters(
            ParameterFilters=[{"Key": "Name", "Values": ["/fx/enabled"]}])["Parameters"]
    # THEN the bucket exists with the template's versioning, encryption and lifecycle rules
    assert bucket == stack.buckets["StoreBucket"].name and versioning == "Enabled"
    assert {r["ID"] for r in rules} == {"noncurrent", "runs"}
    assert encryption[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # AND the alarms and the dashboard exist; the kill switch keeps its allowed pattern
    assert [p.get("AllowedPattern") for p in switch] == ["^(true|false)$"]
    assert alarms == {"fx-failed", "fx-CostAlarm"} == set(out.alarms)
    assert dashboards == ["fx-board"] == out.dashboards
    # AND the bucket policy and the custom resource are recorded, not created (nothing invokes the hook)
    assert out.recorded == {"StoreBucketPolicy": "AWS::S3::BucketPolicy",
                            "Hook": "AWS::CloudFormation::CustomResource"}


def test_definition_substitutions_are_applied() -> None:
    sm = load_template(TEMPLATE, parameters={"MapMaxConcurrency": "4"}).state_machine()
    definition = json.loads(sm.definition)
    assert definition["States"]["Count"]["Parameters"]["FunctionName"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:thermostat-CounterFunction"
    assert definition["States"]["Fan Out"]["MaxConcurrency"] == 4
    assert sm.substitutions["OtherFunctionArn"].endswith(":function:thermostat-other")


def test_schedules_are_recorded_with_their_condition() -> None:
    on = load_template(TEMPLATE).schedules
    off = load_template(TEMPLATE, parameters={"ScheduleEnabled": "false"}).schedules
    assert [(s.expression, s.enabled, s.type) for s in on] == [("rate(5 minutes)", True, "ScheduleV2")]
    assert [s.enabled for s in off] == [False]


@pytest.mark.parametrize("overrides, message", [
    ({"Nope": "1"}, "'Nope' is not a template parameter"),
    ({"ScheduleEnabled": "maybe"}, "Parameters.ScheduleEnabled='maybe' is not one of"),
    ({"MapMaxConcurrency": "many"}, "Parameters.MapMaxConcurrency='many' is not a number"),
])
def test_bad_parameter_overrides_are_named(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        load_template(TEMPLATE, parameters=overrides)


def test_a_substitution_missing_from_the_template_is_named(tmp_path: Path) -> None:
    # GIVEN a definition that uses a substitution the template does not define
    (tmp_path / "sm.json").write_text('{"StartAt": "A", "States": {"A": {"Type": "Task", '
                                      '"Resource": "${NopeArn}", "End": true}}}')
    (tmp_path / "t.yaml").write_text("Resources:\n  M:\n    Type: AWS::Serverless::StateMachine\n"
                                     "    Properties:\n      DefinitionUri: sm.json\n")
    # THEN loading it names the missing key and the file
    with pytest.raises(TemplateError, match=r"sm.json: \$\{NopeArn\} is not in M's DefinitionSubstitutions"):
        load_template(tmp_path / "t.yaml")


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such file"):
        load_template(tmp_path / "absent.yaml")
    (tmp_path / "t.yaml").write_text("Resources:\n  F:\n    Type: AWS::Serverless::Function\n"
                                     "    Properties:\n      CodeUri: nowhere/\n      Handler: app.handler\n")
    with pytest.raises(TemplateError, match=r"Resources.F.Properties.CodeUri: directory 'nowhere/' does not exist"):
        load_template(tmp_path / "t.yaml")


def test_intrinsics() -> None:
    resolver = Resolver(parameters={"Env": "prod", "List": "a,b,c"}, pseudo={"AWS::Region": "eu-west-1"},
                        ref=lambda name: {"Thing": "thing-1"}[name],
                        get_att=lambda res, att: f"{res}/{att}",
                        conditions={"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
                        mappings={"Sizes": {"prod": {"mem": 1024}}})
    assert resolver.resolve({"Fn::Sub": "${Env}-${AWS::Region}-${Thing.Arn}-${!Literal}"}) == \
        "prod-eu-west-1-Thing/Arn-${Literal}"
    assert resolver.resolve({"Fn::Sub": ["${X}-${Env}", {"X": {"Ref": "Thing"}}]}) == "thing-1-prod"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "List"}]}]}) == "b"
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "Env"}]]}) == "a-prod"
    assert resolver.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"
    assert resolver.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "mem"]}) == 1024
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert resolver.resolve({"a": {"Ref": "AWS::NoValue"}, "b": 1}) == {"b": 1}
    with pytest.raises(TemplateError, match="Ref to unknown parameter or resource 'Nope'"):
        resolver.resolve({"Ref": "Nope"})


def test_definition_substitution_leaves_unknown_placeholders() -> None:
    assert substitute_definition('{"a": "${A}", "b": ${N}, "c": "${Other}"}', {"A": "x", "N": 3}) == \
        '{"a": "x", "b": 3, "c": "${Other}"}'


@pytest.mark.skipif(not (REPO / "template.yaml").is_file(), reason="the project template is not there yet")
def test_the_project_template_reads_completely() -> None:
    # GIVEN the real template.yaml, with the demo targets turned on
    stack = load_template(REPO / "template.yaml", parameters={"DeployDemoTargets": "true"})
    # THEN every workflow state's function resolves into the definition, and the demo targets are tagged
    definition = stack.state_machine().definition
    for logical_id in ("ValidateInputFunction", "CollectMetricsFunction", "ForecastFunction", "PlanFunction",
                       "WarmBatchFunction", "SummarizeFunction"):
        assert stack.function(logical_id).arn in definition
        assert (stack.function(logical_id).code_dir / "app.py").is_file()
    tagged = [f for f in stack.functions.values() if f.tags.get("thermostat:enabled") == "true"]
    assert len(tagged) >= 2
    assert stack.schedules and stack.schedules[0].expression.startswith("rate(")
    # AND the state store, the kill switch and the stack name reach every function's environment
    bucket, switch = stack.buckets["StateBucket"].name, stack.ssm_parameters["KillSwitchParameter"]
    assert switch.name == "/thermostat/warming-enabled" and switch.value == "true"
    for fn in stack.functions.values():
        assert fn.environment["THERMOSTAT_STATE_BUCKET"] == bucket, fn.logical_id
        assert fn.environment["THERMOSTAT_KILL_SWITCH_PARAMETER"] == switch.name, fn.logical_id
        assert fn.environment["THERMOSTAT_STACK_NAME"] == "thermostat", fn.logical_id
    # AND the prewarm custom resource is recorded against the state machine, never invoked
    prewarm = stack.custom_resources["Prewarm"]
    assert prewarm.properties["StateMachineArn"] == stack.state_machine().arn
    assert prewarm.service_token == stack.function("PrewarmFunction").arn
    assert not any(o.startswith("<unresolved") for o in map(str, stack.outputs.values())), stack.outputs


@pytest.mark.skipif(not (REPO / "template.yaml").is_file(), reason="the project template is not there yet")
def test_the_project_template_deploys_no_demo_target_by_default() -> None:
    # GIVEN the real template with its defaults
    stack = load_template(REPO / "template.yaml")
    # THEN no demo target, demo log group, demo parameter or demo output is deployed
    assert not [f for f in stack.functions.values() if "-demo-" in f.name]
    assert not [g for g in stack.log_groups.values() if "-demo-" in g.name]
    assert set(stack.ssm_parameters) == {"KillSwitchParameter"}
    assert not [o for o in stack.outputs if o.startswith(("SchemaRegistry", "SsmConfig", "HandlerObject", "Demo"))]
    # AND the budget alarm exists only with a budget
    assert "OverBudgetAlarm" not in stack.alarms
    capped = load_template(REPO / "template.yaml", parameters={"MonthlyBudgetUsd": "40"})
    assert capped.alarms["OverBudgetAlarm"].arguments["Threshold"] == 40.0

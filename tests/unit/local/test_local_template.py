"""Reading a SAM template into what the embedded AWS deploys (a small fixture template, then the real one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thermostat.local.exceptions import TemplateError
from thermostat.local.intrinsics import NO_VALUE, Resolver, substitute_definition
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
    assert counter.environment == {"GREETING": "hello", "STACK": "thermostat-us-east-1",
                                   "PARAM_NAME": "/thermostat/config"}
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
    assert stack.outputs == {"MachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:demo-machine",
                             "CounterFunctionName": "demo-CounterFunction"}


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
    # GIVEN the real template.yaml
    stack = load_template(REPO / "template.yaml")
    # THEN every workflow state's function resolves into the definition, and the demo targets are tagged
    definition = stack.state_machine().definition
    for logical_id in ("ValidateInputFunction", "CollectMetricsFunction", "ForecastFunction", "PlanFunction",
                       "WarmBatchFunction", "SummarizeFunction"):
        assert stack.function(logical_id).arn in definition
        assert (stack.function(logical_id).code_dir / "app.py").is_file()
    tagged = [f for f in stack.functions.values() if f.tags.get("thermostat:enabled") == "true"]
    assert len(tagged) >= 2
    assert stack.schedules and stack.schedules[0].expression.startswith("rate(")

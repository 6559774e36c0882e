"""Contract: template.yaml <-> thermostat.config <-> events/ <-> layers/ (parameters, env vars, IAM, logs)."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
from contract_helpers import ROOT, Renderer, load_event

from thermostat import config
from thermostat.exceptions import ConfigurationError
from thermostat_target import config as target_config

SETTINGS = (config.DiscoverySettings, config.RunSettings, config.PlanSettings, config.SummarySettings,
            config.ForecastSettings)
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours)\)$")


def env_of(resources: dict[str, Any], globals_function: dict[str, Any], logical_id: str) -> dict[str, Any]:
    own = (resources[logical_id]["Properties"].get("Environment") or {}).get("Variables") or {}
    return {**globals_function["Environment"]["Variables"], **own}


def config_env_names() -> set[str]:
    return {v for k, v in vars(config).items() if k.isupper() and isinstance(v, str) and v.startswith("THERMOSTAT_")}


def rendered_env(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    renderer = Renderer(template, overrides)
    return {k: str(renderer.render(v)) for k, v in template["Globals"]["Function"]["Environment"]["Variables"].items()}


def test_thermostat_env_vars_are_exactly_the_config_constants(resources, globals_function, workflow_functions):
    # GIVEN the THERMOSTAT_* variables every workflow function gets
    for logical_id in workflow_functions:
        names = {n for n in env_of(resources, globals_function, logical_id) if n.startswith("THERMOSTAT_")}
        # THEN they are the constants of thermostat.config, no more, no less
        assert names == config_env_names(), logical_id


def test_globals_runtime_powertools_logging_tracing(globals_function):
    variables = globals_function["Environment"]["Variables"]
    assert globals_function["Runtime"] == "python3.13"
    assert globals_function["Architectures"] == ["x86_64"]
    assert globals_function["Tracing"] == "Active"
    assert globals_function["LoggingConfig"]["LogFormat"] == "JSON"
    assert variables[config.METRICS_NAMESPACE] == config.DEFAULT_NAMESPACE
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"} <= set(variables)


def test_parameters_are_described_and_constrained(template, parameters):
    renderer = Renderer(template)
    for name, spec in parameters.items():
        # THEN each parameter says what it does and cannot take an arbitrary value
        assert len(spec.get("Description", "")) >= 20, name
        constraints = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue"} & set(spec)
        assert constraints, f"{name} is unconstrained"
        default = str(renderer.values[name])
        # AND its default satisfies its own constraints
        if "AllowedValues" in spec:
            assert default in [str(v) for v in spec["AllowedValues"]], name
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], default), name
        if "MinValue" in spec:
            assert spec["MinValue"] <= float(default) <= spec["MaxValue"], name


@pytest.mark.parametrize("bound", ["MinValue", "MaxValue"])
def test_every_number_parameter_range_is_accepted_by_config(template, parameters, bound):
    # GIVEN a Number parameter at its bound, every other parameter at its default — except that MinWarm and
    # MaxWarm are checked as a pair (MinWarm <= MaxWarm), so MinWarm's bound comes with MaxWarm's maximum
    numbers = [name for name, spec in parameters.items() if spec["Type"] == "Number" and bound in spec]
    for name in numbers:
        overrides = {name: str(parameters[name][bound])}
        if name == "MinWarm":
            overrides["MaxWarm"] = str(parameters["MaxWarm"]["MaxValue"])
        env = rendered_env(template, overrides)
        # THEN every settings class of the functions reads the rendered environment without complaint
        for settings in SETTINGS:
            try:
                settings.from_env(env)
            except ConfigurationError as exc:  # pragma: no cover - the assertion message is the point
                pytest.fail(f"{name}={parameters[name][bound]}: {settings.__name__}: {exc}")


def test_schedule_period_and_horizon_follow_the_rate(template, parameters):
    for rate in parameters["ScheduleRate"]["AllowedValues"]:
        # GIVEN each allowed ScheduleRate
        amount, unit = RATE.fullmatch(rate).groups()
        seconds = int(amount) * (3600 if unit.startswith("hour") else 60)
        env = rendered_env(template, {"ScheduleRate": rate})
        # THEN the functions are told the same period (seconds) and forecast horizon (minutes)
        assert int(env[config.PERIOD_SECONDS]) == seconds, rate
        assert int(env[config.HORIZON_MINUTES]) * 60 == seconds, rate
        assert config.PlanSettings.from_env(env).period_s == seconds
        assert config.ForecastSettings.from_env(env).tick_minutes * 60 == seconds


def test_schedule_runs_the_state_machine_with_the_scheduled_event(template, state_machine):
    schedule = state_machine["Events"]["Schedule"]
    assert schedule["Type"] == "ScheduleV2"
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "ScheduleRate"}
    assert Renderer(template, {"ScheduleEnabled": "false"}).render(props["State"]) == "DISABLED"
    assert Renderer(template).render(props["State"]) == "ENABLED"
    # THEN the schedule sends exactly events/scheduled.json
    assert json.loads(props["Input"]) == load_event("scheduled.json")
    assert state_machine["Type"] == {"Ref": "WorkflowType"}


def test_warm_function_may_invoke_only_tagged_and_listed_functions(template, resources):
    policy = resources["WarmBatchInvokePolicy"]["Properties"]
    assert policy["RoleName"] == {"Ref": "WarmBatchFunctionRole"}
    # GIVEN the policy document rendered without and with explicit targets
    plain = json.loads(Renderer(template).render(policy["PolicyDocument"]))
    listed = json.loads(Renderer(template, {"ExplicitTargets": "orders-api,billing:live"}).render(
        policy["PolicyDocument"]))
    tagged = plain["Statement"][0]
    # THEN invoking needs the opt-in tag on the target, whatever the function
    assert plain["Statement"] == [tagged]
    assert tagged["Action"] == "lambda:InvokeFunction"
    assert tagged["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:*"
    assert tagged["Condition"] == {"StringEquals": {"aws:ResourceTag/thermostat:enabled": "true"}}
    # AND the listed functions (and their qualifiers) are allowed by name, nothing else
    explicit = listed["Statement"][1]
    prefix = "arn:aws:lambda:us-east-1:123456789012:function:"
    assert set(explicit["Resource"]) == {
        prefix + "orders-api", prefix + "orders-api:*", prefix + "billing:live", prefix + "billing:live:*"}
    # AND the tag key/value parameters flow into the condition
    custom = json.loads(Renderer(template, {"TargetTagKey": "team:warm", "TargetTagValue": "yes"}).render(
        policy["PolicyDocument"]))
    assert custom["Statement"][0]["Condition"] == {"StringEquals": {"aws:ResourceTag/team:warm": "yes"}}


def test_explicit_targets_pattern_matches_what_config_parses(parameters):
    pattern = parameters["ExplicitTargets"]["AllowedPattern"]
    for good in ("", "orders-api", "orders-api,billing:live", ",".join(f"f{i}" for i in range(10))):
        assert re.fullmatch(pattern, good), good
        assert len(config.parse_explicit_targets(good)) == len([p for p in good.split(",") if p])
    # THEN what the IAM policy cannot express (spaces, ARNs, an 11th name) is refused at deploy time
    for bad in ("a, b", "arn:aws:lambda:us-east-1:123456789012:function:a", ",".join(f"f{i}" for i in range(11))):
        assert not re.fullmatch(pattern, bad), bad


def test_collect_metrics_reads_but_cannot_invoke(resources):
    statements = resources["CollectMetricsFunction"]["Properties"]["Policies"][0]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"tag:GetResources", "lambda:ListFunctions", "cloudwatch:GetMetricData", "lambda:GetAccountSettings",
            "lambda:GetFunctionConcurrency",
            "lambda:GetProvisionedConcurrencyConfig"} <= actions
    assert not any(a.endswith(("InvokeFunction", "*")) or a.startswith(("lambda:Put", "lambda:Update"))
                   for a in actions)
    # AND not the unused grants: GetFunction returns code download URLs, ListTags was never called
    assert not {"lambda:GetFunction", "lambda:ListTags"} & actions


def test_every_function_and_the_state_machine_log_to_a_retained_group(resources, state_machine):
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    groups = [functions[k]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for k in functions]
    groups.append(state_machine["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
                  ["Fn::GetAtt"][0])
    for group in groups:
        assert resources[group]["Type"] == "AWS::Logs::LogGroup"
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    all_groups = {k for k, v in resources.items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert set(groups) == all_groups, "a log group nobody writes to"


def test_layers_are_built_by_their_makefiles(resources, workflow_functions):
    layers = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::LayerVersion"}
    for name, layer in layers.items():
        meta = layer["Metadata"]
        assert meta["BuildMethod"] == "makefile", name
        folder = meta.get("ContextPath") or layer["Properties"]["ContentUri"]
        makefile = (ROOT / folder / "Makefile").read_text(encoding="utf-8")
        # THEN sam build finds the build-<LogicalId> target it runs
        assert re.search(rf"^build-{name}:", makefile, re.MULTILINE), name
    for logical_id in workflow_functions:
        used = {ref["Ref"] for ref in resources[logical_id]["Properties"]["Layers"]}
        assert {"WorkflowLayer", "PowertoolsLayer", "TargetLibraryLayer"} <= used, logical_id
        assert ("ForecastDependenciesLayer" in used) == (logical_id == "ForecastFunction"), logical_id
        assert len(used) <= 5, "Lambda allows 5 layers per function"


def test_demo_targets_exist_only_when_asked_for(template, resources):
    # GIVEN everything the demo brings: its functions, their log groups, its SSM parameter, their outputs
    demo_resources = {k for k in resources if k.endswith(("TargetFunction", "TargetLogGroup"))} | {
        "DemoConfigParameter"}
    demo_outputs = {k for k in template["Outputs"] if k.endswith("TargetFunctionName")} | {"DemoConfigParameterName"}
    assert len(demo_resources) == 7 and len(demo_outputs) == 4
    # THEN each is conditioned on DeployDemoTargets=true, which is off by default
    for name in demo_resources:
        assert resources[name].get("Condition") == "DeployDemos", name
    for name in demo_outputs:
        assert template["Outputs"][name].get("Condition") == "DeployDemos", name
    assert template["Parameters"]["DeployDemoTargets"]["Default"] == "false"
    assert Renderer(template).condition("DeployDemos") is False
    assert Renderer(template, {"DeployDemoTargets": "true"}).condition("DeployDemos") is True
    # AND nothing else is conditioned on it
    others = {k for k, v in resources.items() if v.get("Condition") == "DeployDemos"} - demo_resources
    assert not others


def test_demo_targets_are_opted_in_and_use_the_target_library(template, resources):
    defaults = template["Parameters"]
    demos = {k: v["Properties"] for k, v in resources.items() if k.endswith("TargetFunction")}
    assert {"SchemaRegistryTargetFunction", "SsmConfigTargetFunction"} <= set(demos)
    for name, props in demos.items():
        # THEN each carries the default opt-in tag and the target library layer, from examples/targets/
        assert props["Tags"] == {defaults["TargetTagKey"]["Default"]: defaults["TargetTagValue"]["Default"]}, name
        assert props["Layers"] == [{"Ref": "TargetLibraryLayer"}], name
        assert props["CodeUri"].startswith("examples/targets/"), name
        # AND emits the library's metrics that Collect Metrics reads (warm pings vs real invocations)
        assert props["Environment"]["Variables"][target_config.METRICS_ENV] == "true", name
    ssm = demos["SsmConfigTargetFunction"]
    assert ssm["Environment"]["Variables"]["CONFIG_PARAMETER_NAME"] == {"Ref": "DemoConfigParameter"}
    assert resources["DemoConfigParameter"]["Type"] == "AWS::SSM::Parameter"


def test_sample_events_name_the_demo_targets_the_template_deploys(template, resources):
    # GIVEN the stack name samconfig.toml deploys and the demo function names it yields
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    stack = samconfig["default"]["deploy"]["parameters"]["stack_name"]
    renderer = Renderer(template, {})
    names = {renderer.render(v["Properties"]["FunctionName"]).replace("thermostat", stack, 1)
             for k, v in resources.items() if k.endswith("TargetFunction")}
    # THEN the manual run warms functions that exist after `sam deploy`
    wanted = {t["function"] for t in load_event("manual-run.json")["targets"]}
    assert wanted <= names


def test_outputs_cover_what_users_and_tests_need(template, workflow_functions):
    outputs = template["Outputs"]
    needed = {"StateMachineArn", "StateMachineName", "StateMachineConsoleUrl", "TargetLibraryLayerArn",
              "SchemaRegistryTargetFunctionName", "SsmConfigTargetFunctionName", "StateBucketName",
              "KillSwitchParameterName", "DashboardUrl"}
    needed |= {f"{fn}{suffix}" for fn in workflow_functions for suffix in ("Name", "Arn")}
    assert needed <= set(outputs)
    for name, output in outputs.items():
        assert output.get("Description"), name


def test_the_cost_model_uses_the_memory_sizes_the_template_deploys(resources, globals_function):
    # GIVEN the run cost model (Summarize's run cost, the simulator's costing) and the workflow functions
    from thermostat import run_cost

    logical = {"validate_input": "ValidateInputFunction", "collect_metrics": "CollectMetricsFunction",
               "forecast": "ForecastFunction", "plan": "PlanFunction", "warm_batch": "WarmBatchFunction",
               "summarize": "SummarizeFunction"}
    # THEN each function is costed at the memory it really gets (its own MemorySize, else the Globals')
    for name, logical_id in logical.items():
        memory = resources[logical_id]["Properties"].get("MemorySize", globals_function["MemorySize"])
        assert run_cost.MEMORY_MB[name] == memory, name

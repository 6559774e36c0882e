"""Contract: what template.yaml grants, keeps, watches and publishes (IAM, state bucket, kill switch, alarms,
dashboard, prewarm, Serverless Application Repository metadata, security-linter suppressions)."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
from contract_helpers import ASL, ROOT, TEMPLATE, Renderer

PERIODS = {"rate(5 minutes)": 300, "rate(10 minutes)": 600, "rate(15 minutes)": 900, "rate(30 minutes)": 1800,
           "rate(1 hour)": 3600}
STATE_MACHINE_TIMEOUT_S = 240
STACK = "thermostat"  # what Renderer gives AWS::StackName


def statements(resources: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    policies = resources[logical_id]["Properties"].get("Policies") or []
    return [s for p in policies if isinstance(p, dict) and "Statement" in p for s in p["Statement"]]


def grants(template: dict[str, Any], logical_id: str) -> set[tuple[str, str]]:
    """(action, rendered resource) pairs a function's own Policies grant."""
    renderer = Renderer(template)
    out = set()
    for statement in statements(template["Resources"], logical_id):
        assert statement["Effect"] == "Allow", logical_id
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        rendered = renderer.render(statement["Resource"])
        for action in actions:
            for resource in rendered if isinstance(rendered, list) else [rendered]:
                out.add((action, resource))
    return out


FUNCTIONS = "arn:aws:lambda:us-east-1:123456789012:function:*"
BUCKET = "<StateBucket.Arn>"
STORE = {("s3:GetObject", f"{BUCKET}/thermostat/*"), ("s3:PutObject", f"{BUCKET}/thermostat/*"),
         ("s3:ListBucket", "<StateBucket.Arn>")}
EXPECTED_GRANTS = {
    "ValidateInputFunction": {
        ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter<KillSwitchParameter>")},
    "CollectMetricsFunction": {
        ("tag:GetResources", "*"), ("lambda:ListFunctions", "*"), ("lambda:GetAccountSettings", "*"),
        ("cloudwatch:GetMetricData", "*"),
        ("lambda:GetFunctionConcurrency", FUNCTIONS),
        ("lambda:GetProvisionedConcurrencyConfig", FUNCTIONS),
        ("s3:GetObject", f"{BUCKET}/thermostat/state/*"), ("s3:PutObject", f"{BUCKET}/thermostat/state/*"),
        ("s3:GetObject", f"{BUCKET}/thermostat/runs/*"), ("s3:PutObject", f"{BUCKET}/thermostat/runs/*"),
        ("s3:ListBucket", "<StateBucket.Arn>"), ("s3:DeleteObject", f"{BUCKET}/thermostat/state/*")},
    "ForecastFunction": STORE,
    "PlanFunction": STORE,
    "SummarizeFunction": STORE | {("s3:DeleteObject", f"{BUCKET}/thermostat/state/*")},
    "WarmBatchFunction": {
        ("s3:GetObject", f"{BUCKET}/thermostat/runs/*"), ("s3:PutObject", f"{BUCKET}/thermostat/runs/*"),
        ("s3:ListBucket", "<StateBucket.Arn>")},
    "PrewarmFunction": {("states:StartExecution", "<WarmingStateMachine>")},
}


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_GRANTS))
def test_each_function_is_granted_exactly_what_it_uses(template, logical_id):
    # THEN the function's own policies grant these (action, resource) pairs and nothing else
    assert grants(template, logical_id) == EXPECTED_GRANTS[logical_id]


def test_every_wildcard_resource_says_why_aws_requires_it():
    # GIVEN every line of the template that grants on Resource "*"
    lines = [line for line in TEMPLATE.read_text(encoding="utf-8").splitlines()
             if re.search(r"""Resource:\s*["']\*["']""", line)]
    assert lines, "the template has no wildcard resource any more: drop this test"
    # THEN each carries a comment saying why (no resource-level permissions for that action)
    for line in lines:
        assert re.search(r"#\s*\S.{20,}", line), line
    assert all("no resource-level permissions" in line for line in lines)


def test_the_state_bucket_is_private_encrypted_versioned_and_expires_what_it_should(template, resources):
    bucket = resources["StateBucket"]
    props = bucket["Properties"]
    # THEN it is deleted with the stack (derived data; docs/deploy.md says how to empty it first)
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert all(r["Status"] == "Enabled" for r in rules.values())
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    runs = rules["expire-run-documents"]
    assert (runs["Prefix"], runs["ExpirationInDays"]) == ("thermostat/runs/", {"Ref": "RunRetentionDays"})
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # AND its policy refuses any request that is not over TLS, on the bucket and on every object
    policy = Renderer(template).render(resources["StateBucketPolicy"]["Properties"])
    assert policy["Bucket"] == "<StateBucket>"
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == ["<StateBucket.Arn>", "<StateBucket.Arn>/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_kill_switch_is_a_parameter_only_validate_input_reads(template, resources, globals_function):
    switch = Renderer(template, {"WarmingEnabled": "false"}).render(resources["KillSwitchParameter"]["Properties"])
    # THEN it is /<stack>/warming-enabled, starting from the WarmingEnabled parameter, true or false only
    assert (switch["Name"], switch["Value"], switch["Type"]) == (f"/{STACK}/warming-enabled", "false", "String")
    assert re.fullmatch(switch["AllowedPattern"], "true") and not re.fullmatch(switch["AllowedPattern"], "True")
    # AND the functions are told its name
    variables = globals_function["Environment"]["Variables"]
    assert variables["THERMOSTAT_KILL_SWITCH_PARAMETER"] == {"Ref": "KillSwitchParameter"}
    # AND only Validate Input may read it
    readers = {k for k in EXPECTED_GRANTS if any("KillSwitchParameter" in r for _, r in grants(template, k))}
    assert readers == {"ValidateInputFunction"}


def test_new_settings_reach_the_functions(template, globals_function):
    variables = globals_function["Environment"]["Variables"]
    expected = {"THERMOSTAT_STATE_BUCKET": {"Ref": "StateBucket"}, "THERMOSTAT_STACK_NAME": {"Ref": "AWS::StackName"},
                "THERMOSTAT_PRICE_PER_COLD_START": {"Ref": "PricePerColdStart"},
                "THERMOSTAT_MONTHLY_BUDGET_USD": {"Ref": "MonthlyBudgetUsd"},
                "THERMOSTAT_MAX_TARGETS": {"Ref": "MaxTargets"},
                "THERMOSTAT_METRIC_READ_HOURS": {"Ref": "MetricReadHours"}}
    assert {k: variables.get(k) for k in expected} == expected
    # AND the removed settings are gone (history is kept 3 days in the store; lead times are learned)
    assert not {"LookbackMinutes", "ReleaseLeadMs"} & set(template["Parameters"])
    assert not {"THERMOSTAT_LOOKBACK_MINUTES", "THERMOSTAT_LEAD_MS"} & set(variables)


def test_every_parameter_is_in_exactly_one_parameter_group(template):
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    listed = [name for group in groups for name in group["Parameters"]]
    assert sorted(listed) == sorted(template["Parameters"])


def test_the_state_machine_times_out_before_the_next_scheduled_run(template, parameters):
    # GIVEN the schedule periods the template allows
    assert set(parameters["ScheduleRate"]["AllowedValues"]) == set(PERIODS)
    # THEN the definition's TimeoutSeconds is below the shortest (two runs never overlap for long)
    asl = json.loads(ASL.read_text(encoding="utf-8"))
    assert asl.get("TimeoutSeconds") == STATE_MACHINE_TIMEOUT_S
    assert min(PERIODS.values()) > STATE_MACHINE_TIMEOUT_S


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def test_every_alarm_notifies_the_optional_topic(template, resources):
    for name, alarm in alarms(resources).items():
        actions = alarm["Properties"]["AlarmActions"]
        assert Renderer(template).render(actions) is None, name  # AWS::NoValue without a topic
        topic = "arn:aws:sns:us-east-1:123456789012:ops"
        assert Renderer(template, {"AlarmTopicArn": topic}).render(actions) == [topic], name


def test_alarms_cover_failed_timed_out_aborted_and_missing_runs(template, resources):
    by_metric = {(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")): a
                 for a in alarms(resources).values()}
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        props = by_metric[("AWS/States", metric)]["Properties"]
        assert props["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "WarmingStateMachine"}}]
        assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    # THEN "no run started for three schedule periods" breaches on missing data, one period = the schedule's
    no_runs = by_metric[("AWS/States", "ExecutionsStarted")]
    props = no_runs["Properties"]
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["TreatMissingData"]) == (3, 3, "breaching")
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "LessThanThreshold")
    for rate, seconds in PERIODS.items():
        assert Renderer(template, {"ScheduleRate": rate}).render(props["Period"]) == seconds, rate
    # AND it exists only while the schedule runs (a disabled schedule is not an outage)
    assert no_runs["Condition"] == "ScheduleOn"


def test_alarms_on_thermostat_metrics_are_scoped_to_this_stack(template, resources):
    own = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms(resources).values()
           if a["Properties"].get("Namespace") == "Thermostat"}
    # THEN throttled and degraded runs alarm, each on the Stack dimension only (two stacks never mix)
    assert set(own) == {"Throttles", "Degraded"}
    for name, props in own.items():
        assert props["Dimensions"] == [{"Name": "Stack", "Value": {"Ref": "AWS::StackName"}}], name
        assert props["TreatMissingData"] == "notBreaching", name
    assert own["Degraded"]["Statistic"] == "Maximum" and own["Throttles"]["Statistic"] == "Sum"


def test_the_budget_alarm_compares_a_day_of_cost_times_30_with_the_monthly_budget(template, resources):
    alarm = resources["OverBudgetAlarm"]
    props = alarm["Properties"]
    # THEN it exists only with a budget (0 = no cap)
    assert alarm["Condition"] == "HasBudget"
    assert Renderer(template).condition("HasBudget") is False
    assert Renderer(template, {"MonthlyBudgetUsd": "50"}).condition("HasBudget") is True
    daily, monthly = props["Metrics"]
    stat = daily["MetricStat"]
    assert stat["Metric"] == {"Namespace": "Thermostat", "MetricName": "RunCostUsd",
                              "Dimensions": [{"Name": "Stack", "Value": {"Ref": "AWS::StackName"}}]}
    assert (stat["Period"], stat["Stat"], daily["ReturnData"]) == (86400, "Sum", False)
    assert monthly["Expression"].replace(" ", "") == f"{daily['Id']}*30" and monthly["ReturnData"] is True
    assert (props["Threshold"], props["ComparisonOperator"]) == ({"Ref": "MonthlyBudgetUsd"}, "GreaterThanThreshold")


@pytest.mark.parametrize("rate", sorted(PERIODS))
def test_the_dashboard_covers_runs_and_any_number_of_targets(template, resources, rate):
    # GIVEN the dashboard body rendered for a schedule rate
    body = json.loads(Renderer(template, {"ScheduleRate": rate}).render(
        resources["Dashboard"]["Properties"]["DashboardBody"]))
    widgets = [w["properties"] for w in body["widgets"] if w["type"] == "metric"]
    rows = [row for w in widgets for row in w["metrics"]]
    searches = [row[0]["expression"] for row in rows if isinstance(row[0], dict)]
    plain = {(row[0], row[1]) for row in rows if isinstance(row[0], str)}
    # THEN every metric widget names its region and uses the schedule period
    assert all(w["region"] == "us-east-1" and w["period"] == PERIODS[rate] for w in widgets)
    # AND the per-target widgets are SEARCHes on this stack's Stack and Target dimensions (any number of targets)
    searched = set()
    for expression in searches:
        match = re.fullmatch(r"SEARCH\('\{Thermostat,Stack,Target\} Stack=\"(.+)\" MetricName=\"(\w+)\"', "
                             r"'(\w+)', (\d+)\)", expression)
        assert match, expression
        assert match.group(1) == STACK and int(match.group(4)) == PERIODS[rate]
        searched.add(match.group(2))
    assert searched == {"Desired", "DistinctEnvironments", "RealColdStarts", "Throttles", "CostUsd"}
    # AND per run: duration and status
    assert ("Thermostat", "RunDurationMs") in plain
    assert {("AWS/States", f"Executions{s}") for s in ("Succeeded", "Failed", "TimedOut", "Aborted")} <= plain


def test_prewarm_starts_one_execution_after_each_deploy_and_can_do_nothing_else(template, resources):
    prewarm = resources["Prewarm"]
    props = prewarm["Properties"]
    assert prewarm["Type"] == "AWS::CloudFormation::CustomResource" and prewarm["Condition"] == "ScheduleOn"
    assert props["ServiceToken"] == {"Fn::GetAtt": ["PrewarmFunction", "Arn"]}
    assert props["StateMachineArn"] == {"Ref": "WarmingStateMachine"}
    # THEN any parameter change (or state machine change) is a property change: CloudFormation calls it again
    assert set(props["Settings"]) == set(template["Parameters"])
    assert props["StateMachineRevision"] == {"Fn::GetAtt": ["WarmingStateMachine", "StateMachineRevisionId"]}
    function = resources["PrewarmFunction"]["Properties"]
    assert function["CodeUri"] == "functions/prewarm/" and (ROOT / "functions/prewarm/app.py").is_file()
    assert "Layers" not in function  # standard library + boto3 from the runtime


def test_the_app_can_be_published_to_the_serverless_application_repository(template):
    app = template["Metadata"]["AWS::ServerlessRepo::Application"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    # THEN the required fields are there and valid for the repository
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", app["Author"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", app["SemanticVersion"])
    assert app["SpdxLicenseId"] == pyproject["project"]["license"] == "Apache-2.0"
    assert "Apache License" in (ROOT / app["LicenseUrl"]).read_text(encoding="utf-8")
    assert (ROOT / app["ReadmeUrl"]).is_file()
    assert 1 <= len(app["Labels"]) <= 10 and all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", x) for x in app["Labels"])
    assert all(app[k].startswith("https://") for k in ("HomePageUrl", "SourceCodeUrl"))
    assert len(app["Description"]) <= 256 and len(app["Name"]) <= 140


def test_every_security_linter_suppression_is_justified(resources):
    # GIVEN every checkov suppression in the template (resource Metadata)
    skips = [(name, skip) for name, resource in resources.items()
             for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])]
    assert skips
    # THEN each names a check and says why it does not apply
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "")) >= 40, (name, skip["id"])

"""LocalAws on the small fixture template: what gets deployed, and throttles as Step Functions sees them."""

from __future__ import annotations

import boto3

from thermostat.local.session import LocalAws, LocalAwsConfig

from .conftest import FIXTURES


def test_the_template_is_deployed_through_the_service_apis() -> None:
    with LocalAws(LocalAwsConfig(template=FIXTURES / "template.yaml", stack_name="fx")) as aws:
        lam = boto3.client("lambda", region_name="us-east-1")
        config = lam.get_function(FunctionName="fx-CounterFunction")["Configuration"]
        tagged = boto3.client("resourcegroupstaggingapi", region_name="us-east-1").get_resources(
            TagFilters=[{"Key": "thermostat:enabled", "Values": ["true"]}])["ResourceTagMappingList"]
        parameter = boto3.client("ssm", region_name="us-east-1").get_parameter(Name="/fx/config")["Parameter"]
        schedule = boto3.client("scheduler", region_name="us-east-1").get_schedule(Name=aws.deployment.schedules[0])
        concurrency = lam.get_function_concurrency(FunctionName="fx-other")
        machines = boto3.client("stepfunctions", region_name="us-east-1").list_state_machines()["stateMachines"]
        seeded = [s.function for s in aws.seeded]
    # THEN functions carry the template's settings, tags, layers; the rest exists where AWS keeps it
    assert (config["MemorySize"], config["Timeout"]) == (256, 5)
    assert config["Environment"]["Variables"]["GREETING"] == "hello"
    assert [layer["Arn"] for layer in config["Layers"]] == [aws.deployment.layers["LibLayer"]]
    assert [t["ResourceARN"].rsplit(":", 1)[-1] for t in tagged] == ["fx-CounterFunction"]
    assert parameter["Value"] == '{"feature": true}'
    assert schedule["ScheduleExpression"] == "rate(5 minutes)" and schedule["State"] == "ENABLED"
    assert concurrency["ReservedConcurrentExecutions"] == 3
    assert [m["name"] for m in machines] == ["fx-machine"]
    assert seeded == ["fx-CounterFunction"]  # the tagged target got history


def test_throttles_reach_the_step_functions_interpreter_as_lambda_too_many_requests() -> None:
    with LocalAws(LocalAwsConfig(template=FIXTURES / "template.yaml")) as aws:
        # GIVEN a Map (no Retry) over a function with reserved concurrency 3
        # WHEN 3 items, then 8 overlapping items, go through it
        fits = aws.run({"items": [{"sleep": 0.2}] * 3}, timeout_s=60)
        too_many = aws.run({"items": [{"sleep": 0.3}] * 8}, timeout_s=60)
    # THEN 3 fit; 8 fail the execution with the error name Step Functions uses for Lambda's 429
    assert fits.status == "SUCCEEDED" and len(fits.output) == 3
    assert too_many.status == "FAILED"
    assert too_many.describe["error"] == "Lambda.TooManyRequestsException"
    assert "Status Code: 429" in too_many.describe["cause"]

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


def test_the_fake_clock_is_everyones_clock_and_the_runtime_publishes_lambda_metrics() -> None:
    import datetime as dt
    import json
    import time

    with LocalAws(LocalAwsConfig(template=FIXTURES / "template.yaml", stack_name="fx")) as aws:
        lam = boto3.client("lambda", region_name="us-east-1")
        cw = boto3.client("cloudwatch", region_name="us-east-1")
        start = aws.clock.time()
        # WHEN the fake clock moves 5 minutes
        aws.advance(300)
        # THEN the process's wall clock moved with it: the test, handlers and CloudWatch share one "now"
        assert time.time() - start >= 300
        body = json.loads(lam.invoke(FunctionName="fx-CounterFunction", Payload=b"{}")["Payload"].read())
        assert abs(body["now"] - aws.clock.time()) < 5
        # WHEN two more invokes overlap in that minute, then the minute ends
        with aws.hold("fx-CounterFunction", 2) as held:
            assert held.held == 2
        aws.advance(120)
        end = dt.datetime.fromtimestamp(aws.clock.time(), dt.UTC).replace(second=0)
        result = cw.get_metric_data(MetricDataQueries=[{"Id": n.lower(), "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": n,
            "Dimensions": [{"Name": "FunctionName", "Value": "fx-CounterFunction"}]}, "Period": 60, "Stat": s}}
            for n, s in (("Invocations", "Sum"), ("ConcurrentExecutions", "Maximum"))],
            StartTime=end - dt.timedelta(minutes=4), EndTime=end)["MetricDataResults"]
    # THEN the runtime's AWS/Lambda metrics of that minute are in CloudWatch, read as Lambda's
    by_id = {r["Id"]: r["Values"] for r in result}
    assert sum(by_id["invocations"]) == 3 and max(by_id["concurrentexecutions"]) == 2


def test_drive_traffic_sends_the_seeded_traffic_and_moves_the_clock() -> None:
    with LocalAws(LocalAwsConfig(template=FIXTURES / "template.yaml", stack_name="fx")) as aws:
        before = aws.runtime.snapshot()
        start = aws.clock.time()
        # WHEN 3 minutes of the seeded target's trace are driven
        figures = aws.drive_traffic(180, service_ms=0)
        counters = aws.counters(since=before)
    # THEN the clock is 3 minutes later, and the target got real (never ping) traffic the runtime saw
    assert aws.clock.time() - start >= 180
    target = figures["fx-CounterFunction"]
    assert target.requests > 0 and target.cold_starts >= 1
    assert counters["fx-CounterFunction"].real_invocations == target.requests - target.throttles
    assert counters["fx-CounterFunction"].ping_invocations == 0


def test_background_traffic_keeps_sending_while_the_block_runs() -> None:
    import time

    from thermostat.local.traffic import steady

    with LocalAws(LocalAwsConfig(template=FIXTURES / "template.yaml", stack_name="fx")) as aws:
        start = aws.clock.time()
        # WHEN a steady load runs in the background while the block waits (for at most 30 s: no timing assumed)
        with aws.background_traffic({"fx-CounterFunction": steady(3, 2)}, service_ms=0, pause_s=0.05) as figures:
            deadline = time.monotonic() + 30.0
            while figures["fx-CounterFunction"].requests < 6 and time.monotonic() < deadline:
                time.sleep(0.05)
        moved = aws.clock.time() - start
    # THEN it was sent more than once (two minutes of 3), and the fake clock was not moved by it
    assert figures["fx-CounterFunction"].requests >= 6 and moved < 30


def test_extra_targets_made_through_the_backend_are_what_create_function_makes() -> None:
    import json

    from thermostat.local.direct import DirectLambda

    with LocalAws(LocalAwsConfig(template=FIXTURES / "template.yaml", stack_name="fx")) as aws:
        lam = boto3.client("lambda", region_name="us-east-1")
        base = aws.stack.function("CounterFunction")
        # GIVEN the same definition (with a reservation and an alias) deployed through the API and directly
        changes = {"reserved_concurrency": 2, "auto_publish_alias": "live"}
        aws._deploy_like(lam, base, "fx-api-copy", **changes)
        aws._deploy_like(DirectLambda(aws.stack.account_id, aws.stack.region), base, "fx-direct-copy", **changes)

        def seen(name: str) -> dict[str, object]:
            got = lam.get_function(FunctionName=name)
            config = {k: v for k, v in got["Configuration"].items()
                      if k not in ("FunctionName", "FunctionArn", "LastModified", "RevisionId", "Environment")}
            return {"config": config, "tags": got.get("Tags"), "concurrency": got.get("Concurrency"),
                    "alias": lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"],
                    "env": sorted(got["Configuration"]["Environment"]["Variables"])}

        api, direct = seen("fx-api-copy"), seen("fx-direct-copy")
        tagged = {t["ResourceARN"].rsplit(":", 1)[-1] for t in boto3.client(
            "resourcegroupstaggingapi", region_name="us-east-1").get_resources(
            TagFilters=[{"Key": "thermostat:enabled", "Values": ["true"]}])["ResourceTagMappingList"]}
        answer = json.loads(lam.invoke(FunctionName="fx-direct-copy:live", Payload=b"{}")["Payload"].read())
    # THEN both read back alike through the API, both are tagged targets, and the direct one runs
    assert api == direct
    assert {"fx-api-copy", "fx-direct-copy"} <= tagged
    assert answer["function"] == "fx-direct-copy" and aws.runtime.reserved["fx-direct-copy"] == 2

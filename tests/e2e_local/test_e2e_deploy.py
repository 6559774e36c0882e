"""Warm on deploy on the embedded AWS: a target's code is updated through the Lambda API (its old environments
are gone), the WarmOnDeploy rule's execution — started with the input the rule's transformer builds from the
CloudTrail-shaped event — warms the new version's environments, sized by the last plan, and the first real
requests after it are warm; without the rule they are cold."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest

from thermostat.local.deploy import placeholder_zip
from thermostat.local.rules import camel, cloudtrail_event, deliver
from thermostat.local.session import LocalAws

from .conftest import REPO, LocalAwsFactory

pytestmark = pytest.mark.slow

TARGET = "orders-api"
CODE = REPO / "tests" / "e2e_local" / "targets" / "warm_aware"
FLOOR = 3  # its thermostat:min tag: the last plan warms at least this many environments


def lambda_client(aws: LocalAws) -> Any:
    return boto3.client("lambda", region_name=aws.stack.region)


def api_event(aws: LocalAws, name: str, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """What EventBridge receives when CloudTrail records the call (``response``: boto3's answer)."""
    return cloudtrail_event(name, request, camel(response), region=aws.stack.region, account_id=aws.stack.account_id)


def run_deploy(aws: LocalAws, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Deliver ``event`` to the stack's rules; every execution started, waited for: its output targets."""
    outputs = []
    for _, arn, execution_input in deliver(aws, event):
        assert execution_input["trigger"] == "deploy" and execution_input["discover"] is False
        describe = aws.wait(arn, timeout_s=120)
        aws.publish_metrics()
        assert describe["status"] == "SUCCEEDED", describe.get("cause")
        outputs.append(json.loads(describe["output"]))
    return outputs


def first_requests(aws: LocalAws, version: str | None, count: int, resource: str | None = None) -> int:
    """``count`` concurrent real requests (each holds its environment until all started): the cold starts."""
    started = threading.Barrier(count, timeout=30)
    colds: list[bool] = []
    lock = threading.Lock()

    def one() -> None:
        result = aws.runtime.invoke(TARGET, b'{"real": true}', version, resource=resource, hold=started.wait)
        with lock:
            colds.append(result.cold)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(colds) == count
    return sum(colds)


@pytest.mark.parametrize("warm_on_deploy", [True, False], ids=["with-rule", "without-rule"])
def test_new_code_is_warm_before_its_first_requests(local_aws: LocalAwsFactory, warm_on_deploy: bool) -> None:
    with local_aws(parameters={"WarmOnDeploy": str(warm_on_deploy).lower()}) as aws:
        # GIVEN an opted-in target (floor 3 by tag) that a scheduled run warmed: its last plan
        aws.add_function(TARGET, CODE, tags={"thermostat:enabled": "true", "thermostat:min": str(FLOOR)})
        before = aws.run({}, timeout_s=120)
        [planned] = [t for t in before.output["targets"] if t["key"] == TARGET]
        assert planned["desired"] >= FLOOR and planned["distinct_envs"] == planned["requested"] == planned["desired"]
        aws.advance(60)
        assert len(aws.runtime.idle_environments(TARGET)) == planned["desired"]
        # WHEN its code is updated through the Lambda API: the environments that answered are gone
        client = lambda_client(aws)
        request = {"functionName": TARGET, "publish": False}
        response = client.update_function_code(FunctionName=TARGET, ZipFile=placeholder_zip("v2"))
        assert aws.runtime.idle_environments(TARGET) == []
        # AND CloudTrail's record of that call reaches the stack's rules
        outputs = run_deploy(aws, api_event(aws, "UpdateFunctionCode20150331v2", request, response))
        if warm_on_deploy:
            # THEN one execution warmed exactly that function, sized by the last plan, on new environments
            [output] = outputs
            [warmed] = output["targets"]
            assert (warmed["key"], warmed["term"], warmed["status"]) == (TARGET, "deploy", "warmed")
            assert warmed["desired"] == planned["desired"] == warmed["distinct_envs"] == warmed["cold_inits"]
            # AND the first real requests after the deploy find them warm
            assert first_requests(aws, None, warmed["desired"]) == 0
        else:
            # THEN nothing started (no rule), and the first real requests after the deploy all start cold
            assert outputs == [] and aws.deployment is not None and aws.deployment.rules == []
            assert first_requests(aws, None, planned["desired"]) == planned["desired"]


def test_a_new_version_is_warm_before_the_alias_moves_to_it(local_aws: LocalAwsFactory) -> None:
    with local_aws(parameters={"WarmOnDeploy": "true"}) as aws:
        # GIVEN a target warmed through its alias "live" (tag thermostat:qualifier), on version 1
        aws.add_function(TARGET, CODE, tags={"thermostat:enabled": "true", "thermostat:min": "2",
                                             "thermostat:qualifier": "live"})
        client = lambda_client(aws)
        client.create_alias(FunctionName=TARGET, Name="live",
                            FunctionVersion=client.publish_version(FunctionName=TARGET)["Version"])
        before = aws.run({}, timeout_s=120)
        [live] = [t for t in before.output["targets"] if t["function"] == TARGET]
        assert live["key"] == f"{TARGET}:live" and live["distinct_envs"] == live["desired"] >= 2, live["reason"]
        aws.advance(60)
        # WHEN a deploy updates the code and publishes version 2 (CloudTrail: two calls)
        client.update_function_code(FunctionName=TARGET, ZipFile=placeholder_zip("v2"))
        published = client.publish_version(FunctionName=TARGET)
        version = published["Version"]
        [on_version] = run_deploy(aws, api_event(aws, "PublishVersion20150331", {"functionName": TARGET},
                                                 published))
        # THEN version 2 was warmed before any traffic reaches it, sized by the alias's last plan
        [warmed] = on_version["targets"]
        assert (warmed["key"], warmed["term"]) == (f"{TARGET}:{version}", "deploy")
        assert warmed["distinct_envs"] == warmed["cold_inits"] == live["desired"]
        # WHEN the alias moves to version 2 (the next call of the deploy)
        moved = client.update_alias(FunctionName=TARGET, Name="live", FunctionVersion=version)
        [on_alias] = run_deploy(aws, api_event(aws, "UpdateAlias20150331",
                                               {"functionName": TARGET, "name": "live", "functionVersion": version},
                                               moved))
        # THEN the alias's run finds those environments already warm (no new one), and real requests through
        # the alias are warm from the first one
        [again] = on_alias["targets"]
        assert again["key"] == f"{TARGET}:live" and again["cold_inits"] == 0
        assert again["distinct_envs"] == live["desired"]
        assert first_requests(aws, version, live["desired"], resource="live") == 0

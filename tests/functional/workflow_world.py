"""A small AWS account under moto for the Collect/Forecast/Plan handlers and ``thermostat plan``.

moto 5.2 answers ``GetAccountSettings`` and ``GetProvisionedConcurrencyConfig`` with ``404 Not yet
implemented``: :class:`AccountLambda` wraps moto's Lambda client and answers those two from the test's
settings (as Lambda would), everything else goes to moto. Clients are injected, so no patching is needed.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from thermostat.discovery import Clients
from thermostat.store import StateStore

REGION = "us-east-1"
BUCKET = "thermostat-state"
TAG = "thermostat:enabled"
MINUTE = 60_000


def client_error(code: str, operation: str, message: str = "denied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class AccountLambda:
    """moto's Lambda client + the two account-level answers moto lacks."""

    client: Any
    limit: int = 1000
    denied: bool = False  # GetAccountSettings -> AccessDeniedException
    provisioned: dict[tuple[str, str], int] = field(default_factory=dict)
    reserved_total: int | None = None  # None: summed from the functions' reserved concurrency
    calls: dict[str, int] = field(default_factory=dict)

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def get_account_settings(self) -> dict[str, Any]:
        self._count("get_account_settings")
        if self.denied:
            raise client_error("AccessDeniedException", "GetAccountSettings")
        reserved = self.reserved_total
        if reserved is None:
            reserved = 0
            for page in self.client.get_paginator("list_functions").paginate():
                for fn in page["Functions"]:
                    got = self.client.get_function_concurrency(FunctionName=fn["FunctionName"])
                    reserved += int(got.get("ReservedConcurrentExecutions") or 0)
        return {"AccountLimit": {"ConcurrentExecutions": self.limit,
                                 "UnreservedConcurrentExecutions": self.limit - reserved}}

    def get_provisioned_concurrency_config(self, FunctionName: str, Qualifier: str) -> dict[str, Any]:
        self._count("get_provisioned_concurrency_config")
        amount = self.provisioned.get((FunctionName, Qualifier))
        if amount is None:
            raise client_error("ProvisionedConcurrencyConfigNotFoundException", "GetProvisionedConcurrencyConfig",
                               "No Provisioned Concurrency Config found for this function")
        return {"RequestedProvisionedConcurrentExecutions": amount,
                "AllocatedProvisionedConcurrentExecutions": amount, "Status": "READY"}

    def get_paginator(self, name: str) -> Any:
        self._count(name)
        return self.client.get_paginator(name)

    def get_function_concurrency(self, **kwargs: Any) -> Any:
        self._count("get_function_concurrency")
        return self.client.get_function_concurrency(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


class World:
    """Functions, the state bucket and the clients (call inside ``mock_aws``)."""

    def __init__(self) -> None:
        self.lambda_ = AccountLambda(boto3.client("lambda", region_name=REGION))
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        self.tagging = boto3.client("resourcegroupstaggingapi", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET)
        self.role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="target-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.code = _zip()

    @property
    def clients(self) -> Clients:
        return Clients(lambda_=self.lambda_, cloudwatch=self.cloudwatch, tagging=self.tagging)

    def store(self) -> StateStore:
        return StateStore(self.s3, BUCKET)

    def function(self, name: str, *, tagged: str | None = "true", memory: int = 128, reserved: int | None = None
                 ) -> None:
        tags = {} if tagged is None else {TAG: tagged}
        self.lambda_.client.create_function(FunctionName=name, Runtime="python3.13", Role=self.role,
                                            Handler="app.handler", Code={"ZipFile": self.code}, MemorySize=memory,
                                            Tags=tags)
        if reserved is not None:
            self.lambda_.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)

    def metric(self, name: str, value: float, at_ms: int, function: str | None = None) -> None:
        dims = [] if function is None else [{"Name": "FunctionName", "Value": function}]
        self.cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
            "MetricName": name, "Dimensions": dims, "Value": value,
            "Timestamp": datetime.fromtimestamp(at_ms / 1000, tz=UTC)}])

    def account_in_use(self, value: float, now_ms: int, minutes_ago: int = 2) -> None:
        minute = now_ms - now_ms % MINUTE - minutes_ago * MINUTE
        self.metric("UnreservedConcurrentExecutions", value, minute)

    def objects(self) -> dict[str, str]:
        """Key -> ETag of everything in the bucket."""
        listed = self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {o["Key"]: o["ETag"] for o in listed}


def run_state(now_ms: int, execution: str = "exec-1", targets: list[dict[str, Any]] | None = None,
              discover: bool = True, dry_run: bool = False) -> dict[str, Any]:
    return {"run": {"id": f"arn:aws:states:{REGION}:123456789012:execution:thermostat-warming:{execution}",
                    "name": execution, "started_at_ms": now_ms, "round": 0},
            "request": {"targets": targets or [], "discover": discover, "quantile": 0.95, "horizon_minutes": 5,
                        "dry_run": dry_run},
            "enabled": True}

"""Functional tier: one workflow handler at a time, under moto's ``mock_aws`` (no network, no account)."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"

# Handlers read these at import (Powertools) or through thermostat.config; set before any handler loads.
for _key, _value in {
    "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing", "POWERTOOLS_SERVICE_NAME": "thermostat",
    "POWERTOOLS_METRICS_NAMESPACE": "Thermostat", "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_key, _value)


@dataclass
class FakeContext:
    """The parts of the Lambda context the handlers and Powertools use."""

    function_name: str = "thermostat-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:thermostat-test"
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def load_event() -> Callable[[str], Any]:
    def load(name: str) -> Any:
        return copy.deepcopy(json.loads((ROOT / "events" / name).read_text()))
    return load


@pytest.fixture
def load_handler() -> Iterator[Callable[[str], ModuleType]]:
    """A fresh import of ``functions/<name>/app.py`` (module-level clients start empty in every test)."""
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        module_name = f"thermostat_fn_{name}_app"
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        loaded.append(module_name)
        return module

    yield load
    for module_name in loaded:
        sys.modules.pop(module_name, None)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def make_function(aws: None) -> Callable[..., str]:
    """Create a Lambda function in moto; returns its ARN."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="target-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)
    code = _zip()

    def make(name: str, *, tags: dict[str, str] | None = None, memory: int = 128, timeout: int = 3,
             reserved: int | None = None) -> str:
        arn = client.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                                     Code={"ZipFile": code}, MemorySize=memory, Timeout=timeout,
                                     Tags=tags or {})["FunctionArn"]
        if reserved is not None:
            client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
        return str(arn)

    return make

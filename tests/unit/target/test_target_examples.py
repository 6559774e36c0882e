"""The example targets under examples/targets/ (what the template deploys and the docs include)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from target_helpers import load_event

from thermostat_target.protocol import parse_answer
from thermostat_target.testing import FakeLambdaContext, assert_warm_aware, make_ping, ping_context

EXAMPLES = Path(__file__).parents[3] / "examples" / "targets"


def load_app(name: str) -> ModuleType:
    """Import examples/targets/<name>/app.py as a fresh module (as Lambda would: module code runs once)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}_app_{time.monotonic_ns()}",
                                                  EXAMPLES / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_has_app_handler() -> None:
    names = sorted(p.parent.name for p in EXAMPLES.glob("*/app.py"))
    assert names == ["handler_object", "schema_registry", "ssm_config"]


def test_schema_registry_ping_loads_ahead_so_requests_never_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the schema-registry example with a 50 ms registry
    monkeypatch.setenv("SCHEMA_REGISTRY_LATENCY_MS", "50")
    app = load_app("schema_registry")
    context = ping_context(function_name="schema-registry-demo")
    assert app._fetches == 0  # nothing fetched at import
    # WHEN a ping arrives, then a real order
    answer = parse_answer(app.handler(make_ping(), context))
    result = app.handler({"order_id": "o-1", "amount": 12.5}, context)
    # THEN the ping fetched the schema and the request found it cached (no second fetch)
    assert answer.refreshed == 1 and answer.caches == 1 and answer.cold is True
    assert result == {"published": True, "order_id": "o-1", "schema_version": 1}
    assert app._fetches == 1
    assert app.handler({"order_id": "o-2"}, context)["missing"] == ["amount"]


def test_schema_registry_latency_is_capped_at_200_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMA_REGISTRY_LATENCY_MS", "5000")
    assert load_app("schema_registry").REGISTRY_LATENCY_S == 0.2


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "CONFIG_PARAMETER_NAME": "/demo/config"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("ssm")


def test_ssm_config_example_reads_its_parameter(ssm: Any) -> None:
    # GIVEN the parameter named by CONFIG_PARAMETER_NAME (import makes no AWS call: it is created after)
    app = load_app("ssm_config")
    ssm.put_parameter(Name="/demo/config", Value=json.dumps({"greeting": "bonjour"}), Type="String")
    context = ping_context(function_name="ssm-config-demo")
    # WHEN pinged, then called
    answer = parse_answer(app.handler(make_ping(), context))
    result = app.handler({"name": "Ada"}, context)
    # THEN the ping loaded it and the request read it from memory
    assert answer.refreshed == 1 and answer.refresh_failed == 0
    assert result["message"] == "bonjour, Ada" and app.config.loads == 1


def test_handler_object_example(monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_app("handler_object")
    context = FakeLambdaContext(function_name="orders-api-demo")
    assert_warm_aware(app.handler)
    assert app.app.requests == 0  # pings never reached the object
    # an HTTP request whose body is a ping is still an HTTP request
    event = load_event("apigw-http")
    event["rawPath"], event["routeKey"] = "/echo", "POST /echo"
    response = app.handler(event, context)
    assert response["statusCode"] == 200 and app.app.requests == 1
    assert json.loads(json.loads(response["body"])["echo"]) == load_event("ping")
    price = load_event("apigw-http")
    price.update(rawPath="/price", queryStringParameters={"amount": "10", "currency": "EUR"})
    price["requestContext"]["http"]["method"] = "GET"
    assert json.loads(app.handler(price, context)["body"]) == {"amount": 9.2, "currency": "EUR"}


def test_examples_import_no_aws_sdk_at_module_load() -> None:
    # GIVEN a fresh interpreter / WHEN every example module is imported (Lambda's init)
    code = ("import runpy, sys\n"
            f"for name in ('schema_registry', 'ssm_config', 'handler_object'):\n"
            f"    runpy.run_path(r'{EXAMPLES}/' + name + '/app.py')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "SCHEMA_REGISTRY_LATENCY_MS": "0"})
    # THEN no AWS SDK was loaded (and so no AWS call could be made)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["schema_registry", "ssm_config", "handler_object"])
def test_docs_include_each_example_verbatim(name: str) -> None:
    docs = (Path(__file__).parents[3] / "docs" / "target-library.md").read_text()
    assert (EXAMPLES / name / "app.py").read_text() in docs

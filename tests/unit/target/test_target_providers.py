"""Providers on moto (SSM, Secrets Manager, S3) and a stubbed AppConfig Data client: both backends."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from thermostat_target import providers, runtime, warm_aware
from thermostat_target.exceptions import ProviderError
from thermostat_target.protocol import parse_answer
from thermostat_target.providers import AppConfig, S3Object, Secret, SSMParameter
from thermostat_target.testing import FakeLambdaContext, FakeTimer, make_ping, ping_context

BACKENDS = ["powertools", "boto3"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(providers, "_REGISTRY", {})
    with mock_aws():
        yield


@pytest.mark.parametrize("backend", BACKENDS)
def test_ssm_parameter_is_cached_then_reloaded(aws: None, backend: str, timer: FakeTimer) -> None:
    # GIVEN a JSON parameter
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/app/config", Value=json.dumps({"greeting": "hi"}), Type="String")
    param = SSMParameter("/app/config", max_age=60, transform="json", backend=backend, timer=timer)
    assert param.get() == {"greeting": "hi"}
    # WHEN it changes / THEN the cached value stays until max_age, then the new one is read
    ssm.put_parameter(Name="/app/config", Value=json.dumps({"greeting": "hey"}), Type="String", Overwrite=True)
    assert param.get() == {"greeting": "hi"}
    timer.advance(60)
    assert param.get() == {"greeting": "hey"}
    assert param.get(force_fetch=True) == {"greeting": "hey"} and param.loads == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_secure_string_is_decrypted(aws: None, backend: str) -> None:
    boto3.client("ssm").put_parameter(Name="/app/key", Value="s3cret", Type="SecureString")
    assert SSMParameter("/app/key", decrypt=True, backend=backend).get() == "s3cret"


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_parameter_is_a_provider_error_naming_it(aws: None, backend: str) -> None:
    with pytest.raises(ProviderError, match="/app/missing"):
        SSMParameter("/app/missing", backend=backend).get()


@pytest.mark.parametrize("backend", BACKENDS)
def test_secrets_string_and_binary(aws: None, backend: str) -> None:
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="db", SecretString=json.dumps({"user": "app"}))
    sm.create_secret(Name="blob", SecretBinary=b"\x00\x01")
    assert Secret("db", transform="json", backend=backend).get() == {"user": "app"}
    assert Secret("blob", backend=backend).get() == b"\x00\x01"


def test_powertools_style_functions_share_one_provider_per_environment(aws: None) -> None:
    boto3.client("ssm").put_parameter(Name="/p", Value="1", Type="String")
    assert providers.get_parameter("/p", max_age=60) == "1"
    boto3.client("ssm").put_parameter(Name="/p", Value="2", Type="String", Overwrite=True)
    assert providers.get_parameter("/p", max_age=60) == "1"
    assert providers.get_parameter("/p", max_age=60, force_fetch=True) == "2"
    assert [c.name for c in runtime.registered_caches()] == ["ssm:/p"]
    boto3.client("secretsmanager").create_secret(Name="s", SecretString="x")
    assert providers.get_secret("s") == "x"


def test_provider_refreshed_ahead_on_a_ping(aws: None, timer: FakeTimer) -> None:
    # GIVEN a warm-aware handler reading an SSM parameter
    boto3.client("ssm").put_parameter(Name="/cfg", Value="a", Type="String")
    cfg = SSMParameter("/cfg", max_age=300, name="config", timer=timer)
    handler = warm_aware(lambda e, c: cfg.get(), clock=timer, sleep=timer.sleep)
    context = ping_context(clock=timer)
    # WHEN the first ping arrives / THEN it is loaded before any request
    answer = parse_answer(handler(make_ping(release_at_ms=timer.ms()), context))
    assert answer.refreshed == 1 and cfg.loads == 1
    assert handler({"x": 1}, FakeLambdaContext(clock=timer)) == "a" and cfg.loads == 1


def test_a_flood_of_pings_reads_a_secret_once(aws: None, timer: FakeTimer) -> None:
    # GIVEN a function caching a secret (5 min), and a caller allowed to invoke it with the marker
    boto3.client("secretsmanager").create_secret(Name="prod/db-password", SecretString="hunter2")
    secret = Secret("prod/db-password", max_age=300, timer=timer)
    handler = warm_aware(lambda e, c: secret.get(), clock=timer, sleep=timer.sleep)
    context = ping_context(clock=timer)
    # WHEN it sends 100 pings asking for a refresh horizon of a year
    answers = [parse_answer(handler(make_ping(release_at_ms=timer.ms(), period_s=365 * 86400), context))
               for _ in range(100)]
    # THEN one GetSecretValue, and no answer names the secret or carries its value
    assert secret.loads == 1 and sum(a.refreshed for a in answers) == 1
    assert all("db-password" not in repr(a) and "hunter2" not in repr(a) for a in answers)


def _body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.mark.parametrize("backend", BACKENDS)
def test_appconfig_keeps_the_last_value_when_unchanged(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    # GIVEN an AppConfig Data client that returns a document, then "no change" (an empty body)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("appconfigdata", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    session = {"ApplicationIdentifier": "app", "EnvironmentIdentifier": "prod",
               "ConfigurationProfileIdentifier": "flags"}
    stub.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, session)
    stub.add_response("get_latest_configuration",
                      {"NextPollConfigurationToken": "t1", "Configuration": _body(b'{"beta": true}'),
                       "ContentType": "application/json"}, {"ConfigurationToken": "t0"})
    stub.add_response("get_latest_configuration",
                      {"NextPollConfigurationToken": "t2", "Configuration": _body(b""),
                       "ContentType": "application/json"}, {"ConfigurationToken": "t1"})
    config = AppConfig("flags", environment="prod", application="app", transform="json", client=client,
                       backend=backend)
    with stub:
        # WHEN read, then force-reloaded with no change / THEN the same document both times
        assert config.get() == {"beta": True}
        assert config.get(force_fetch=True) == {"beta": True}
        stub.assert_no_pending_responses()


def test_s3_object_is_revalidated_with_its_etag(aws: None, tmp_path: Path, timer: FakeTimer) -> None:
    # GIVEN an object and an S3Object cached in a temp dir
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="m.bin", Body=b"weights-1")
    obj = S3Object("models", "m.bin", max_age=60, cache_dir=str(tmp_path), timer=timer)
    # WHEN read, then reloaded unchanged, then reloaded after it changed
    assert obj.get() == b"weights-1"
    assert obj.get(force_fetch=True) == b"weights-1"
    revalidated_after_unchanged = obj.revalidated
    s3.put_object(Bucket="models", Key="m.bin", Body=b"weights-2")
    assert obj.get(force_fetch=True) == b"weights-2"
    # THEN the unchanged reload cost no download, the changed one did; the file is on disk
    assert revalidated_after_unchanged == 1 and obj.downloads == 2
    assert Path(obj.path).read_bytes() == b"weights-2"
    # AND another environment (same /tmp) revalidates instead of downloading
    other = S3Object("models", "m.bin", cache_dir=str(tmp_path), register=False)
    assert other.get() == b"weights-2" and other.downloads == 0 and other.revalidated == 1


def test_s3_missing_object_is_a_provider_error(aws: None, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(Bucket="bucket-b")
    with pytest.raises(ProviderError, match="s3://bucket-b/nope"):
        S3Object("bucket-b", "nope", cache_dir=str(tmp_path)).get()


@pytest.mark.parametrize(("kwargs", "match"), [({"transform": "yaml"}, "transform"),
                                                ({"backend": "ssh"}, "backend")])
def test_bad_provider_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SSMParameter("/x", **kwargs)

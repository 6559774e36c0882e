"""Refresh-ahead providers: SSM parameters, Secrets Manager secrets, AppConfig, S3 objects.

Each provider is a :class:`~thermostat_target.cache.TTLValue`: read with ``.get()`` (or
``.get(force_fetch=True)``), cached ``max_age`` seconds, refreshed ahead on warm pings. SSM, Secrets
Manager and AppConfig go through Powertools Parameters when it is installed (``backend="auto"``), else
plain boto3; the module functions ``get_parameter`` / ``get_secret`` / ``get_app_config`` take the same
``max_age`` and ``force_fetch`` names as Powertools'. S3 objects are kept in ``/tmp`` and revalidated with
their ETag (``If-None-Match``: a 304 costs no download). Nothing imports boto3 or Powertools at module
load, and nothing calls AWS until the first ``get()`` or ping.
"""

from __future__ import annotations

import os

from thermostat_target import runtime
from thermostat_target.cache import DEFAULT_REFRESH_AHEAD_S, TTLValue
from thermostat_target.exceptions import ProviderError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_MAX_AGE_S = 300.0
BACKENDS = ("auto", "powertools", "boto3")
DEFAULT_S3_CACHE_DIR = "/tmp/thermostat_target/s3"
_TRANSFORMS = (None, "json", "binary")


def powertools_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("aws_lambda_powertools") is not None


def _use_powertools(backend: str) -> bool:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend == "powertools" or (backend == "auto" and powertools_available())


def _transform(value: Any, transform: str | None) -> Any:
    if transform is None:
        return value
    if transform == "json":
        import json

        return json.loads(value)
    import base64

    return base64.b64decode(value)


def _boto3_client(service: str) -> Any:
    import boto3  # lazily: only when a provider first fetches

    return boto3.client(service)


class _Provider(TTLValue["Any"]):
    """A TTLValue whose loader is ``self._fetch`` and whose failures are :class:`ProviderError`."""

    kind = "value"

    def __init__(
        self, ident: str, *, max_age: float, transform: str | None, client: Any, backend: str,
        refresh_ahead: float, grace: float | None, name: str | None, timer: Callable[[], float] | None,
        register: bool,
    ) -> None:
        if transform not in _TRANSFORMS:
            raise ValueError(f"transform must be one of {_TRANSFORMS}, got {transform!r}")
        self.ident = ident
        self.transform: Any = transform  # Any: Powertools types transform as a Literal
        self.client = client
        self.powertools = _use_powertools(backend)
        self._pt_provider: Any = None  # a Powertools provider bound to ``client`` (keeps its session)
        extra = {} if timer is None else {"timer": timer}
        super().__init__(self._load_checked, max_age, refresh_ahead=refresh_ahead, grace=grace,
                         name=name or f"{self.kind}:{ident}", register=register, **extra)

    def _load_checked(self) -> Any:
        try:
            return self._fetch()
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"{self.kind} {self.ident!r}: {type(exc).__name__}: {exc}") from exc

    def _fetch(self) -> Any:
        raise NotImplementedError

    def _client(self, service: str) -> Any:
        if self.client is None:
            self.client = _boto3_client(service)
        return self.client


class SSMParameter(_Provider):
    """An SSM parameter (``decrypt`` for SecureString)."""

    kind = "ssm"

    def __init__(
        self, parameter_name: str, *, max_age: float = DEFAULT_MAX_AGE_S, decrypt: bool = False,
        transform: str | None = None, client: Any = None, backend: str = "auto",
        refresh_ahead: float = DEFAULT_REFRESH_AHEAD_S, grace: float | None = None, name: str | None = None,
        timer: Callable[[], float] | None = None, register: bool = True,
    ) -> None:
        self.decrypt = decrypt
        super().__init__(parameter_name, max_age=max_age, transform=transform, client=client,
                         backend=backend, refresh_ahead=refresh_ahead, grace=grace, name=name, timer=timer,
                         register=register)

    def _fetch(self) -> Any:
        if self.powertools:
            from aws_lambda_powertools.utilities.parameters import SSMProvider, get_parameter

            if self.client is not None:
                provider = self._pt_provider or SSMProvider(boto3_client=self.client)
                self._pt_provider = provider
                return provider.get(self.ident, transform=self.transform, decrypt=self.decrypt,
                                    force_fetch=True)
            return get_parameter(self.ident, transform=self.transform, decrypt=self.decrypt, force_fetch=True)
        response = self._client("ssm").get_parameter(Name=self.ident, WithDecryption=self.decrypt)
        return _transform(response["Parameter"]["Value"], self.transform)


class Secret(_Provider):
    """A Secrets Manager secret (``SecretString``, or ``SecretBinary`` as bytes)."""

    kind = "secret"

    def __init__(
        self, secret_id: str, *, max_age: float = DEFAULT_MAX_AGE_S, transform: str | None = None,
        client: Any = None, backend: str = "auto", refresh_ahead: float = DEFAULT_REFRESH_AHEAD_S,
        grace: float | None = None, name: str | None = None, timer: Callable[[], float] | None = None,
        register: bool = True,
    ) -> None:
        super().__init__(secret_id, max_age=max_age, transform=transform, client=client, backend=backend,
                         refresh_ahead=refresh_ahead, grace=grace, name=name, timer=timer, register=register)

    def _fetch(self) -> Any:
        if self.powertools:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider, get_secret

            if self.client is not None:
                provider = self._pt_provider or SecretsProvider(boto3_client=self.client)
                self._pt_provider = provider
                return provider.get(self.ident, transform=self.transform, force_fetch=True)
            return get_secret(self.ident, transform=self.transform, force_fetch=True)
        response = self._client("secretsmanager").get_secret_value(SecretId=self.ident)
        value = response["SecretString"] if "SecretString" in response else response["SecretBinary"]
        return _transform(value, self.transform)


class AppConfig(_Provider):
    """An AppConfig configuration profile, read through the AppConfig Data API (a session token is
    kept; an empty response means "unchanged" and keeps the last value)."""

    kind = "appconfig"

    def __init__(
        self, profile: str, *, environment: str, application: str, max_age: float = DEFAULT_MAX_AGE_S,
        transform: str | None = None, client: Any = None, backend: str = "auto",
        refresh_ahead: float = DEFAULT_REFRESH_AHEAD_S, grace: float | None = None, name: str | None = None,
        timer: Callable[[], float] | None = None, register: bool = True,
    ) -> None:
        self.environment = environment
        self.application = application
        self._token: str | None = None
        self._last: bytes | None = None
        super().__init__(profile, max_age=max_age, transform=transform, client=client, backend=backend,
                         refresh_ahead=refresh_ahead, grace=grace, name=name or f"appconfig:{application}/"
                         f"{environment}/{profile}", timer=timer, register=register)

    def _fetch(self) -> Any:
        if self.powertools:
            from aws_lambda_powertools.utilities.parameters import AppConfigProvider, get_app_config

            if self.client is not None:
                provider = self._pt_provider or AppConfigProvider(
                    environment=self.environment, application=self.application, boto3_client=self.client)
                self._pt_provider = provider
                return provider.get(self.ident, transform=self.transform, force_fetch=True)
            return get_app_config(self.ident, environment=self.environment, application=self.application,
                                  transform=self.transform, force_fetch=True)
        client = self._client("appconfigdata")
        if self._token is None:
            self._token = client.start_configuration_session(
                ApplicationIdentifier=self.application, EnvironmentIdentifier=self.environment,
                ConfigurationProfileIdentifier=self.ident)["InitialConfigurationToken"]
        response = client.get_latest_configuration(ConfigurationToken=self._token)
        self._token = response["NextPollConfigurationToken"]
        body = response["Configuration"].read()
        if body:
            self._last = body
        if self._last is None:
            raise ProviderError(f"appconfig {self.ident!r}: empty configuration")
        return _transform(self._last.decode() if self.transform == "json" else self._last, self.transform)


class S3Object(TTLValue[bytes]):
    """An S3 object's bytes, kept in ``cache_dir`` (``/tmp``) and revalidated with its ETag.

    ``revalidated`` counts 304 answers (no download); ``downloads`` counts full downloads."""

    def __init__(
        self, bucket: str, key: str, *, max_age: float = DEFAULT_MAX_AGE_S, client: Any = None,
        cache_dir: str = DEFAULT_S3_CACHE_DIR, refresh_ahead: float = DEFAULT_REFRESH_AHEAD_S,
        grace: float | None = None, name: str | None = None, timer: Callable[[], float] | None = None,
        register: bool = True,
    ) -> None:
        import hashlib

        self.bucket, self.key, self.client = bucket, key, client
        digest = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:40]
        self.path = os.path.join(cache_dir, digest)
        self.etag_path = self.path + ".etag"
        self.revalidated = 0
        self.downloads = 0
        extra = {} if timer is None else {"timer": timer}
        super().__init__(self._fetch, max_age, refresh_ahead=refresh_ahead, grace=grace,
                         name=name or f"s3://{bucket}/{key}", register=register, **extra)

    def _cached_etag(self) -> str | None:
        try:
            with open(self.etag_path, encoding="utf-8") as fh:
                etag = fh.read().strip()
            return etag if etag and os.path.exists(self.path) else None
        except OSError:
            return None

    def _fetch(self) -> bytes:
        from botocore.exceptions import ClientError

        if self.client is None:
            self.client = _boto3_client("s3")
        etag = self._cached_etag()
        request = {"Bucket": self.bucket, "Key": self.key}
        try:
            response = self.client.get_object(**request, **({"IfNoneMatch": etag} if etag else {}))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if etag and (error.get("Code") in ("304", "NotModified") or status == 304):
                with open(self.path, "rb") as fh:
                    self.revalidated += 1
                    return fh.read()
            raise ProviderError(f"s3://{self.bucket}/{self.key}: {error.get('Code')}: {exc}") from exc
        data: bytes = response["Body"].read()
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.path)
        with open(self.etag_path, "w", encoding="utf-8") as fh:
            fh.write(response.get("ETag", ""))
        self.downloads += 1
        return data


_REGISTRY: dict[tuple[object, ...], _Provider] = {}


def _shared(key: tuple[object, ...], factory: Callable[[], _Provider], max_age: float) -> _Provider:
    provider = _REGISTRY.get(key)
    if provider is None or provider.max_age != float(max_age):
        if provider is not None:
            runtime.unregister_cache(provider)
        provider = _REGISTRY[key] = factory()
    return provider


def get_parameter(name: str, *, max_age: float = DEFAULT_MAX_AGE_S, force_fetch: bool = False,
                  decrypt: bool = False, transform: str | None = None) -> Any:
    """Powertools-style: an SSM parameter, cached per environment and refreshed ahead on pings."""
    return _shared(("ssm", name, decrypt, transform),
                   lambda: SSMParameter(name, max_age=max_age, decrypt=decrypt, transform=transform),
                   max_age).get(force_fetch=force_fetch)


def get_secret(name: str, *, max_age: float = DEFAULT_MAX_AGE_S, force_fetch: bool = False,
               transform: str | None = None) -> Any:
    """Powertools-style: a Secrets Manager secret, cached per environment and refreshed ahead on pings."""
    return _shared(("secret", name, transform), lambda: Secret(name, max_age=max_age, transform=transform),
                   max_age).get(force_fetch=force_fetch)


def get_app_config(name: str, *, environment: str, application: str, max_age: float = DEFAULT_MAX_AGE_S,
                   force_fetch: bool = False, transform: str | None = None) -> Any:
    """Powertools-style: an AppConfig profile, cached per environment and refreshed ahead on pings."""
    return _shared(("appconfig", name, environment, application, transform),
                   lambda: AppConfig(name, environment=environment, application=application, max_age=max_age,
                                     transform=transform), max_age).get(force_fetch=force_fetch)

"""The S3 calls of the state store, with every botocore error mapped to a named one.

Conditional writes that lose (412 PreconditionFailed; 409 ConditionalRequestConflict when two conditional
writes race on real S3; 404 on ``If-Match`` because the object is gone) raise :class:`ConditionFailed`,
which the store turns into an overlap or a :class:`StateConflictError`. Everything else raises
:class:`StateStoreError` with the operation and the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from thermostat.exceptions import StateStoreError

T = TypeVar("T")
R = TypeVar("R")

_CONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class ConditionFailed(Exception):
    """A conditional write was refused: somebody else changed the object (internal, never escapes)."""

    def __init__(self, key: str, code: str) -> None:
        self.key = key
        self.code = code
        super().__init__(f"{key}: {code}")


@dataclass(frozen=True)
class Got:
    body: bytes
    etag: str


def _code(exc: ClientError) -> tuple[str, int | None, str]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code", "Unknown")), status, str(error.get("Message", ""))[:300]


class Objects:
    """GET/PUT/DELETE/LIST on one bucket. ``s3`` is a boto3 S3 client (thread-safe; shared by the pool)."""

    def __init__(self, s3: Any, bucket: str, max_workers: int = 8) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.max_workers = max_workers

    def _error(self, operation: str, key: str, exc: Exception) -> StateStoreError:
        if isinstance(exc, ClientError):
            code, status, message = _code(exc)
            detail = f"{code} (HTTP {status}): {message}" if status else f"{code}: {message}"
        else:
            code, detail = type(exc).__name__, str(exc)[:300]
        return StateStoreError(operation, f"s3://{self.bucket}/{key}", detail, code=code)

    def get(self, key: str, operation: str) -> Got | None:
        """The object and its ETag; None when it does not exist."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"].read()
        except ClientError as exc:
            if _code(exc)[0] in _MISSING_CODES:  # not NoSuchBucket: that is a StateStoreError
                return None
            raise self._error(operation, key, exc) from None
        except BotoCoreError as exc:
            raise self._error(operation, key, exc) from None
        return Got(body, str(response.get("ETag", "")))

    def put(self, key: str, body: bytes, operation: str, *, if_match: str | None = None,
            if_none_match: bool = False, content_type: str = "application/json") -> str:
        """Writes ``body``; returns the new ETag. Raises ConditionFailed when a condition does not hold."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": body, "ContentType": content_type}
        if if_match is not None:
            params["IfMatch"] = if_match
        elif if_none_match:
            params["IfNoneMatch"] = "*"
        try:
            response = self.s3.put_object(**params)
        except ClientError as exc:
            code, status, _ = _code(exc)
            conditional = if_match is not None or if_none_match
            if conditional and (code in _CONDITION_CODES or status in (409, 412)):
                raise ConditionFailed(key, code) from None
            if if_match is not None and code in _MISSING_CODES:
                raise ConditionFailed(key, code) from None
            raise self._error(operation, key, exc) from None
        except BotoCoreError as exc:
            raise self._error(operation, key, exc) from None
        etag = response.get("ETag")
        if not etag:
            raise StateStoreError(operation, f"s3://{self.bucket}/{key}", "PutObject returned no ETag")
        return str(etag)

    def delete(self, key: str, operation: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(operation, key, exc) from None

    def list_keys(self, prefix: str, operation: str) -> list[str]:
        """Every key under ``prefix`` (paginated)."""
        keys: list[str] = []
        token: str | None = None
        while True:
            page = self._list(prefix, operation, token=token)
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return keys

    def list_folders(self, prefix: str, limit: int, operation: str) -> list[str]:
        """The first ``limit`` "folders" (common prefixes ending in ``/``) under ``prefix``, in S3's order."""
        folders: list[str] = []
        token: str | None = None
        while len(folders) < limit:
            page = self._list(prefix, operation, token=token, delimiter="/", max_keys=min(1000, limit - len(folders)))
            folders.extend(str(item["Prefix"]) for item in page.get("CommonPrefixes", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        return folders[:limit]

    def _list(self, prefix: str, operation: str, *, token: str | None, delimiter: str | None = None,
              max_keys: int = 1000) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if delimiter:
            params["Delimiter"] = delimiter
        if token:
            params["ContinuationToken"] = token
        try:
            return dict(self.s3.list_objects_v2(**params))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(operation, prefix, exc) from None

    def parallel(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) ...]`` on a small thread pool (S3 latency, and zlib releases the GIL). Every call runs
        to completion; then the first ConditionFailed is raised if any, else the first other error."""
        todo = list(items)
        if len(todo) <= 1 or self.max_workers <= 1:
            return [fn(item) for item in todo]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(todo))) as pool:
            futures = [pool.submit(fn, item) for item in todo]
            errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        if failed:
            raise next((e for e in failed if isinstance(e, ConditionFailed)), failed[0])
        return [f.result() for f in futures]

"""What Lambda says about each target, cached in its record's ``config`` (Collect Metrics).

Memory, timeout, ARN and existence come from ``lambda:ListFunctions``, which pages through the whole
account: it runs when a target was never listed, else about once an hour, and one listing refreshes every
target (an alias is described by its function's ``$LATEST``). Reserved and provisioned concurrency are
refreshed about hourly, each target at its own jittered time so refreshes spread over the runs:
``GetFunctionConcurrency`` (reserved; skipped when the account reserves nothing at all) and, for an alias or
version, ``GetProvisionedConcurrencyConfig`` — within a per-run call budget, never-read targets first
(Lambda's control plane allows about 15 such requests per second). A target that cannot be read is kept
with an ``error``; it never fails the run. A function found missing is remembered (``arn`` empty) and
looked for again after :data:`MISSING_RECHECK_MS`.
"""

from __future__ import annotations

import logging
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from thermostat.records import TargetRecord

logger = logging.getLogger(__name__)

CONFIG_REFRESH_MS = 45 * 60_000  # a configuration is re-read after 45 min + a per-target jitter of up to 30 min
CONFIG_JITTER_MS = 30 * 60_000
MISSING_RECHECK_MS = 15 * 60_000  # a function found missing is looked for again after this
LIST_REFRESH_MS = 60 * 60_000  # memory, timeout and existence of every target: one listing an hour
DESCRIBE_CALLS_PER_RUN = 120  # GetFunctionConcurrency / GetProvisionedConcurrencyConfig calls per run at most
DESCRIBE_WORKERS = 4  # parallel calls (the control plane allows ~15 requests/s; the SDK retries throttles)
_AWS_ERRORS = (ClientError, BotoCoreError)


def error_text(exc: BaseException) -> str:
    """``Code: message`` of a botocore error (``FunctionNotFound`` for a missing function)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "ClientError")
        if code == "ResourceNotFoundException":
            code = "FunctionNotFound"
        return f"{code}: {err.get('Message') or exc}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _code(exc: BaseException) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""



def refresh_after_ms(key: str) -> int:
    """A configuration's age at which it is re-read: about an hour, jittered per target so that a fleet
    discovered in one run does not come due in one run again."""
    return CONFIG_REFRESH_MS + zlib.crc32(key.encode()) % CONFIG_JITTER_MS


def config_due(record: TargetRecord, now_ms: int) -> bool:
    read_at = record.config.read_at_ms
    if read_at > 0 and not record.config.arn:
        return now_ms - read_at >= MISSING_RECHECK_MS
    return read_at <= 0 or now_ms - read_at >= refresh_after_ms(record.key)


def list_functions(lambda_client: Any) -> dict[str, dict[str, Any]]:
    """Every function of the account and region ($LATEST configuration) by name: one paginated listing."""
    functions: dict[str, dict[str, Any]] = {}
    for page in lambda_client.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            functions[str(fn["FunctionName"])] = fn
    return functions


@dataclass
class Described:
    described: int = 0  # configurations completed this run
    errors: dict[str, str] = field(default_factory=dict)  # key -> error (this run)
    deferred: int = 0  # due targets left for a later run (call budget)
    warnings: list[str] = field(default_factory=list)


def _settings_of(lambda_client: Any, record: TargetRecord, reservations: bool | None) -> tuple[int | None, int]:
    """(reserved, provisioned) of one target; raises botocore errors."""
    reserved: int | None = None
    if reservations is not False:
        value = lambda_client.get_function_concurrency(FunctionName=record.function).get(
            "ReservedConcurrentExecutions")
        reserved = None if value is None else int(value)
    provisioned = 0
    if record.qualifier is not None:
        try:
            pc = lambda_client.get_provisioned_concurrency_config(FunctionName=record.function,
                                                                  Qualifier=record.qualifier)
            provisioned = int(pc.get("AllocatedProvisionedConcurrentExecutions") or 0)
        except ClientError as exc:
            if _code(exc) != "ProvisionedConcurrencyConfigNotFoundException":
                raise
    return reserved, provisioned


def describe(lambda_client: Any, records: list[TargetRecord], reservations: bool | None, now_ms: int,
             call_budget: int = DESCRIBE_CALLS_PER_RUN) -> Described:
    """Refresh the ``config`` of the records that are due (in place). ``reservations``: whether any function
    of the account reserves concurrency (False skips GetFunctionConcurrency; None = unknown: read it)."""
    out = Described()
    due: list[TargetRecord] = []
    for record in records:
        if config_due(record, now_ms):
            due.append(record)
        elif not record.config.arn:  # known missing since its last read: no listing needed to say so again
            out.errors[record.key] = f"FunctionNotFound: {record.function} was not found in the account"
    due.sort(key=lambda r: (r.config.read_at_ms, r.key))
    if not due:
        return out
    if not listing_due(records, now_ms):
        return _describe_settings(lambda_client, due, reservations, now_ms, call_budget, out)
    try:
        listing: dict[str, dict[str, Any]] | None = list_functions(lambda_client)
    except _AWS_ERRORS as exc:
        listing = None
        out.warnings.append(f"ListFunctions failed ({error_text(exc)}): target configurations not refreshed")
        logger.error("list_functions_failed", extra={"error": error_text(exc)})
    if listing is None:
        for record in due:
            if record.config.read_at_ms <= 0:
                out.errors[record.key] = "ListFunctions failed: configuration unknown"
        return out
    missing = set()
    for record in records:  # one listing refreshes every target's memory, timeout and existence
        fn = listing.get(record.function)
        cfg = record.config
        cfg.listed_at_ms = now_ms
        if fn is None:  # remembered as missing (arn "") until the next refresh
            cfg.arn, cfg.read_at_ms = "", now_ms
            out.errors[record.key] = f"FunctionNotFound: {record.function} was not found in the account"
            missing.add(record.key)
            continue
        cfg.arn = str(fn.get("FunctionArn", ""))
        cfg.memory_mb = int(fn.get("MemorySize", cfg.memory_mb))
        cfg.timeout_s = int(fn.get("Timeout", cfg.timeout_s))
    return _describe_settings(lambda_client, [r for r in due if r.key not in missing], reservations, now_ms,
                              call_budget, out)


def listing_due(records: list[TargetRecord], now_ms: int) -> bool:
    """ListFunctions runs when a target was never listed, the last listing is older than LIST_REFRESH_MS, or a
    function found missing is due to be looked for again (only a listing can find it): about once an hour for
    the whole fleet, not every run (it pages through every function of the account)."""
    return any(r.config.listed_at_ms <= 0 or now_ms - r.config.listed_at_ms >= LIST_REFRESH_MS
               or (not r.config.arn and config_due(r, now_ms)) for r in records)


def _describe_settings(lambda_client: Any, due: list[TargetRecord], reservations: bool | None, now_ms: int,
                       call_budget: int, out: Described) -> Described:
    """Reserved and provisioned concurrency of the due targets, within the run's call budget."""
    calls_each = (1 if reservations is not False else 0)
    budget = call_budget
    todo: list[TargetRecord] = []
    for record in due:
        cfg = record.config
        if not cfg.arn:
            continue
        calls = calls_each + (1 if record.qualifier is not None else 0)
        if calls == 0:
            cfg.reserved, cfg.provisioned, cfg.read_at_ms = None, 0, now_ms
            out.described += 1
        elif calls <= budget:
            budget -= calls
            todo.append(record)
        else:
            out.deferred += 1
    if todo:
        with ThreadPoolExecutor(max_workers=min(DESCRIBE_WORKERS, len(todo))) as pool:
            results = list(pool.map(lambda r: _try_settings(lambda_client, r, reservations), todo))
        for record, (settings, error) in zip(todo, results, strict=True):
            if settings is not None:
                record.config.reserved, record.config.provisioned = settings
                record.config.read_at_ms = now_ms
                out.described += 1
            elif error and error.startswith("FunctionNotFound"):
                record.config.arn, record.config.read_at_ms = "", now_ms
                out.errors[record.key] = error
            elif record.config.read_at_ms <= 0:
                out.errors[record.key] = error or "configuration unreadable"
    if out.deferred:
        out.warnings.append(f"{out.deferred} target configuration(s) left for the next runs "
                            f"({call_budget} Lambda describe calls per run)")
    return out


def _try_settings(lambda_client: Any, record: TargetRecord, reservations: bool | None
                  ) -> tuple[tuple[int | None, int] | None, str | None]:
    try:
        return _settings_of(lambda_client, record, reservations), None
    except _AWS_ERRORS as exc:
        logger.warning("target_unreadable", extra={"target": record.key, "error": error_text(exc)})
        return None, error_text(exc)

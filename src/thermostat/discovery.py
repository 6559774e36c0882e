"""Which functions to warm, and what Lambda says about them (Collect Metrics, first half).

Targets = tag discovery (Resource Groups Tagging API) + the configured list (``THERMOSTAT_TARGETS``)
+ the execution input's ``targets``. A function named by a more specific source replaces every entry
the less specific ones made for it (input > config > tag), so ``{"function": "orders-api",
"qualifier": "live"}`` in the input means "warm orders-api:live", not "also warm orders-api:live".
``discover: false`` in the input means "only my targets": neither tags nor the configured list are read.

Per target, ``GetFunctionConfiguration`` (memory, timeout, ARN) and ``GetFunctionConcurrency``
(reserved concurrency). A target that does not exist or cannot be read is kept with ``error`` set:
never dropped silently, never failing the run for the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from thermostat import models
from thermostat.config import DiscoverySettings
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.validation import function_name, parse_targets, target_key

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT_LIMIT = 1000  # AWS default concurrency quota; used when GetAccountSettings fails
MIN_UNRESERVED = 100  # Lambda always keeps this much unreserved
DESCRIBE_WORKERS = 8  # parallel GetFunctionConfiguration calls (Lambda control-plane rate limits)
_PRIORITY = {"tag": 0, "config": 1, "input": 2}


@dataclass(frozen=True)
class Clients:
    """The boto3 clients Collect Metrics uses (built once in the handler, fakes in tests)."""

    lambda_: Any
    cloudwatch: Any
    tagging: Any


def error_text(exc: BaseException) -> str:
    """``Code: message`` of a botocore error (``FunctionNotFound`` for a missing function)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "ClientError")
        if code == "ResourceNotFoundException":
            code = "FunctionNotFound"
        return f"{code}: {err.get('Message') or exc}"
    return f"{type(exc).__name__}: {exc}"


# --- which targets ---------------------------------------------------------------------------------


def discover_tagged(tagging: Any, settings: DiscoverySettings) -> list[models.TargetSpec]:
    """Functions tagged ``tag_key=tag_value`` (every page of ``GetResources``)."""
    specs: list[models.TargetSpec] = []
    paginator = tagging.get_paginator("get_resources")
    pages = paginator.paginate(
        ResourceTypeFilters=["lambda:function"],
        TagFilters=[{"Key": settings.tag_key, "Values": [settings.tag_value]}],
    )
    for page in pages:
        for item in page.get("ResourceTagMappingList", []):
            arn = str(item["ResourceARN"])
            specs.append({"function": function_name(arn), "qualifier": None, "min": settings.min_warm,
                          "max": settings.max_warm, "source": "tag"})
    return specs


def configured_targets(settings: DiscoverySettings) -> list[models.TargetSpec]:
    """``THERMOSTAT_TARGETS`` validated with the execution input's rules."""
    try:
        return parse_targets(list(settings.explicit_targets), "THERMOSTAT_TARGETS", "config",
                             settings.min_warm, settings.max_warm)
    except InvalidInputError as exc:
        raise ConfigurationError(str(exc)) from exc


def merge_targets(*groups: Iterable[models.TargetSpec]) -> list[models.TargetSpec]:
    """Merge sources: for each function name, only the most specific source's entries are kept."""
    specs = [spec for group in groups for spec in group]
    best: dict[str, int] = {}
    for spec in specs:
        name = function_name(spec["function"])
        best[name] = max(best.get(name, -1), _PRIORITY[spec["source"]])
    merged: dict[tuple[str, str | None], models.TargetSpec] = {}
    for spec in specs:
        if _PRIORITY[spec["source"]] == best[function_name(spec["function"])]:
            merged[target_key(spec)] = spec
    return list(merged.values())


def resolve_targets(request: models.Request, settings: DiscoverySettings, tagging: Any
                    ) -> list[models.TargetSpec]:
    if not request["discover"]:
        return merge_targets(request["targets"])
    try:
        tagged = discover_tagged(tagging, settings)
    except (ClientError, BotoCoreError) as exc:
        # The configured and requested targets are still warmed; the error is in the logs.
        logger.error("tag_discovery_failed", extra={"error": error_text(exc), "tag_key": settings.tag_key})
        tagged = []
    logger.info("targets_found", extra={"tagged": len(tagged), "configured": len(settings.explicit_targets),
                                         "requested": len(request["targets"])})
    return merge_targets(tagged, configured_targets(settings), request["targets"])


# --- what Lambda says about them -------------------------------------------------------------------


def describe_target(lambda_client: Any, spec: models.TargetSpec) -> models.TargetMetrics:
    """Configuration and reserved concurrency; ``error`` set (and defaults) when they cannot be read."""
    name = function_name(spec["function"])
    target: models.TargetMetrics = {
        "function": name, "qualifier": spec["qualifier"], "arn": "", "min": spec["min"], "max": spec["max"],
        "source": spec["source"], "memory_mb": 128, "timeout_s": 3, "reserved_concurrency": None,
        "current_concurrency": 0, "history": None,
    }
    kwargs: dict[str, str] = {"FunctionName": spec["function"]}
    if spec["qualifier"] is not None:
        kwargs["Qualifier"] = spec["qualifier"]
    try:
        config = lambda_client.get_function_configuration(**kwargs)
        target["arn"] = str(config.get("FunctionArn", ""))
        target["memory_mb"] = int(config.get("MemorySize", 128))
        target["timeout_s"] = int(config.get("Timeout", 3))
        reserved = lambda_client.get_function_concurrency(FunctionName=spec["function"])
        value = reserved.get("ReservedConcurrentExecutions")
        target["reserved_concurrency"] = None if value is None else int(value)
    except (ClientError, BotoCoreError) as exc:
        target["error"] = error_text(exc)
        logger.warning("target_unreadable", extra={"function": name, "qualifier": spec["qualifier"],
                                                   "error": target["error"]})
    return target


def describe_targets(lambda_client: Any, specs: list[models.TargetSpec]) -> list[models.TargetMetrics]:
    if len(specs) <= 1:
        return [describe_target(lambda_client, spec) for spec in specs]
    with ThreadPoolExecutor(max_workers=min(DESCRIBE_WORKERS, len(specs))) as pool:
        return list(pool.map(lambda spec: describe_target(lambda_client, spec), specs))


def account_limits(lambda_client: Any, targets: list[models.TargetMetrics]) -> models.AccountLimits:
    """``GetAccountSettings``; when it fails, the AWS default quota minus the targets' reservations."""
    try:
        limits = lambda_client.get_account_settings()["AccountLimit"]
        return {"concurrency_limit": int(limits["ConcurrentExecutions"]),
                "unreserved_concurrency": int(limits["UnreservedConcurrentExecutions"])}
    except (ClientError, BotoCoreError, KeyError) as exc:
        reserved = sum(t["reserved_concurrency"] or 0 for t in targets)
        fallback = max(DEFAULT_ACCOUNT_LIMIT - reserved, MIN_UNRESERVED)
        logger.warning("account_limits_unavailable", extra={
            "error": error_text(exc), "assumed_limit": DEFAULT_ACCOUNT_LIMIT, "assumed_unreserved": fallback})
        return {"concurrency_limit": DEFAULT_ACCOUNT_LIMIT, "unreserved_concurrency": fallback}

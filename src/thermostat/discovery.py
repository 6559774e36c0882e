"""Which functions to warm, and what Lambda says about them (Collect Metrics, first half).

Targets = tag discovery (``tag:GetResources``, every page; it returns the tags too) + the configured list
(``THERMOSTAT_TARGETS``) + the execution input's ``targets``. A function named by a more specific source
replaces every entry the less specific ones made for it (input > config > tag), so ``{"function":
"orders-api", "qualifier": "live"}`` in the input means "warm orders-api:live", not "also warm it".
``discover: false`` means "only my targets": neither tags nor the configured list are read.

A function tagged with the tag key but another value (``thermostat:enabled=false``) is **opted out**: it is
not warmed through tags nor the configured list (the operator's switch, no redeploy); an execution input
that names it explicitly still wins. Targets beyond ``MaxTargets`` (input first, then configured, then
tagged by name) are reported by count and first keys, never dropped silently.

The same listing carries each function's ``thermostat:*`` setting tags (:mod:`thermostat.tag_settings`):
every target of a function that carries the tag key gets its settings from the input > its tags > the
stack, per setting, with where each came from and the tag values that were ignored. With ``discover:
false`` no tag is read, except for a deploy (``trigger: deploy``): its targets must be opted in (tagged, or
configured and not opted out), and only what Thermostat warms for that function is warmed (a new version
when the function is warmed through an alias).

The account's limits come from ``GetAccountSettings`` (unreadable = unknown, never a default quota). What
Lambda says about each target is :mod:`thermostat.lambda_config`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from thermostat import models
from thermostat.config import DiscoverySettings
from thermostat.exceptions import ConfigurationError, InvalidInputError
from thermostat.lambda_config import error_text, list_functions
from thermostat.tag_settings import StackDefaults, TagSettings, read_tags, resolve
from thermostat.validation import function_name, parse_targets, target_key

logger = logging.getLogger(__name__)

_PRIORITY = {"tag": 0, "config": 1, "input": 2}
OVER_LIMIT_SAMPLE = 20
_AWS_ERRORS = (ClientError, BotoCoreError)


@dataclass(frozen=True)
class Clients:
    """The boto3 clients Collect Metrics uses (built once in the handler, fakes or moto in tests)."""

    lambda_: Any
    cloudwatch: Any
    tagging: Any


# --- which targets ---------------------------------------------------------------------------------


@dataclass
class Discovered:
    targets: list[models.TargetSpec]  # in priority order, at most MaxTargets
    tagged: int = 0
    configured: int = 0
    requested: int = 0
    opted_out: list[str] = field(default_factory=list)  # function names
    over_limit: list[str] = field(default_factory=list)  # target keys beyond MaxTargets
    warnings: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # deploy targets not warmed (not opted in, not warmed so)


@dataclass
class TagListing:
    specs: list[models.TargetSpec]  # functions tagged tag_key=tag_value
    opted_out: list[str]  # names tagged tag_key with another value
    settings: dict[str, TagSettings]  # name -> its thermostat:* settings (every function listed)


def discover_tagged(tagging: Any, settings: DiscoverySettings) -> list[models.TargetSpec]:
    """Functions tagged ``tag_key=tag_value`` (every page of ``GetResources``)."""
    return read_tagged(tagging, settings).specs


def read_tagged(tagging: Any, settings: DiscoverySettings) -> TagListing:
    """Every page of ``GetResources`` filtered on the key alone, so the opt-outs and every listed function's
    setting tags come with the same calls."""
    specs: list[models.TargetSpec] = []
    opted_out: list[str] = []
    found: dict[str, TagSettings] = {}
    pages = tagging.get_paginator("get_resources").paginate(
        ResourceTypeFilters=["lambda:function"], TagFilters=[{"Key": settings.tag_key}], ResourcesPerPage=100)
    for page in pages:
        for item in page.get("ResourceTagMappingList", []):
            name = function_name(str(item["ResourceARN"]))
            tags = {str(t.get("Key")): str(t.get("Value", "")) for t in item.get("Tags", [])}
            found[name] = read_tags(tags, max_warm=settings.max_warm, ignore=(settings.tag_key,))
            if tags.get(settings.tag_key, settings.tag_value) == settings.tag_value:
                specs.append({"function": name, "qualifier": None, "min": settings.min_warm,
                              "max": settings.max_warm, "source": "tag"})
            else:
                opted_out.append(name)
    specs.sort(key=lambda s: s["function"])
    return TagListing(specs, sorted(opted_out), found)


def configured_targets(settings: DiscoverySettings) -> list[models.TargetSpec]:
    """``THERMOSTAT_TARGETS`` validated with the execution input's rules."""
    try:
        return parse_targets(list(settings.explicit_targets), "THERMOSTAT_TARGETS", "config",
                             settings.min_warm, settings.max_warm)
    except InvalidInputError as exc:
        raise ConfigurationError(str(exc)) from exc


def merge_targets(*groups: Iterable[models.TargetSpec]) -> list[models.TargetSpec]:
    """For each function name only the most specific source's entries are kept (input > config > tag);
    the result lists input entries first, then configured, then tagged (the MaxTargets order)."""
    specs = [spec for group in groups for spec in group]
    best: dict[str, int] = {}
    for spec in specs:
        name = function_name(spec["function"])
        best[name] = max(best.get(name, -1), _PRIORITY[spec["source"]])
    merged: dict[tuple[str, str | None], models.TargetSpec] = {}
    for spec in sorted(specs, key=lambda s: -_PRIORITY[s["source"]]):  # stable: each source keeps its order
        if _PRIORITY[spec["source"]] == best[function_name(spec["function"])]:
            merged[target_key(spec)] = spec
    return list(merged.values())


def spec_key(spec: models.TargetSpec) -> str:
    name, qualifier = target_key(spec)
    return models.target_label(name, qualifier)


def with_settings(specs: Iterable[models.TargetSpec], tags: dict[str, TagSettings], settings: DiscoverySettings,
                  request_price: float | None) -> list[models.TargetSpec]:
    """Each target's settings from input > tags > stack (a tag's qualifiers may make one target several);
    the first spec of a key wins."""
    stack = StackDefaults(settings.min_warm, settings.max_warm)
    out: dict[str, models.TargetSpec] = {}
    for spec in specs:
        for final in resolve(spec, tags.get(function_name(spec["function"])), stack, request_price):
            out.setdefault(spec_key(final), final)
    return list(out.values())


def _deploy_targets(requested: list[models.TargetSpec], listing: TagListing, configured: list[models.TargetSpec],
                    ) -> tuple[list[models.TargetSpec], list[str]]:
    """A deploy's targets that Thermostat warms: the function opted in (tagged, or configured and not opted
    out) and the changed qualifier one it warms (its tag's or configured qualifiers, else the unqualified
    function), or a new version of a function warmed through an alias. The rest, with why."""
    tagged = {s["function"] for s in listing.specs}
    opted_out = set(listing.opted_out)
    by_config: dict[str, set[str | None]] = {}
    for spec in configured:
        by_config.setdefault(function_name(spec["function"]), set()).add(spec["qualifier"])
    kept: list[models.TargetSpec] = []
    ignored: list[str] = []
    for spec in requested:
        name, label = function_name(spec["function"]), spec_key(spec)
        if name not in tagged and (name not in by_config or name in opted_out):
            ignored.append(f"{label}: not opted in (neither tagged nor in ExplicitTargets, or opted out)")
            continue
        qualifiers = listing.settings.get(name, TagSettings()).qualifiers
        warmed: set[str | None] = set(qualifiers) if qualifiers is not None else set(by_config.get(name, set()))
        if qualifiers is None and (name in tagged or not warmed):
            warmed.add(None)
        qualifier = spec["qualifier"]
        aliased = any(q is not None and not q.isdigit() for q in warmed)
        if qualifier in warmed or (qualifier is not None and qualifier.isdigit() and aliased):
            kept.append(spec)
        else:
            shown = ", ".join(models.target_label(name, q) for q in sorted(warmed, key=str))
            ignored.append(f"{label}: Thermostat warms {shown}, not this qualifier")
    return kept, ignored


def find_targets(request: models.Request, settings: DiscoverySettings, tagging: Any) -> Discovered:
    """The run's targets (precedence, opt-outs, a deploy's filter, per-target settings, MaxTargets)."""
    requested = list(request["targets"])
    deploy = request.get("trigger") == "deploy"
    warnings: list[str] = []
    listing = TagListing([], [], {})
    if request["discover"] or deploy:
        try:
            listing = read_tagged(tagging, settings)
        except _AWS_ERRORS as exc:  # the configured and requested targets are still warmed
            logger.error("tag_discovery_failed", extra={"error": error_text(exc), "tag_key": settings.tag_key})
            warnings.append(f"tag discovery failed ({error_text(exc)}): only configured and requested targets, "
                            "at the input's and stack's settings")
    configured = configured_targets(settings) if request["discover"] or deploy else []
    ignored: list[str] = []
    if deploy:
        requested, ignored = _deploy_targets(requested, listing, configured)
        warnings += [f"deploy: {why}" for why in ignored[:5]]
    if not request["discover"]:
        found = Discovered(merge_targets(requested), requested=len(request["targets"]), warnings=warnings,
                           ignored=ignored)
    else:
        tagged, opted_out = listing.specs, listing.opted_out
        blocked = set(opted_out)
        kept = [s for s in configured if function_name(s["function"]) not in blocked]
        found = Discovered(merge_targets(tagged, kept, requested), tagged=len(tagged), configured=len(configured),
                           requested=len(request["targets"]), opted_out=opted_out, warnings=warnings,
                           ignored=ignored)
        if len(kept) < len(configured):
            found.warnings.append(f"{len(configured) - len(kept)} configured target(s) opted out by tag "
                                  f"{settings.tag_key}: {', '.join(sorted(blocked)[:5])}")
    found.targets = with_settings(found.targets, listing.settings, settings, request.get("price_per_cold_start"))
    troubled = sorted({spec_key(s) for s in found.targets if s.get("tag_problems")})
    if troubled:
        found.warnings.append(f"{len(troubled)} target(s) have tag values that were ignored (tag_problems in their "
                              f"report): {', '.join(troubled[:5])}{', ...' if len(troubled) > 5 else ''}")
    if len(found.targets) > settings.max_targets:
        found.over_limit = [spec_key(s) for s in found.targets[settings.max_targets:]]
        found.targets = found.targets[:settings.max_targets]
        sample = ", ".join(found.over_limit[:5])
        found.warnings.append(f"{len(found.over_limit)} target(s) beyond MaxTargets={settings.max_targets} are not "
                              f"warmed: {sample}{', ...' if len(found.over_limit) > 5 else ''}")
        logger.warning("max_targets_reached", extra={"max_targets": settings.max_targets,
                                                     "over_limit": len(found.over_limit)})
    logger.info("targets_found", extra={"targets": len(found.targets), "tagged": found.tagged,
                                         "configured": found.configured, "requested": found.requested,
                                         "opted_out": len(found.opted_out), "over_limit": len(found.over_limit),
                                         "ignored": len(found.ignored)})
    return found


# --- the account -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountLimits:
    limit: int | None  # None: GetAccountSettings could not be read (never assumed)
    unreserved_limit: int | None
    problem: str | None = None

    @property
    def has_reservations(self) -> bool | None:
        """Whether any function of the account reserves concurrency (None: unknown)."""
        if self.limit is None or self.unreserved_limit is None:
            return None
        return self.unreserved_limit < self.limit


def account_limits(lambda_client: Any) -> AccountLimits:
    """``GetAccountSettings``; unreadable (denied, throttled) = unknown, never a default quota."""
    try:
        limits = lambda_client.get_account_settings()["AccountLimit"]
        return AccountLimits(int(limits["ConcurrentExecutions"]), int(limits["UnreservedConcurrentExecutions"]))
    except (*_AWS_ERRORS, KeyError, TypeError, ValueError) as exc:
        problem = f"GetAccountSettings failed ({error_text(exc)}): account limits unknown"
        logger.warning("account_limits_unavailable", extra={"error": error_text(exc)})
        return AccountLimits(None, None, problem)


def describe_targets(lambda_client: Any, specs: list[models.TargetSpec]) -> list[dict[str, Any]]:
    """``{function, qualifier, memory_mb}`` per spec, with ``error`` when the function is not in the account
    or the listing fails — one ListFunctions (``thermostat export`` reads only what exists)."""
    try:
        listing = list_functions(lambda_client)
    except _AWS_ERRORS as exc:
        return [{"function": function_name(s["function"]), "qualifier": s["qualifier"], "memory_mb": 128,
                 "error": error_text(exc)} for s in specs]
    out: list[dict[str, Any]] = []
    for spec in specs:
        name = function_name(spec["function"])
        fn = listing.get(name, {})
        target: dict[str, Any] = {"function": name, "qualifier": spec["qualifier"],
                                  "memory_mb": int(fn.get("MemorySize", 128))}
        if not fn:
            target["error"] = f"FunctionNotFound: {name} was not found in the account"
        out.append(target)
    return out


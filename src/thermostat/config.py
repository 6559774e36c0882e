"""Settings of the workflow functions: the only module that reads ``os.environ``.

One frozen dataclass per component, built by ``from_env()``; the environment variable names are the
constants below (the template sets them from its Parameters). Domain modules receive these objects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from thermostat.exceptions import ConfigurationError

# --- environment variable names (template.yaml sets every one) ---------------------------------------
ENABLED = "THERMOSTAT_ENABLED"
TAG_KEY = "THERMOSTAT_TAG_KEY"
TAG_VALUE = "THERMOSTAT_TAG_VALUE"
EXPLICIT_TARGETS = "THERMOSTAT_TARGETS"  # JSON list of target specs or comma-separated names
MIN_WARM = "THERMOSTAT_MIN_WARM"
MAX_WARM = "THERMOSTAT_MAX_WARM"
QUANTILE = "THERMOSTAT_QUANTILE"
HORIZON_MINUTES = "THERMOSTAT_HORIZON_MINUTES"
MAX_TARGETS = "THERMOSTAT_MAX_TARGETS"  # most targets one run considers (the rest are reported)
METRIC_READ_HOURS = "THERMOSTAT_METRIC_READ_HOURS"  # hours between two CloudWatch reads of a target
PERIOD_SECONDS = "THERMOSTAT_PERIOD_SECONDS"  # schedule period, sent to targets as period_s
BUDGET_SHARE = "THERMOSTAT_BUDGET_SHARE"
MAX_BATCH_SIZE = "THERMOSTAT_MAX_BATCH_SIZE"
MAP_MAX_CONCURRENCY = "THERMOSTAT_MAP_MAX_CONCURRENCY"
MAX_HOLD_MS = "THERMOSTAT_MAX_HOLD_MS"
WARM_DEADLINE_MS = "THERMOSTAT_WARM_DEADLINE_MS"
WORKFLOW_TYPE = "THERMOSTAT_WORKFLOW_TYPE"
PER_TARGET_METRICS = "THERMOSTAT_PER_TARGET_METRICS"  # custom metrics per target cost ~$0.30/month each
KILL_SWITCH_PARAMETER = "THERMOSTAT_KILL_SWITCH_PARAMETER"  # SSM parameter read at run start ("" = none)
METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
STATE_BUCKET = "THERMOSTAT_STATE_BUCKET"  # the state store (S3 bucket the stack creates)
STACK_NAME = "THERMOSTAT_STACK_NAME"  # the Stack dimension of every Thermostat metric
PRICE_PER_COLD_START = "THERMOSTAT_PRICE_PER_COLD_START"  # USD a real cold start is worth avoiding
MONTHLY_BUDGET_USD = "THERMOSTAT_MONTHLY_BUDGET_USD"  # monthly cap of the warming (0 = none)

DEFAULT_NAMESPACE = "Thermostat"

Env = Mapping[str, str]


def _get(env: Env, name: str, default: str) -> str:
    value = env.get(name, default)
    return value.strip() if value.strip() else default


def _int(env: Env, name: str, default: int, low: int = 0, high: int | None = None) -> int:
    raw = _get(env, name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        raise ConfigurationError(f"{name}={value} is outside [{low}, {high if high is not None else '∞'}]")
    return value


def _float(env: Env, name: str, default: float, low: float, high: float, *, low_inclusive: bool = False) -> float:
    raw = _get(env, name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if value != value or not (low <= value if low_inclusive else low < value) or value > high:
        raise ConfigurationError(f"{name}={value} is outside {'[' if low_inclusive else '('}{low}, {high}]")
    return value


def _warm_bounds(env: Env, min_default: int, max_default: int) -> tuple[int, int]:
    """THERMOSTAT_MIN_WARM / THERMOSTAT_MAX_WARM, checked together once (every target source uses them)."""
    low = _int(env, MIN_WARM, min_default, 0, 1000)
    high = _int(env, MAX_WARM, max_default, 1, 1000)
    if low > high:
        raise ConfigurationError(f"{MIN_WARM}={low} is greater than {MAX_WARM}={high}")
    return low, high


def _bool(env: Env, name: str, default: bool) -> bool:
    raw = _get(env, name, "true" if default else "false").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean (true/false)")


@dataclass(frozen=True)
class DiscoverySettings:
    tag_key: str = "thermostat:enabled"
    tag_value: str = "true"
    explicit_targets: tuple[dict[str, object], ...] = ()
    min_warm: int = 1  # every opted-in target keeps one environment warm (the floor)
    max_warm: int = 100
    max_targets: int = 5000  # targets beyond it are reported as not warmed, never dropped silently
    metric_read_hours: int = 6  # hours between two CloudWatch reads of a target's history

    @classmethod
    def from_env(cls, env: Env | None = None) -> DiscoverySettings:
        env = os.environ if env is None else env
        min_warm, max_warm = _warm_bounds(env, cls.min_warm, cls.max_warm)
        return cls(
            tag_key=_get(env, TAG_KEY, cls.tag_key),
            tag_value=_get(env, TAG_VALUE, cls.tag_value),
            explicit_targets=parse_explicit_targets(env.get(EXPLICIT_TARGETS, "")),
            min_warm=min_warm,
            max_warm=max_warm,
            max_targets=_int(env, MAX_TARGETS, cls.max_targets, 1, 10000),
            metric_read_hours=_int(env, METRIC_READ_HOURS, cls.metric_read_hours, 1, 24),
        )


def parse_explicit_targets(raw: str) -> tuple[dict[str, object], ...]:
    """``THERMOSTAT_TARGETS``: a JSON list of ``{"function": ..}`` objects, or ``a,b:alias`` names."""
    raw = raw.strip()
    if not raw:
        return ()
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{EXPLICIT_TARGETS} is not valid JSON: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ConfigurationError(f"{EXPLICIT_TARGETS} must be a JSON list of objects")
        return tuple(items)
    specs: list[dict[str, object]] = []
    for name in filter(None, (part.strip() for part in raw.split(","))):
        if name.startswith("arn:"):  # an ARN (maybe with :qualifier): validation splits it
            specs.append({"function": name})
            continue
        function, _, qualifier = name.partition(":")
        spec: dict[str, object] = {"function": function}
        if qualifier:
            spec["qualifier"] = qualifier
        specs.append(spec)
    return tuple(specs)


@dataclass(frozen=True)
class RunSettings:
    """What Validate Input needs: defaults of the execution input and the kill switch."""

    enabled: bool = True
    quantile: float = 0.95
    horizon_minutes: int = 5
    min_warm: int = 1
    max_warm: int = 100  # the default of a target's max, and the bound of its min and max
    kill_switch_parameter: str = ""  # SSM parameter name; "" = only `enabled` decides

    @classmethod
    def from_env(cls, env: Env | None = None) -> RunSettings:
        env = os.environ if env is None else env
        min_warm, max_warm = _warm_bounds(env, cls.min_warm, cls.max_warm)
        return cls(
            enabled=_bool(env, ENABLED, cls.enabled),
            quantile=_float(env, QUANTILE, cls.quantile, 0.0, 0.999),
            horizon_minutes=_int(env, HORIZON_MINUTES, cls.horizon_minutes, 1, 60),
            min_warm=min_warm,
            max_warm=max_warm,
            kill_switch_parameter=env.get(KILL_SWITCH_PARAMETER, "").strip(),
        )


@dataclass(frozen=True)
class PlanSettings:
    budget_share: float = 0.5  # share of what the account/reserved pool has free now; at most 0.9
    max_batch_size: int = 500
    map_max_concurrency: int = 40
    max_hold_ms: int = 1500
    period_s: int = 300
    warm_deadline_ms: int = 20000  # a batch stops retrying throttles this long after release_at

    @classmethod
    def from_env(cls, env: Env | None = None) -> PlanSettings:
        env = os.environ if env is None else env
        return cls(
            budget_share=_float(env, BUDGET_SHARE, cls.budget_share, 0.0, 0.9),
            max_batch_size=_int(env, MAX_BATCH_SIZE, cls.max_batch_size, 1, 1000),
            map_max_concurrency=_int(env, MAP_MAX_CONCURRENCY, cls.map_max_concurrency, 1, 40),
            max_hold_ms=_int(env, MAX_HOLD_MS, cls.max_hold_ms, 0, 2000),
            period_s=_int(env, PERIOD_SECONDS, cls.period_s, 60, 86400),
            warm_deadline_ms=_int(env, WARM_DEADLINE_MS, cls.warm_deadline_ms, 1000, 600000),
        )


@dataclass(frozen=True)
class SummarySettings:
    namespace: str = DEFAULT_NAMESPACE
    workflow_type: str = "STANDARD"
    per_target_metrics: bool = True
    plan: PlanSettings = field(default_factory=PlanSettings)

    @classmethod
    def from_env(cls, env: Env | None = None) -> SummarySettings:
        env = os.environ if env is None else env
        workflow = _get(env, WORKFLOW_TYPE, cls.workflow_type).upper()
        if workflow not in ("STANDARD", "EXPRESS"):
            raise ConfigurationError(f"{WORKFLOW_TYPE}={workflow!r} is not STANDARD or EXPRESS")
        return cls(
            namespace=_get(env, METRICS_NAMESPACE, DEFAULT_NAMESPACE),
            workflow_type=workflow,
            per_target_metrics=_bool(env, PER_TARGET_METRICS, cls.per_target_metrics),
            plan=PlanSettings.from_env(env),
        )


@dataclass(frozen=True)
class StoreSettings:
    """Where the state store lives, and the stack name that keeps two stacks' metrics apart."""

    bucket: str = ""  # "" = no state store configured (documents travel inline only)
    stack_name: str = ""

    @classmethod
    def from_env(cls, env: Env | None = None) -> StoreSettings:
        env = os.environ if env is None else env
        return cls(bucket=env.get(STATE_BUCKET, "").strip(), stack_name=env.get(STACK_NAME, "").strip())


@dataclass(frozen=True)
class ForecastSettings:
    """Forecast knobs; quantile/horizon come from the execution input (Request) when given there."""

    quantile: float = 0.95
    horizon_minutes: int = 5
    tick_minutes: int = 5  # schedule period: one forecast per tick
    use_statsmodels: bool = True  # False keeps to the numpy baselines (what-if runs, faster)
    price_per_cold_start: float = 0.001  # USD (thermostat.forecast.DEFAULT_PRICE_PER_COLD_START)
    monthly_budget_usd: float = 0.0  # 0 = no cap

    @classmethod
    def from_env(cls, env: Env | None = None) -> ForecastSettings:
        env = os.environ if env is None else env
        return cls(
            quantile=_float(env, QUANTILE, cls.quantile, 0.0, 0.999),
            horizon_minutes=_int(env, HORIZON_MINUTES, cls.horizon_minutes, 1, 60),
            tick_minutes=max(1, _int(env, PERIOD_SECONDS, cls.tick_minutes * 60, 60, 86400) // 60),
            price_per_cold_start=_float(env, PRICE_PER_COLD_START, cls.price_per_cold_start, 0.0, 1.0,
                                        low_inclusive=True),
            monthly_budget_usd=_float(env, MONTHLY_BUDGET_USD, cls.monthly_budget_usd, 0.0, 1e6, low_inclusive=True),
        )

"""thermostat_target: make a Lambda function warm-aware (answer Thermostat's pings, refresh caches ahead).

Stdlib only. Every submodule except ``testing`` is imported here, at import time, on purpose: the local
embedded runtime gives each simulated execution environment its own copy of these modules only while it
imports the handler, so nothing in this package may import a sibling module later (at invocation time).
Third-party modules (boto3, Powertools) are imported lazily, on first fetch. Import cost: see
docs/target-library.md (about 2 ms with bytecode).
"""

from __future__ import annotations

from thermostat_target import metrics, providers, runtime, snapstart
from thermostat_target.cache import TTLCache, TTLValue, cached
from thermostat_target.decorator import warm_aware
from thermostat_target.exceptions import (
    CacheKeyError,
    LoaderError,
    LoaderTimeoutError,
    NotWarmAwareError,
    PingError,
    ProviderError,
    ThermostatTargetError,
)
from thermostat_target.protocol import (
    PROTOCOL_VERSION,
    Answer,
    Ping,
    client_context_b64,
    compute_hold_ms,
    has_marker,
    is_ping,
    make_answer,
    make_ping,
    parse_answer,
    parse_ping,
)
from thermostat_target.providers import (
    AppConfig,
    S3Object,
    Secret,
    SSMParameter,
    get_app_config,
    get_parameter,
    get_secret,
)
from thermostat_target.runtime import set_init_started

__version__ = "0.2.0"  # ping/answer protocol v2

__all__ = [
    "PROTOCOL_VERSION", "Answer", "AppConfig", "CacheKeyError", "LoaderError", "LoaderTimeoutError",
    "NotWarmAwareError", "Ping", "PingError", "ProviderError", "S3Object", "SSMParameter", "Secret",
    "TTLCache", "TTLValue", "ThermostatTargetError", "__version__", "cached", "client_context_b64",
    "compute_hold_ms", "get_app_config", "get_parameter", "get_secret", "has_marker", "is_ping", "make_answer",
    "make_ping", "metrics", "parse_answer", "parse_ping", "providers", "runtime", "set_init_started", "snapstart",
    "warm_aware",
]

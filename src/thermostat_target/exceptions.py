"""Errors of the target library. Every class ends in ``Error`` and derives from ``ThermostatTargetError``."""

from __future__ import annotations


class ThermostatTargetError(Exception):
    """Base of every error the target library raises on purpose."""


class PingError(ThermostatTargetError):
    """An event has the ping envelope (``{"thermostat": ...}`` and nothing else) but is not a valid ping.

    ``code`` is one of ``malformed``, ``oversized``, ``unsupported_version``; ``field`` names the
    offending field path (``thermostat.slot``). ``warm_aware`` answers it with an ``error`` and no hold;
    the user's handler is never called with it.
    """

    def __init__(self, code: str, field: str, problem: str) -> None:
        self.code = code
        self.field = field
        self.problem = problem
        super().__init__(f"{code}: {field}: {problem}")


class NotWarmAwareError(ThermostatTargetError):
    """A payload returned by a target is not a Thermostat answer (the target is not warm-aware,
    answered with its own handler's output, or failed with a Lambda function error)."""


class CacheKeyError(ThermostatTargetError, TypeError):
    """The arguments of a ``@cached`` function cannot be used as a cache key (not hashable)."""


class LoaderError(ThermostatTargetError):
    """A cache loader failed and no usable (fresh or within grace) value is cached."""


class LoaderTimeoutError(LoaderError):
    """A cache loader did not finish within the time it was given (bounded by remaining time)."""


class ProviderError(ThermostatTargetError):
    """A parameter/secret/config/object provider could not fetch its value."""

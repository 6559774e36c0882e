"""Per-execution-environment state: env id, cold flag, invocation counters, init time, registered caches.

All of it is module-level state of this package on purpose: an execution environment is one copy of
these modules. The local embedded runtime imports ``thermostat_target`` anew (isolated ``sys.modules``
view) for each simulated environment, so each copy draws its own env id and starts cold. Nothing is
kept outside the package (no os.environ writes, no atexit).

``init_ms`` is measured from the *runtime's* start to the first invocation, not from this import:
1. a start marked with :func:`set_init_started` (the local runtime calls it; epoch seconds), else
2. on Lambda, the process start time from ``/proc/self/stat`` + ``/proc/uptime``, else
3. the time this module was first imported.

Telemetry for the ping answers (protocol v2): ``real_since_ping`` (real invocations since the previous
honoured ping), ``last_real_at`` (when the latest real invocation started) and ``last_ping_at`` (when the
previous honoured ping arrived), stamped with a monotonic clock (``time.monotonic``; :func:`set_clock`
injects another for tests). The real-event path (:func:`begin_real`) only adds and stamps: no allocation
beyond the float of the clock, well under a microsecond.
"""

from __future__ import annotations

import os
import time

from thermostat_target import config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from thermostat_target.cache import Refreshable

IMPORTED_AT: float = time.time()

env_id: str = os.urandom(8).hex()
invocations: int = 0
restores: int = 0
_init_started: float | None = None
_init_ms: float | None = None
_caches: list[Refreshable] = []
_restore_hooks: list[Callable[[], None]] = []
snapstart_hook_installed: bool = False
real_since_ping: int = 0
last_real_at: float | None = None
last_ping_at: float | None = None
_clock: Callable[[], float] = time.monotonic


def set_clock(clock: Callable[[], float] | None = None) -> None:
    """The monotonic clock (seconds) of the telemetry ages; None: ``time.monotonic``."""
    global _clock
    _clock = clock if clock is not None else time.monotonic


def set_init_started(started_at: float | None = None) -> None:
    """Mark when the runtime started this execution environment (epoch seconds, ``time.time()``;
    default now). Call it before the environment's first invocation."""
    global _init_started, _init_ms
    _init_started = time.time() if started_at is None else float(started_at)
    _init_ms = None


def process_start_time(proc: str = "/proc") -> float | None:
    """Epoch seconds at which this process started (Linux ``/proc``), or None when unreadable."""
    try:
        with open(f"{proc}/self/stat", "rb") as fh:
            stat = fh.read()
        with open(f"{proc}/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        # fields after the ")" closing the command name; starttime is field 22 (index 19 after it)
        start_ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (uptime - start_ticks / ticks)


def init_started() -> float:
    """When this environment's init began (see the module docstring for the order of sources)."""
    if _init_started is not None:
        return _init_started
    if config.on_lambda():
        started = process_start_time()
        if started is not None and started <= IMPORTED_AT:
            return started
    return IMPORTED_AT


def begin_invocation(now: float | None = None) -> bool:
    """Count one invocation (a ping: no telemetry stamp); True when it is the environment's first (cold).
    Fixes ``init_ms``."""
    global invocations
    invocations += 1
    if invocations == 1:
        return begin_first(now)
    return False


def begin_real() -> bool:
    """Count one real (non-ping) invocation and stamp its start; True when it is the environment's first."""
    global invocations, real_since_ping, last_real_at
    last_real_at = _clock()
    real_since_ping += 1
    invocations += 1
    if invocations == 1:
        return begin_first()
    return False


def begin_first(now: float | None = None) -> bool:
    """Fix ``init_ms`` at the environment's first invocation (already counted); returns True."""
    global _init_ms
    if _init_ms is None:
        _init_ms = max(0.0, ((time.time() if now is None else now) - init_started()) * 1000.0)
    return True


def ping_telemetry(consume: bool) -> tuple[int, float | None, float | None]:
    """``(real, real_age_ms, ping_age_ms)`` as a ping answer reports them, measured now. ``consume``
    (an honoured ping): this ping becomes the previous one (``real`` restarts from 0)."""
    global real_since_ping, last_ping_at
    now = _clock()
    real = real_since_ping
    real_age = None if last_real_at is None else max(0.0, (now - last_real_at) * 1000.0)
    ping_age = None if last_ping_at is None else max(0.0, (now - last_ping_at) * 1000.0)
    if consume:
        real_since_ping, last_ping_at = 0, now
    return real, real_age, ping_age


def init_ms() -> float:
    """How long this environment's init took (ms), once the first invocation began; else 0."""
    return _init_ms if _init_ms is not None else 0.0


def new_environment(started_at: float | None = None) -> str:
    """Start a new environment in place (after a SnapStart restore): new env id, cold again."""
    global env_id, invocations, restores, real_since_ping, last_real_at, last_ping_at
    env_id = os.urandom(8).hex()
    invocations = real_since_ping = 0
    last_real_at = last_ping_at = None
    restores += 1
    set_init_started(started_at)
    return env_id


def register_cache(cache: Refreshable) -> None:
    """Remember a cache of this environment (refreshed on pings when ``warm_aware`` has no list)."""
    _caches.append(cache)


def unregister_cache(cache: Refreshable) -> None:
    if cache in _caches:
        _caches.remove(cache)


def registered_caches() -> list[Refreshable]:
    return list(_caches)


def add_restore_hook(hook: Callable[[], None]) -> None:
    _restore_hooks.append(hook)


def restore_hooks() -> list[Callable[[], None]]:
    return list(_restore_hooks)


def reset(clear_caches: bool = False) -> None:
    """Forget this environment's history (for tests): new env id, cold again, init from now, the
    telemetry clock back to ``time.monotonic``."""
    global restores
    new_environment()
    restores = 0
    set_clock(None)
    if clear_caches:
        _caches.clear()
        _restore_hooks.clear()

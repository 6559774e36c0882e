"""Run the due reload jobs of a set of caches within a deadline, never raising (the ping's answer path).

With a deadline (the invocation's remaining time minus a margin), each job runs on its own daemon
thread and the caller waits at most until the deadline: a loader that hangs is reported as failed
(``LoaderTimeoutError``) and left behind; if it finishes later its value is still stored (a newer value
is never replaced by an older load). Without a deadline, jobs run inline, one after the other.

Ping-driven refreshes are rate-limited per cache (``rate_limit=True``), whatever the ping's ``period_s``
says: a cache whose previous ping-driven reload was attempted less than
``max(MIN_REFRESH_INTERVAL_S, REFRESH_INTERVAL_FRACTION * max_age)`` seconds ago (30 s, or a quarter of
its ``max_age`` when that is longer; measured on the cache's own ``timer``) is skipped. Failed attempts
count too, so a flood of pings cannot hammer a failing secret store. Scheduled pings never hit the
limit: a cache is due at most about once per period, and the interval is shorter than any schedule
period for the ``max_age`` values that are due on every ping.
"""

from __future__ import annotations

import time

from thermostat_target.exceptions import LoaderTimeoutError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from thermostat_target.cache import Job, Refreshable


MIN_REFRESH_INTERVAL_S = 30.0
REFRESH_INTERVAL_FRACTION = 0.25
_STAMP = "_thermostat_ping_refresh_at"
_stamps: dict[int, float] = {}  # for caches that cannot carry the stamp attribute (id -> time)


class Report:
    """What a refresh did: cache names refreshed / failed / skipped by the rate limit, and every cache's
    age afterwards. Names stay in this process (DEBUG logs); ping answers carry counts only."""

    __slots__ = ("ages", "failed", "limited", "refreshed")

    def __init__(self) -> None:
        self.refreshed: list[str] = []
        self.failed: list[str] = []
        self.limited: list[str] = []
        self.ages: dict[str, float] = {}

    def oldest_age(self) -> float | None:
        """Age in seconds of the oldest cached value, None when no cache holds one."""
        return max(self.ages.values()) if self.ages else None

    def __repr__(self) -> str:
        return f"Report(refreshed={self.refreshed}, failed={self.failed}, limited={self.limited})"


def refresh_interval_s(cache: object) -> float:
    """The least time between two ping-driven reloads of ``cache``: ``max(30 s, max_age / 4)``."""
    max_age = getattr(cache, "max_age", None)
    if isinstance(max_age, int | float) and not isinstance(max_age, bool) and max_age > 0:
        return max(MIN_REFRESH_INTERVAL_S, REFRESH_INTERVAL_FRACTION * float(max_age))
    return MIN_REFRESH_INTERVAL_S


def _now(cache: object) -> float:
    timer = getattr(cache, "timer", None)
    try:
        return float(timer()) if callable(timer) else time.monotonic()
    except Exception:
        return time.monotonic()


def _allowed(cache: object, now: float) -> bool:
    """True when ``cache`` may be reloaded by a ping now (no attempt within its interval)."""
    stamp = getattr(cache, _STAMP, None)
    if stamp is None:
        stamp = _stamps.get(id(cache))
    # a clock that went backwards (a restored snapshot on another host) never blocks forever
    return stamp is None or now < stamp or now - stamp >= refresh_interval_s(cache)


def _stamp(cache: object, now: float) -> None:
    try:
        setattr(cache, _STAMP, now)
    except (AttributeError, TypeError):
        _stamps[id(cache)] = now


def _safe_due(cache: Refreshable, horizon_s: float, force: bool) -> list[Job]:
    try:
        return cache.due(horizon_s, force=force)
    except Exception as exc:
        cache.record_failure(exc)
        return []


def _run_inline(job: Job) -> BaseException | None:
    try:
        job()
    except Exception as exc:
        return exc
    return None


def _run_threaded(jobs: list[Job], timeout_s: float, clock: Callable[[], float]) -> list[BaseException | None]:
    import threading  # lazily: only pings that refresh need it

    outcomes: list[BaseException | None] = [LoaderTimeoutError("loader did not finish in time")] * len(jobs)

    def run(index: int, job: Job) -> None:
        outcomes[index] = _run_inline(job)

    threads = [threading.Thread(target=run, args=(i, job), daemon=True, name="thermostat-refresh")
               for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    deadline = clock() + max(0.0, timeout_s)
    for thread in threads:
        thread.join(max(0.0, deadline - clock()))
    return [outcome if not threads[i].is_alive() else LoaderTimeoutError(
        f"loader still running after {timeout_s:.3f} s") for i, outcome in enumerate(outcomes)]


def refresh_caches(
    caches: Iterable[Refreshable], horizon_s: float, *, timeout_s: float | None = None,
    force: bool = False, clock: Callable[[], float] = time.monotonic, rate_limit: bool = False,
) -> Report:
    """Reload every entry of ``caches`` that expires within ``horizon_s`` (all when ``force``).

    ``timeout_s``: wall-clock budget for all loads together (None: inline, unbounded). ``rate_limit``
    (pings): skip a cache reloaded by a ping less than :func:`refresh_interval_s` ago. Never raises."""
    report = Report()
    cache_list = list(caches)
    jobs: list[Job] = []
    owners: list[Refreshable] = []
    for cache in cache_list:
        now = _now(cache) if rate_limit else 0.0
        if rate_limit and not _allowed(cache, now):
            report.limited.append(cache.name)
            continue
        due = _safe_due(cache, horizon_s, force)
        if rate_limit and due:
            _stamp(cache, now)
        for job in due:
            jobs.append(job)
            owners.append(cache)
    if not jobs:
        outcomes: list[BaseException | None] = []
    elif timeout_s is None:
        outcomes = [_run_inline(job) for job in jobs]
    elif timeout_s <= 0:
        outcomes = [LoaderTimeoutError("no time left to refresh")] * len(jobs)
    else:
        outcomes = _run_threaded(jobs, timeout_s, clock)
    failed_ids: set[int] = set()
    done_ids: set[int] = set()
    for cache, outcome in zip(owners, outcomes, strict=True):
        if outcome is None:
            done_ids.add(id(cache))
        else:
            failed_ids.add(id(cache))
            cache.record_failure(outcome)
            _warn(cache.name, outcome)
    for cache in cache_list:
        if id(cache) in failed_ids:
            report.failed.append(cache.name)
        elif id(cache) in done_ids:
            report.refreshed.append(cache.name)
    report.ages = cache_ages(cache_list)
    return report


def cache_ages(caches: Iterable[Refreshable]) -> dict[str, float]:
    """Cache name -> age in seconds (oldest entry) for the caches that hold something."""
    ages: dict[str, float] = {}
    for cache in caches:
        try:
            age = cache.age()
        except Exception:
            age = None
        if age is not None:
            ages[cache.name] = max(age, ages.get(cache.name, 0.0))
    return ages


def _warn(name: str, exc: BaseException) -> None:
    import logging

    logging.getLogger(__name__).warning("cache refresh failed",
                                        extra={"cache": name, "error": type(exc).__name__})

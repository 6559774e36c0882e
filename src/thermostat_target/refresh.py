"""Run the due reload jobs of a set of caches within a deadline, never raising (the ping's answer path).

With a deadline (the invocation's remaining time minus a margin), each job runs on its own daemon
thread and the caller waits at most until the deadline: a loader that hangs is reported as failed
(``LoaderTimeoutError``) and left behind; if it finishes later its value is still stored (a newer value
is never replaced by an older load). Without a deadline, jobs run inline, one after the other.
"""

from __future__ import annotations

import time

from thermostat_target.exceptions import LoaderTimeoutError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from thermostat_target.cache import Job, Refreshable


class Report:
    """What a refresh did: cache names refreshed / failed, and every cache's age afterwards."""

    __slots__ = ("ages", "failed", "refreshed")

    def __init__(self) -> None:
        self.refreshed: list[str] = []
        self.failed: list[str] = []
        self.ages: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"Report(refreshed={self.refreshed}, failed={self.failed})"


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
    force: bool = False, clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Reload every entry of ``caches`` that expires within ``horizon_s`` (all when ``force``).

    ``timeout_s``: wall-clock budget for all loads together (None: inline, unbounded). Never raises."""
    report = Report()
    cache_list = list(caches)
    jobs: list[Job] = []
    owners: list[Refreshable] = []
    for cache in cache_list:
        for job in _safe_due(cache, horizon_s, force):
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

"""TTLValue / TTLCache / @cached with a fake timer: expiry, refresh-ahead, grace, keys, LRU."""

from __future__ import annotations

from typing import Any

import pytest

from thermostat_target import TTLCache, TTLValue, cached, runtime
from thermostat_target.exceptions import CacheKeyError
from thermostat_target.refresh import refresh_caches
from thermostat_target.testing import FakeTimer


class Loader:
    """Counts loads; fails when told to."""

    def __init__(self) -> None:
        self.loads = 0
        self.fail = False

    def __call__(self, *args: Any) -> str:
        if self.fail:
            raise ConnectionError("registry down")
        self.loads += 1
        return f"v{self.loads}{args}"


def test_value_is_cached_until_max_age(timer: FakeTimer) -> None:
    loader = Loader()
    value = TTLValue(loader, max_age=60, timer=timer)
    assert value.get() == "v1()" and value.get() == "v1()"
    timer.advance(59.9)
    assert value.get() == "v1()"
    timer.advance(0.1)
    assert value.get() == "v2()" and loader.loads == 2
    assert value.get(force_fetch=True) == "v3()"


def test_due_means_expiring_before_the_next_ping_plus_refresh_ahead(timer: FakeTimer) -> None:
    # GIVEN a value loaded now, 600 s max age, 30 s refresh-ahead
    value = TTLValue(Loader(), max_age=600, refresh_ahead=30, timer=timer)
    assert value.due(300) != []  # never loaded: due
    value.get()
    # THEN with pings every 300 s it is due when less than 330 s of life remain
    timer.advance(269)
    assert value.due(300) == []
    timer.advance(2)
    assert len(value.due(300)) == 1


def test_ping_refresh_means_real_reads_never_load(timer: FakeTimer) -> None:
    # GIVEN pings every 300 s that refresh due caches / WHEN real reads happen between pings
    loader = Loader()
    value = TTLValue(loader, max_age=600, timer=timer)
    for _ in range(12):
        report = refresh_caches([value], 300)
        assert report.failed == []
        loads_before = loader.loads
        for _ in range(5):
            timer.advance(60)
            value.get()
        # THEN no real read ever loaded
        assert loader.loads == loads_before
    assert loader.loads >= 6


def test_failing_refresh_keeps_the_old_value_within_grace(timer: FakeTimer) -> None:
    loader = Loader()
    value = TTLValue(loader, max_age=60, grace=30, timer=timer)
    value.get()
    loader.fail = True
    report = refresh_caches([value], 300)
    assert report.failed == [value.name] and value.failures == 1
    assert isinstance(value.last_error, ConnectionError)
    timer.advance(80)  # expired, within grace: the stale value is served
    assert value.get() == "v1()"
    timer.advance(20)  # beyond grace: the loader's own error
    with pytest.raises(ConnectionError):
        value.get()


def test_an_older_slower_load_never_replaces_a_newer_value(timer: FakeTimer) -> None:
    # GIVEN a slow load during which a newer load starts and completes
    value: TTLValue[str] = TTLValue(lambda: "first", max_age=60, timer=timer)

    def slow() -> str:
        value.loader = lambda: "new"
        timer.advance(1)
        value.refresh()
        return "old"

    value.loader = slow
    # WHEN the slow (older) load finishes last
    value.refresh()
    # THEN the newer value stays
    assert value.get() == "new" and value.age() == 0.0


def test_cached_memoises_per_key_and_refreshes_entries(timer: FakeTimer) -> None:
    loader = Loader()
    fn = cached(max_age=60, timer=timer)(loader)
    assert fn("EUR") == "v1('EUR',)" and fn("EUR") == "v1('EUR',)" and fn("GBP") == "v2('GBP',)"
    assert fn.cache_info()["hits"] == 1  # type: ignore[attr-defined]
    timer.advance(50)
    report = refresh_caches([fn.cache], 300)  # type: ignore[attr-defined]
    assert report.refreshed == [fn.cache.name] and loader.loads == 4  # type: ignore[attr-defined]
    assert fn("EUR") == "v3('EUR',)"


def test_unhashable_cache_key_is_a_clear_error(timer: FakeTimer) -> None:
    fn = cached(max_age=60, timer=timer)(Loader())
    with pytest.raises(CacheKeyError, match="cannot be a cache key") as info:
        fn({"not": "hashable"})
    assert isinstance(info.value, TypeError)


def test_lru_eviction_and_kwargs_keys(timer: FakeTimer) -> None:
    cache = TTLCache(lambda a, b=0: a + b, max_age=60, maxsize=2, timer=timer)
    assert cache.get(1, b=2) == 3 and cache.get(1) == 1
    cache.get(1, b=2)            # most recently used
    cache.get(5)                 # evicts (1,)
    assert len(cache) == 2 and cache.info()["loads"] == 3
    cache.get(1)
    assert cache.info()["loads"] == 4


def test_caches_register_with_the_environment_unless_told_not_to(timer: FakeTimer) -> None:
    a = TTLValue(Loader(), max_age=1, timer=timer)
    TTLValue(Loader(), max_age=1, timer=timer, register=False)
    assert runtime.registered_caches() == [a]


@pytest.mark.parametrize("kwargs", [{"max_age": 0}, {"max_age": -1}, {"max_age": True},
                                    {"max_age": 1, "refresh_ahead": -1}, {"max_age": 1, "grace": -2}])
def test_bad_settings_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TTLValue(Loader(), **kwargs)


def test_ages_report_the_oldest_entry(timer: FakeTimer) -> None:
    cache = TTLCache(Loader(), max_age=600, timer=timer, name="rates")
    assert cache.age() is None
    cache.get("a")
    timer.advance(10)
    cache.get("b")
    assert refresh_caches([cache], 0).ages == {"rates": 10.0}

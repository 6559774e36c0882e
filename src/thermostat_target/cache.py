"""Refresh-ahead caches: ``TTLValue`` (one value), ``TTLCache`` and ``@cached`` (keyed memoisation).

A real read returns the cached value until it is ``max_age`` seconds old, then loads inline. On a warm
ping, ``warm_aware`` asks each cache which entries would expire before the next expected ping
(``period_s`` of the ping + ``refresh_ahead``) and reloads them then, so real requests never pay the
load. Never-loaded ``TTLValue``s count as due: a cold environment's first ping loads them.

A loader that fails keeps the old value: a real read returns it while it is at most ``grace`` seconds
past expiry (then the loader's own exception propagates); a refresh on a ping records the failure
(``failures``, ``last_error``) and the answer counts it in ``refresh_failed``.

The timer (``time.monotonic`` by default) is injectable, cachetools style, so tests need no sleep.
Entries are stamped with the time their load *started*, and a slower, older load never replaces a
newer value.
"""

from __future__ import annotations

import _thread
import time

from thermostat_target import runtime
from thermostat_target._compat import Generic, T, update_wrapper
from thermostat_target.exceptions import CacheKeyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    Job = Callable[[], object]

    class Refreshable(Protocol):
        """What ``warm_aware`` refreshes: a named cache that lists its due reload jobs."""

        name: str

        def due(self, horizon_s: float, *, force: bool = False) -> list[Job]: ...

        def age(self) -> float | None: ...

        def record_failure(self, exc: BaseException) -> None: ...


DEFAULT_REFRESH_AHEAD_S = 30.0


def _check(max_age: float, refresh_ahead: float, grace: float | None) -> float:
    if isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age <= 0:
        raise ValueError(f"max_age must be a positive number of seconds, got {max_age!r}")
    if refresh_ahead < 0:
        raise ValueError(f"refresh_ahead must be >= 0, got {refresh_ahead!r}")
    if grace is not None and grace < 0:
        raise ValueError(f"grace must be >= 0, got {grace!r}")
    return float(max_age if grace is None else grace)


def _warn(event: str, name: str, exc: BaseException) -> None:
    import logging  # lazily: logging costs ~15 ms of import and is only needed on failures

    logging.getLogger(__name__).warning(event, extra={"cache": name, "error": type(exc).__name__})


class _Base:
    """Settings, bookkeeping and registration shared by ``TTLValue`` and ``TTLCache``."""

    def __init__(
        self, name: str, max_age: float, refresh_ahead: float, grace: float | None,
        timer: Callable[[], float], register: bool,
    ) -> None:
        self.grace = _check(max_age, refresh_ahead, grace)
        self.name = name
        self.max_age = float(max_age)
        self.refresh_ahead = float(refresh_ahead)
        self.timer = timer
        self.failures = 0
        self.loads = 0
        self.last_error: BaseException | None = None
        self._lock = _thread.allocate_lock()
        if register:
            runtime.register_cache(self)  # type: ignore[arg-type]

    def record_failure(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = exc

    def _expiring(self, stamp: float, now: float, horizon_s: float) -> bool:
        return stamp + self.max_age - now < horizon_s + self.refresh_ahead


class TTLValue(_Base, Generic[T]):
    """One value from ``loader()``, cached for ``max_age`` seconds and refreshed ahead on warm pings.

    ``get(force_fetch=True)`` reloads now (the name Powertools Parameters uses)."""

    def __init__(
        self, loader: Callable[[], T], max_age: float, *, refresh_ahead: float = DEFAULT_REFRESH_AHEAD_S,
        grace: float | None = None, name: str | None = None, timer: Callable[[], float] = time.monotonic,
        register: bool = True,
    ) -> None:
        if not callable(loader):
            raise TypeError(f"loader must be callable, got {type(loader).__name__}")
        self.loader = loader
        self._value: T | None = None
        self._stamp: float | None = None
        super().__init__(name or getattr(loader, "__name__", None) or type(self).__name__.lower(),
                         max_age, refresh_ahead, grace, timer, register)

    def get(self, force_fetch: bool = False) -> T:
        """The cached value; loads it when missing, expired or ``force_fetch``."""
        stamp = self._stamp
        now = self.timer()
        if not force_fetch and stamp is not None and now - stamp < self.max_age:
            return self._value  # type: ignore[return-value]
        try:
            return self._load()
        except Exception as exc:
            self.record_failure(exc)
            if stamp is not None and now - stamp < self.max_age + self.grace:
                _warn("cache load failed, serving stale value", self.name, exc)
                return self._value  # type: ignore[return-value]
            raise

    def refresh(self) -> T:
        """Load now and store the result; a failing loader raises and keeps the old value."""
        return self._load()

    def _load(self) -> T:
        started = self.timer()
        value = self.loader()
        with self._lock:
            self.loads += 1
            if self._stamp is None or started >= self._stamp:
                self._value, self._stamp = value, started
        return value

    def due(self, horizon_s: float, *, force: bool = False) -> list[Job]:
        """Reload jobs for a ping whose next one is ``horizon_s`` seconds away (none if still fresh)."""
        stamp = self._stamp
        if force or stamp is None or self._expiring(stamp, self.timer(), horizon_s):
            return [self._load]
        return []

    def age(self) -> float | None:
        """Seconds since the current value's load started; None before the first load."""
        stamp = self._stamp
        return None if stamp is None else max(0.0, self.timer() - stamp)

    @property
    def loaded(self) -> bool:
        return self._stamp is not None

    def invalidate(self) -> None:
        with self._lock:
            self._value, self._stamp = None, None

    def __repr__(self) -> str:
        return f"TTLValue(name={self.name!r}, max_age={self.max_age}, age={self.age()})"


def make_key(args: tuple[Any, ...], kwargs: dict[str, Any], owner: str = "cache") -> object:
    """A hashable key for ``args``/``kwargs``; :class:`CacheKeyError` names what is unhashable."""
    key: object = (args, tuple(sorted(kwargs.items()))) if kwargs else args
    try:
        hash(key)
    except TypeError as exc:
        raise CacheKeyError(f"arguments of {owner} cannot be a cache key: {exc}") from None
    return key


class TTLCache(_Base):
    """Keyed memoisation of ``loader(*args, **kwargs)``: LRU up to ``maxsize`` entries, each kept
    ``max_age`` seconds; on a warm ping, entries about to expire are reloaded with their own args."""

    def __init__(
        self, loader: Callable[..., Any], max_age: float, *, maxsize: int = 128,
        refresh_ahead: float = DEFAULT_REFRESH_AHEAD_S, grace: float | None = None, name: str | None = None,
        timer: Callable[[], float] = time.monotonic, register: bool = True,
    ) -> None:
        if not callable(loader):
            raise TypeError(f"loader must be callable, got {type(loader).__name__}")
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}")
        self.loader = loader
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        # key -> [value, stamp, args, kwargs]; dict order is LRU order (oldest first)
        self._data: dict[object, list[Any]] = {}
        super().__init__(name or getattr(loader, "__qualname__", None) or "ttlcache",
                         max_age, refresh_ahead, grace, timer, register)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        """``loader(*args, **kwargs)``, cached; ``force_fetch`` is not a key (use ``reload``)."""
        key = make_key(args, kwargs, self.name)
        now = self.timer()
        entry = self._data.get(key)
        if entry is not None and now - entry[1] < self.max_age:
            self.hits += 1
            with self._lock:
                if key in self._data:  # mark most recently used
                    self._data[key] = self._data.pop(key)
            return entry[0]
        self.misses += 1
        try:
            return self._load(key, args, kwargs)
        except Exception as exc:
            self.record_failure(exc)
            if entry is not None and now - entry[1] < self.max_age + self.grace:
                _warn("cache load failed, serving stale value", self.name, exc)
                return entry[0]
            raise

    def reload(self, *args: Any, **kwargs: Any) -> Any:
        """Load the entry for these arguments now (a failing loader raises and keeps the old one)."""
        return self._load(make_key(args, kwargs, self.name), args, kwargs)

    def _load(self, key: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        started = self.timer()
        value = self.loader(*args, **kwargs)
        with self._lock:
            self.loads += 1
            old = self._data.pop(key, None)
            if old is not None and started < old[1]:
                value, started = old[0], old[1]
            self._data[key] = [value, started, args, kwargs]
            while len(self._data) > self.maxsize:
                del self._data[next(iter(self._data))]
        return value

    def due(self, horizon_s: float, *, force: bool = False) -> list[Job]:
        now = self.timer()
        with self._lock:
            items = list(self._data.items())
        return [self._job(key, entry[2], entry[3]) for key, entry in items
                if force or self._expiring(entry[1], now, horizon_s)]

    def _job(self, key: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Job:
        def job() -> object:
            return self._load(key, args, kwargs)

        return job

    def age(self) -> float | None:
        """Age in seconds of the oldest entry; None when empty."""
        with self._lock:
            stamps = [entry[1] for entry in self._data.values()]
        return max(0.0, self.timer() - min(stamps)) if stamps else None

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def info(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "loads": self.loads, "failures": self.failures,
                "size": len(self._data), "maxsize": self.maxsize}


def cached(
    max_age: float, *, maxsize: int = 128, refresh_ahead: float = DEFAULT_REFRESH_AHEAD_S,
    grace: float | None = None, name: str | None = None, timer: Callable[[], float] = time.monotonic,
    register: bool = True,
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Memoise a function in a :class:`TTLCache` (``fn.cache``, ``fn.cache_info()``, ``fn.cache_clear()``).

    Arguments must be hashable (else :class:`CacheKeyError`)."""
    _check(max_age, refresh_ahead, grace)

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        cache = TTLCache(fn, max_age, maxsize=maxsize, refresh_ahead=refresh_ahead, grace=grace,
                         name=name, timer=timer, register=register)

        def wrapper(*args: Any, **kwargs: Any) -> T:
            return cache.get(*args, **kwargs)

        update_wrapper(wrapper, fn)
        wrapper.cache = cache  # type: ignore[attr-defined]
        wrapper.cache_info = cache.info  # type: ignore[attr-defined]
        wrapper.cache_clear = cache.clear  # type: ignore[attr-defined]
        return wrapper

    return decorate

"""Import-cost helpers: generics and ``wraps`` without importing ``typing`` or ``functools`` at runtime.

``typing`` costs ~6 ms and ``functools`` ~1-2 ms of import on the reference machine (no bytecode); the
library promises <= 5 ms for ``import thermostat_target``. Type checkers see the real ``typing`` names.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Generic, TypeVar

    T = TypeVar("T")
else:

    class Generic:
        """Runtime stand-in for ``typing.Generic``: ``Cls[X]`` is ``Cls``."""

        __slots__ = ()

        def __class_getitem__(cls, item):
            return cls

    T = None

_WRAPPER_ASSIGNMENTS = ("__module__", "__name__", "__qualname__", "__doc__")
CO_COROUTINE = 0x80


def update_wrapper(wrapper: Callable[..., object], wrapped: object) -> None:
    """What ``functools.update_wrapper`` does, tolerant of handler objects that lack ``__name__``."""
    for attr in _WRAPPER_ASSIGNMENTS:
        try:
            value = getattr(wrapped, attr)
        except AttributeError:
            if attr in ("__name__", "__qualname__"):
                value = type(wrapped).__name__
            else:
                continue
        setattr(wrapper, attr, value)
    extra = getattr(wrapped, "__dict__", None)
    if isinstance(extra, dict) and hasattr(wrapped, "__code__"):  # a function's attributes, not an object's state
        wrapper.__dict__.update(extra)
    wrapper.__wrapped__ = wrapped  # type: ignore[attr-defined]


def is_async_callable(obj: object) -> bool:
    """True for ``async def`` functions, bound methods and objects whose ``__call__`` is ``async def``."""
    while hasattr(obj, "__wrapped__") and not hasattr(obj, "__code__"):
        obj = obj.__wrapped__
    code = getattr(obj, "__code__", None)
    if code is None:
        code = getattr(type(obj).__call__, "__code__", None) if callable(obj) else None
    return bool(code is not None and code.co_flags & CO_COROUTINE)


class Frozen:
    """A frozen, slotted record (what ``@dataclass(frozen=True, slots=True)`` gives, without importing
    ``dataclasses``, which pulls in ``inspect`` and ``re``: ~18 ms of import on this machine)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()  # declaration order, for repr/eq/as_dict

    def _init(self, **values: object) -> None:
        for name in self._fields:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot assign {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name!r}")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({fields})"

    def as_dict(self) -> dict[str, object]:
        return {n: getattr(self, n) for n in self._fields}


__all__ = ["Frozen", "Generic", "T", "is_async_callable", "update_wrapper"]

"""Process-wide patches the sandbox installs (see :mod:`thermostat.local.sandbox`): Powertools' cold-start
flags answered per execution environment, serialised boto3 client creation, and a compiled-code cache.
"""

from __future__ import annotations

import os
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any

from thermostat.local.sandbox import current


class _ColdStartModule(types.ModuleType):
    """Class swapped onto ``aws_lambda_powertools.metrics.provider.cold_start`` (read as an attribute)."""

    @property
    def is_cold_start(self) -> bool:
        ctx = current()
        return ctx.powertools.metrics if ctx is not None else bool(self.__dict__.get("_process_flag", True))

    @is_cold_start.setter
    def is_cold_start(self, value: bool) -> None:
        ctx = current()
        if ctx is not None:
            ctx.powertools.metrics = bool(value)
        else:
            self.__dict__["_process_flag"] = bool(value)


def _take_flag(name: str, original: Callable[[], bool]) -> Callable[[], bool]:
    def is_cold_start() -> bool:
        ctx = current()
        if ctx is None:
            return original()
        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency":
            return False
        value = getattr(ctx.powertools, name)
        setattr(ctx.powertools, name, False)
        return value

    return is_cold_start


def patch_powertools() -> Callable[[], None]:
    undo: list[Callable[[], None]] = []
    try:
        import aws_lambda_powertools.logging.logger as pt_logger
        import aws_lambda_powertools.metrics.provider.cold_start as pt_cold
        import aws_lambda_powertools.tracing.tracer as pt_tracer
    except ImportError:  # Powertools not installed: nothing to re-arm
        return lambda: None
    for module, flag in ((pt_logger, "logger"), (pt_tracer, "tracer")):
        original = module._is_cold_start
        module._is_cold_start = _take_flag(flag, original)  # type: ignore[attr-defined]
        undo.append(lambda m=module, o=original: setattr(m, "_is_cold_start", o))  # type: ignore[misc]
    process_flag = pt_cold.__dict__.pop("is_cold_start", True)
    pt_cold.__dict__["_process_flag"] = process_flag
    old_class = pt_cold.__class__
    pt_cold.__class__ = _ColdStartModule

    def restore_cold() -> None:
        pt_cold.__class__ = old_class
        pt_cold.__dict__["is_cold_start"] = pt_cold.__dict__.pop("_process_flag", True)

    undo.append(restore_cold)

    def undo_all() -> None:
        for step in reversed(undo):
            step()

    return undo_all


def wrap_methods(owner: type, names: Iterable[str],
                 wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
    """Replace each named method of ``owner`` by ``wrap(original)``; returns undo (puts the originals back)."""
    originals = {name: getattr(owner, name) for name in names}
    for name, original in originals.items():
        setattr(owner, name, wrap(original))

    def undo() -> None:
        for name, original in originals.items():
            setattr(owner, name, original)

    return undo


def patch_boto3_sessions() -> Callable[[], None]:
    """On Lambda each environment is a process with its own boto3 default session; here they share one,
    and creating clients on one botocore session from several threads at once is not safe. Client and
    resource creation is serialised (calls through the clients are not)."""
    try:
        import boto3.session
    except ImportError:
        return lambda: None
    lock = threading.RLock()

    def locked(original: Callable[..., Any]) -> Callable[..., Any]:
        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return create

    return wrap_methods(boto3.session.Session, ("client", "resource"), locked)


def patch_code_cache() -> Callable[[], None]:
    """Each new environment imports its modules afresh; compiling them again each time (no ``.pyc`` under
    ``PYTHONDONTWRITEBYTECODE``) made a cold start cost ~15 ms of CPU under one lock. Code objects are
    immutable, so one compiled per source file (and mtime/size) serves every environment."""
    from importlib.machinery import SourceFileLoader

    original = SourceFileLoader.get_code
    own = "get_code" in SourceFileLoader.__dict__  # else inherited from SourceLoader
    cache: dict[tuple[str, int, int], Any] = {}
    lock = threading.Lock()

    def get_code(self: SourceFileLoader, fullname: str) -> Any:
        path = self.get_filename(fullname)
        try:
            stat = os.stat(path)
        except OSError:
            return original(self, fullname)
        key = (path, stat.st_mtime_ns, stat.st_size)
        with lock:
            code = cache.get(key)
        if code is None:
            code = original(self, fullname)
            with lock:
                cache[key] = code
        return code

    SourceFileLoader.get_code = get_code  # type: ignore[assignment,method-assign]

    def undo() -> None:
        if own:
            SourceFileLoader.get_code = original  # type: ignore[method-assign]
        else:
            del SourceFileLoader.get_code

    return undo

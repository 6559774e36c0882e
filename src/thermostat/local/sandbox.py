"""Per-invocation process state for the local Lambda runtime: environment variables, stdout, cold flags.

On Lambda every execution environment is its own process. Here they all share one interpreter, and
Step Functions' Map iterations (and a handler's own worker threads) run on threads at the same time.
So what is process-wide in Python is made per *invocation context* (thread-local, inherited by the
threads a handler starts):

- ``os.environ`` becomes :class:`ThreadLocalEnviron`: reads see the function's variables laid over the
  process environment; writes from handler code stay in the function's overlay.
- ``sys.stdout``/``sys.stderr`` become :class:`RoutingStream`: what a handler prints (EMF lines, JSON
  logs) goes to its invocation's log buffer instead of the terminal.
- Powertools' cold-start flags (process globals in its logger, tracer and metrics modules) are answered
  from the current environment, so each new environment reports ``cold_start: true`` once.

:func:`install` patches all of this in and returns an undo function; outside an invocation context
everything behaves exactly as before.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class PowertoolsFlags:
    """Powertools' three process-wide cold-start flags, kept per execution environment instead."""

    logger: bool = True
    tracer: bool = True
    metrics: bool = True


@dataclass
class InvocationContext:
    """What the current thread runs on behalf of: one function's environment and invocation."""

    environ: dict[str, str]
    log: list[str] = field(default_factory=list)
    powertools: PowertoolsFlags = field(default_factory=PowertoolsFlags)
    log_lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, text: str) -> None:
        with self.log_lock:
            self.log.append(text)

    def log_text(self) -> str:
        with self.log_lock:
            return "".join(self.log)


_local = threading.local()


def current() -> InvocationContext | None:
    return getattr(_local, "ctx", None)


@contextmanager
def activate(ctx: InvocationContext | None) -> Iterator[InvocationContext | None]:
    """Run the body with ``ctx`` as this thread's invocation context (nested invokes restore the outer)."""
    previous = current()
    _local.ctx = ctx
    try:
        yield ctx
    finally:
        _local.ctx = previous


class ThreadLocalEnviron(MutableMapping[str, str]):
    """``os.environ`` with a per-invocation overlay (Lambda's per-function variables)."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base

    def _overlay(self) -> dict[str, str] | None:
        ctx = current()
        return ctx.environ if ctx is not None else None

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            return overlay[key]
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        if overlay is None:
            self.base[key] = value
        else:
            overlay[key] = str(value)

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if overlay is None:
            del self.base[key]
        elif key in overlay:
            del overlay[key]
        else:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay()
        if overlay is None:
            return iter(list(self.base))
        return iter(list(dict.fromkeys([*self.base, *overlay])))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self.items())

    def __repr__(self) -> str:
        return f"ThreadLocalEnviron({dict(self.items())!r})"


class RoutingStream(io.TextIOBase):
    """A text stream that writes to the current invocation's log, or to ``fallback`` outside one."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        ctx = current()
        if ctx is None:
            return self.fallback.write(text)
        ctx.write(text)
        return len(text)

    def flush(self) -> None:
        if current() is None:
            self.fallback.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        """Never closes the stream it routes to (it does not own it); also what ``__del__`` calls."""

    def isatty(self) -> bool:
        return False if current() is not None else self.fallback.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.fallback, "encoding", "utf-8") or "utf-8"

    def fileno(self) -> int:
        return self.fallback.fileno()


def _patch_thread_start() -> Callable[[], None]:
    """Threads started inside an invocation inherit its context (a handler's worker pool, say)."""
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        ctx = current()
        if ctx is not None:
            run = self.run

            def run_in_context() -> None:
                with activate(ctx):
                    run()

            self.run = run_in_context  # type: ignore[method-assign]
        original_start(self)

    threading.Thread.start = start  # type: ignore[method-assign]
    return lambda: setattr(threading.Thread, "start", original_start)


def ensure_routing() -> None:
    """Re-wrap ``sys.stdout``/``sys.stderr`` if something replaced them after :func:`install` (pytest's
    capsys, a redirect_stdout block): handler output must keep going to its invocation's log."""
    if _install_depth == 0:
        return
    if not isinstance(sys.stdout, RoutingStream):
        sys.stdout = RoutingStream(sys.stdout)
    if not isinstance(sys.stderr, RoutingStream):
        sys.stderr = RoutingStream(sys.stderr)


_install_lock = threading.Lock()
_install_depth = 0
_undo: list[Callable[[], None]] = []


def install() -> Callable[[], None]:
    """Patch ``os.environ``, ``sys.stdout``/``stderr``, Powertools, ``Thread.start`` and boto3 client
    creation; returns undo.

    Nested installs are counted: only the outermost undo restores the originals."""
    global _install_depth
    with _install_lock:
        _install_depth += 1
        if _install_depth == 1:
            base_environ = os.environ
            routed_env = ThreadLocalEnviron(base_environ)
            os.environ = routed_env  # type: ignore[assignment]  # noqa: B003 - a wrapper, not a new env
            from thermostat.local.sandbox_patches import patch_boto3_sessions, patch_code_cache, patch_powertools

            stdout, stderr = sys.stdout, sys.stderr
            sys.stdout = RoutingStream(stdout)
            sys.stderr = RoutingStream(stderr)
            undo_pt = patch_powertools()
            undo_thread = _patch_thread_start()
            undo_boto3 = patch_boto3_sessions()
            undo_code = patch_code_cache()

            def undo_all() -> None:
                undo_code()
                undo_boto3()
                undo_thread()
                undo_pt()
                if isinstance(sys.stdout, RoutingStream):
                    sys.stdout = stdout
                if isinstance(sys.stderr, RoutingStream):
                    sys.stderr = stderr
                if os.environ is routed_env:
                    os.environ = base_environ  # noqa: B003

            _undo.append(undo_all)

    def uninstall() -> None:
        global _install_depth
        with _install_lock:
            _install_depth -= 1
            if _install_depth == 0 and _undo:
                _undo.pop()()

    return uninstall

"""SnapStart: after a snapshot is restored, draw a new environment id and refresh the caches.

Uses the Python runtime hooks (``snapshot_restore_py.register_after_restore``, present only on the
Lambda runtime, Python 3.12+); elsewhere installing is a no-op. A restored environment is a new one:
new ``env``, ``cold`` again on its first invocation, ``init_ms`` measured from the restore. Caches
loaded before the snapshot may be hours old, so all of them are reloaded (failures keep the old value).
"""

from __future__ import annotations

import time

from thermostat_target import runtime
from thermostat_target.refresh import refresh_caches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from thermostat_target.cache import Refreshable

    Registry = Callable[[Callable[..., object]], object]

HOOK_MODULE = "snapshot_restore_py"


def _default_registry() -> Registry | None:
    try:
        module = __import__(HOOK_MODULE)
    except ImportError:
        return None
    register = getattr(module, "register_after_restore", None)
    return register if callable(register) else None


def after_restore(caches: Callable[[], Iterable[Refreshable]] | None = None) -> list[str]:
    """What the hook does: new environment, then force-refresh ``caches()`` (default: all registered).

    Returns the names refreshed. Never raises."""
    runtime.new_environment(time.time())
    chosen = list(caches() if caches is not None else runtime.registered_caches())
    report = refresh_caches(chosen, 0.0, force=True)
    for hook in runtime.restore_hooks():
        try:
            hook()
        except Exception as exc:
            import logging

            logging.getLogger(__name__).warning("after_restore hook failed",
                                                extra={"error": type(exc).__name__})
    return report.refreshed


def install(
    caches: Callable[[], Iterable[Refreshable]] | None = None, registry: Registry | None = None,
) -> bool:
    """Register :func:`after_restore` once per environment; True when a registry took it.

    ``registry`` defaults to ``snapshot_restore_py.register_after_restore`` (absent off Lambda)."""
    if runtime.snapstart_hook_installed:
        return False
    register = registry if registry is not None else _default_registry()
    if register is None:
        return False

    def hook(*_args: object, **_kwargs: object) -> None:
        after_restore(caches)

    register(hook)
    runtime.snapstart_hook_installed = True
    return True

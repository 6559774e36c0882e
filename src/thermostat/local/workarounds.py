"""Every moto 5.2 workaround of the embedded AWS, in one place. Each one has a test in
``tests/unit/local/test_local_workarounds.py`` that shows moto's behaviour without it and AWS's with it.
None of them changes what runs on AWS: they patch moto's in-process backends only, while installed.

1. ``cloudwatch_index`` — ``GetMetricData`` scanned every stored datapoint for every period of every
   query (O(periods x datapoints): 16.7 s for one 24 h per-minute query with 20 functions' history).
   Datapoints are now indexed by (namespace, metric, dimensions) and each period is a bisection. It also
   applies AWS's matching rules where moto's differ: the namespace is checked when dimensions are given,
   a query matches exactly its dimension set, and percentile statistics (``p99``) are computed instead
   of raising ``TypeError``.
2. ``sfn_client_cache`` — Step Functions' interpreter built a new boto3 client for every Task
   (~25-30 ms of CPU each, and ``boto3.client`` is not thread-safe on the shared default session):
   one client per (region, service) is now created under a lock and reused.
3. ``account_settings`` — Lambda ``GetAccountSettings`` answered ``404 Not yet implemented``; it now
   returns the local runtime's account concurrency limit and what reservations leave unreserved.
4. ``s3_conditional_writes`` — S3 ``PutObject`` with ``If-None-Match: *``/``If-Match`` and ``DeleteObject``
   with ``If-Match`` checked the condition and wrote in two steps without a lock: two threads could both
   pass. Object writes (put, copy, delete, multipart completion) now run one at a time, so the check and
   the write are one step; the answers are moto's own (412 ``PreconditionFailed``, 404 ``NoSuchKey``).
5. ``states_all_terminal`` — a ``Catch``/``Retry`` on ``States.ALL`` caught ``States.DataLimitExceeded``
   (a state output over 256 KiB) and ``States.Runtime``; on AWS neither is matched by ``States.ALL`` (only
   by its own name), so the execution fails with it. That is what an oversized payload now does locally.
6. ``provisioned_concurrency`` — Lambda ``GetProvisionedConcurrencyConfig`` answered ``404 Not yet
   implemented``, so an alias or version target could not be described; it now answers what Lambda answers
   for a qualifier without Provisioned Concurrency (moto has none): ``ProvisionedConcurrencyConfigNotFoundException``.

The index also answers for :class:`~thermostat.local.dense.DenseSeries` (seeded history kept as numpy
arrays, :func:`add_dense_series`), and :func:`install_read_hook` runs a callback before every CloudWatch
read (the runtime's metrics are published lazily, just before someone looks).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client

from thermostat.local.cloudwatch_index import (
    CloudWatchBackend,
    _original_get_metric_data,
    add_dense_series,
    indexed_get_metric_data,
    install_cloudwatch_index,
    install_read_hook,
    percentile,
)
from thermostat.local.sandbox_patches import wrap_methods

__all__ = ["CloudWatchBackend", "_original_get_metric_data", "add_dense_series", "indexed_get_metric_data",
           "install_account_settings", "install_all", "install_cloudwatch_index", "install_provisioned_concurrency",
           "install_read_hook",
           "install_s3_conditional_writes", "install_sfn_client_cache", "install_states_all_terminal", "percentile"]

# --- 1. CloudWatch GetMetricData index (its code: cloudwatch_index.py) ---------------------------------

# --- 2. one boto3 client per service for Step Functions tasks ----------------------------------------

_original_boto_client_for = sfn_boto_client.boto_client_for
_clients: dict[tuple[str, str, bool], Any] = {}
_clients_lock = threading.Lock()


def cached_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    from moto.core.models import botocore_stubber

    key = (region, service, bool(botocore_stubber.enabled))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _original_boto_client_for(region, service, state_credentials)
        return _clients[key]


def _rebind(old: Any, new: Any) -> list[tuple[Any, str, Any]]:
    """Replace ``boto_client_for`` in every moto Step Functions module that imported it by name."""
    changed = []
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is old:
            setattr(module, "boto_client_for", new)  # noqa: B010 - any moto module
            changed.append((module, "boto_client_for", old))
    return changed


def install_sfn_client_cache() -> Callable[[], None]:
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported  # noqa: F401

    changed = _rebind(_original_boto_client_for, cached_boto_client_for)

    def undo() -> None:
        for module, attr, old in changed:
            setattr(module, attr, old)
        with _clients_lock:
            _clients.clear()

    return undo


# --- 3. Lambda GetAccountSettings --------------------------------------------------------------------

ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"


def account_settings_body(limit: int, reserved: int, functions: int) -> dict[str, Any]:
    return {
        "AccountLimit": {"TotalCodeSize": 80_530_636_800, "CodeSizeUnzipped": 262_144_000,
                         "CodeSizeZipped": 52_428_800, "ConcurrentExecutions": limit,
                         "UnreservedConcurrentExecutions": max(limit - reserved, 0)},
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": functions},
    }


def install_account_settings(settings: Callable[[], tuple[int, int, int]]) -> Callable[[], None]:
    """``settings()`` -> (account limit, sum of reserved concurrency, function count)."""

    import moto.awslambda.urls as lambda_urls

    def handle(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        limit, reserved, functions = settings()
        body = account_settings_body(limit, reserved, functions)
        return 200, {"content-type": "application/json"}, json.dumps(body)

    lambda_urls.url_paths[ACCOUNT_SETTINGS_PATH] = handle

    def undo() -> None:
        lambda_urls.url_paths.pop(ACCOUNT_SETTINGS_PATH, None)

    return undo


PROVISIONED_PATH = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$"


def install_provisioned_concurrency() -> Callable[[], None]:
    """``GetProvisionedConcurrencyConfig``: Lambda's "none configured" error instead of moto's 404."""
    import moto.awslambda.urls as lambda_urls

    def handle(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        error = "ProvisionedConcurrencyConfigNotFoundException"
        body = {"Type": "User", "message": "No Provisioned Concurrency Config found for this function"}
        return 404, {"content-type": "application/json", "x-amzn-errortype": error}, json.dumps(body)

    lambda_urls.url_paths[PROVISIONED_PATH] = handle

    def undo() -> None:
        lambda_urls.url_paths.pop(PROVISIONED_PATH, None)

    return undo


# --- 4. S3 conditional writes, atomic ---------------------------------------------------------------

_s3_write_lock = threading.RLock()
S3_WRITES = ("put_object", "copy_object", "delete_object", "_key_response_post")


def install_s3_conditional_writes() -> Callable[[], None]:
    """Every object write of moto's S3 (checks included) runs under one lock."""
    from moto.s3.responses import S3Response

    def atomic(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _s3_write_lock:
                return original(self, *args, **kwargs)

        return call

    return wrap_methods(S3Response, S3_WRITES, atomic)


# --- 5. States.ALL does not catch terminal errors ------------------------------------------------------

_original_error_equals_eval = ErrorEqualsDecl._eval_body

def _terminal_error_names() -> tuple[Any, ...]:
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    return (StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded),
            StatesErrorName(typ=StatesErrorNameType.StatesRuntime))


def install_states_all_terminal() -> Callable[[], None]:
    """``ErrorEquals: ["States.ALL"]`` no longer matches ``States.DataLimitExceeded``/``States.Runtime``."""
    terminal = _terminal_error_names()
    catch_all = ErrorEqualsDecl._STATE_ALL_ERROR

    def only_named(original: Callable[..., Any]) -> Callable[..., Any]:
        def eval_body(self: Any, env: Any) -> None:
            error_name = env.stack[-1] if env.stack else None
            if catch_all in self.error_names and error_name in terminal:
                env.stack.pop()
                env.stack.append(False)
                return
            original(self, env)

        return eval_body

    return wrap_methods(ErrorEqualsDecl, ("_eval_body",), only_named)


def install_all(account_settings: Callable[[], tuple[int, int, int]] | None = None) -> Callable[[], None]:
    """Install every workaround; returns one undo function."""
    undos = [install_cloudwatch_index(), install_sfn_client_cache(), install_s3_conditional_writes(),
             install_states_all_terminal(), install_provisioned_concurrency()]
    if account_settings is not None:
        undos.append(install_account_settings(account_settings))

    def undo_all() -> None:
        for undo in reversed(undos):
            undo()

    return undo_all

"""botocore fast path for CloudWatch ``GetMetricData`` in-process: the answer without moto's HTTP emulation.

At fleet scale one ``GetMetricData`` of 500 metrics x 24 h per minute carries ~650 k values; moto spent
~11 s serialising them (CBOR, a timezone conversion per timestamp) and botocore ~13 s parsing them back,
against ~2 s for the query itself. The ``before-call`` handler answers with the parsed response
directly — the same ``MetricDataResults`` (``Id``, ``Label``, ``Timestamps`` as aware UTC datetimes,
``Values``, ``StatusCode``) computed by the same backend method (so the index workaround, the read hook
that publishes the runtime's metrics and the CloudWatch latency fault all apply). The request parameters
are captured before botocore serialises them (``before-parameter-build``). Anything unusual (a
validation error, a ``NextToken``) falls back to moto's route, which answers it as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from dateutil.parser import parse as parse_date
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

BUILD_EVENT = "before-parameter-build.cloudwatch.GetMetricData"
CALL_EVENT = "before-call.cloudwatch.GetMetricData"
_PARAMS = "thermostat_local_get_metric_data"


def _naive_utc(value: Any) -> datetime:
    """A request timestamp (datetime, epoch seconds or ISO text) as moto keeps it: naive UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        moment = parse_date(str(value))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS] = dict(params)


def answer(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
    """``(http, parsed)`` for an in-process ``GetMetricData``; ``None`` to take moto's route."""
    request = context.get(_PARAMS)
    if request is None or not botocore_stubber.enabled or request.get("NextToken"):
        return None
    queries = request.get("MetricDataQueries") or []
    if not queries or any("MetricStat" not in q and "Expression" not in q for q in queries):
        return None
    backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][str(context.get("client_region") or "us-east-1")]
    try:
        results = backend.get_metric_data(queries=queries, start_time=_naive_utc(request["StartTime"]),
                                          end_time=_naive_utc(request["EndTime"]),
                                          scan_by=request.get("ScanBy") or "TimestampDescending")
    except Exception:  # moto's route raises it again, as the service's error
        return None
    parsed = {"MetricDataResults": [
        {"Id": r["id"], "Label": r["label"], "Timestamps": [t.replace(tzinfo=UTC) for t in r["timestamps"]],
         "Values": [float(v) for v in r["values"]], "StatusCode": r["status_code"]} for r in results],
        "ResponseMetadata": {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 200, "HTTPHeaders": {},
                             "RetryAttempts": 0}}
    http = AWSResponse(str(params.get("url", "")), 200, {}, MockRawResponse(b""))
    return http, parsed


def install() -> Callable[[], None]:
    """Register the fast path for clients created from now on; returns undo."""
    entries = [(BUILD_EVENT, remember_params), (CALL_EVENT, answer)]
    botocore.handlers.BUILTIN_HANDLERS.extend(entries)
    default = boto3.DEFAULT_SESSION
    if default is not None:
        for event, handler in entries:
            default._session.register(event, handler)

    def undo() -> None:
        for entry in entries:
            if entry in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(entry)
            if default is not None:
                default._session.unregister(*entry)

    return undo

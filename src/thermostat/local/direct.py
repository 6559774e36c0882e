"""A Lambda "client" that calls moto's backend directly, for deploying thousands of extra targets fast.

``deploy.create_function`` takes any object with boto3's Lambda client methods; through a real client
each ``CreateFunction`` spends ~3 ms in botocore's serialisation and moto's HTTP emulation around
~0.5 ms of moto's own work. :class:`DirectLambda` hands the same parameters to the same backend
methods moto's request handlers call (``Code.ZipFile`` base64-encoded, as it arrives over the wire), so
the functions are exactly what ``CreateFunction`` makes — tags, layers, reserved concurrency, versions
and aliases included (a test compares both) — at a third of the cost. It is used for ``--targets``.
"""

from __future__ import annotations

import base64
from typing import Any

from moto.awslambda.utils import get_backend


class DirectLambda:
    def __init__(self, account_id: str, region: str) -> None:
        self.backend = get_backend(account_id, region)

    def create_function(self, **spec: Any) -> dict[str, Any]:
        code = dict(spec.get("Code") or {})
        if isinstance(code.get("ZipFile"), bytes):
            code["ZipFile"] = base64.b64encode(code["ZipFile"]).decode("ascii")
        fn = self.backend.create_function({**spec, "Code": code})
        return dict(fn.get_configuration(on_create=True))

    def put_function_concurrency(self, FunctionName: str, ReservedConcurrentExecutions: int) -> dict[str, Any]:
        self.backend.put_function_concurrency(FunctionName, ReservedConcurrentExecutions)  # type: ignore[arg-type]
        return {"ReservedConcurrentExecutions": ReservedConcurrentExecutions}

    def publish_version(self, FunctionName: str, Description: str = "") -> dict[str, Any]:
        fn = self.backend.publish_version(FunctionName, Description)
        assert fn is not None
        return dict(fn.get_configuration())

    def create_alias(self, FunctionName: str, Name: str, FunctionVersion: str,
                     Description: str = "") -> dict[str, Any]:
        alias = self.backend.create_alias(Name, FunctionName, FunctionVersion, Description, None)  # type: ignore[arg-type]
        return dict(alias.to_json())

"""Errors of the embedded AWS (``thermostat.local``)."""

from __future__ import annotations

import json

from moto.core.exceptions import JsonRESTError


class LocalAwsError(Exception):
    """Base of every error ``thermostat.local`` raises on purpose."""


class TemplateError(LocalAwsError):
    """``template.yaml`` (or a file it points at) cannot be read or resolved; the message names where."""


class FaultConfigError(LocalAwsError):
    """A fault-injection configuration is malformed; the message names the field path."""


class InputFileError(LocalAwsError):
    """A file given on the command line is missing or is not what it should be."""


class OutputFileError(LocalAwsError):
    """An output file (``--output``, ``--history-json``) cannot be written; the message names the flag."""


class TraceSeedError(LocalAwsError):
    """The trace used to seed CloudWatch history is missing or malformed."""


class ExecutionTimeoutError(LocalAwsError):
    """A Step Functions execution did not reach a terminal status in time."""


class TooManyRequestsException(JsonRESTError):
    """Lambda's 429: the concurrency limit is reached. moto turns it into the HTTP response, so boto3
    callers get ``ClientError(TooManyRequestsException)`` and Step Functions ``Lambda.TooManyRequestsException``."""

    code = 429

    def __init__(self, reason: str, message: str = "Rate Exceeded.") -> None:
        super().__init__("TooManyRequestsException", message)
        self.reason = reason
        self.description = json.dumps(
            {"__type": "TooManyRequestsException", "message": message, "Reason": reason, "Type": "User"}
        )


class _LambdaClientError(JsonRESTError):
    """A 400 of Lambda's ``Invoke`` (moto turns it into the HTTP response, boto3 into ``ClientError``)."""

    code = 400
    TYPE = "ServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(self.TYPE, message)
        self.description = json.dumps({"__type": self.TYPE, "message": message, "Type": "User"})


class InvalidRequestContentException(_LambdaClientError):
    """Lambda's 400 for a request that cannot be parsed (e.g. a ClientContext that is not base64 JSON)."""

    TYPE = "InvalidRequestContentException"


class InvalidParameterValueException(_LambdaClientError):
    """Lambda's 400 for a parameter outside its bounds (e.g. a ClientContext over 3,583 bytes)."""

    TYPE = "InvalidParameterValueException"

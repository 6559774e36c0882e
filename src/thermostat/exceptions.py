"""Errors of the workflow package. The state machine matches them by class name (ASL `ErrorEquals`)."""


class ThermostatError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidInputError(ThermostatError):
    """The execution input (or a state's input) is malformed; the message names the field path."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ConfigurationError(ThermostatError):
    """An environment variable of a function is missing or malformed."""


class TargetThrottledError(ThermostatError):
    """Nothing in a warm batch got through: every ping stayed throttled until the deadline."""


class MetricsUnavailableError(ThermostatError):
    """CloudWatch could not be read for any target."""


class TraceFormatError(ThermostatError):
    """A trace file is missing, or a row/column of it is malformed; the message names file, row, column."""


class StateStoreError(ThermostatError):
    """The state store (S3) could not be read or written; names the operation, the object and S3's code."""

    def __init__(self, operation: str, key: str, detail: str, code: str | None = None) -> None:
        self.operation = operation
        self.key = key
        self.detail = detail
        self.code = code
        super().__init__(f"{operation} {key}: {detail}")


class StateConflictError(ThermostatError):
    """Another run wrote the state store between this run's load and its save (a conditional write was
    refused): this run's records were not committed and it should stop as an overlap."""

    def __init__(self, operation: str, key: str, detail: str) -> None:
        self.operation = operation
        self.key = key
        self.detail = detail
        super().__init__(f"{operation} {key}: {detail}")

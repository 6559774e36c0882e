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

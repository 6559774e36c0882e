"""``TRACE`` argument -> :class:`Trace`: an Azure 2019 directory, or a CloudWatch export CSV (a file, or
the only ``*.csv`` with the export header in a directory)."""

from __future__ import annotations

from pathlib import Path

from thermostat.exceptions import TraceFormatError
from thermostat.sim.azure import read_azure
from thermostat.sim.cloudwatch import is_export, read_export
from thermostat.sim.trace import Trace


def load_trace(path: Path, *, allow_missing: bool = False) -> Trace:
    if path.is_file():
        if not is_export(path):
            raise TraceFormatError(f"{path}, line 1: not a CloudWatch export (needs columns function, timestamp, "
                                   f"invocations); an Azure 2019 trace is given as its directory")
        return read_export(path)
    if not path.exists():
        raise TraceFormatError(f"{path}: missing file: no such file or directory")
    exports = [p for p in sorted(path.glob("*.csv")) if is_export(p)]
    if len(exports) == 1:
        return read_export(exports[0])
    return read_azure(path, allow_missing=allow_missing)

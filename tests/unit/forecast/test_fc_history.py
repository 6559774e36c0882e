"""TargetHistory: decoding the state document's compact series, slicing, window peaks."""

from __future__ import annotations

import numpy as np
import pytest

from thermostat import series
from thermostat.exceptions import InvalidInputError
from thermostat.forecast import TargetHistory
from thermostat.forecast.history import SERIES_NAMES, window_peaks

from .conftest import START_MS


def _wire(points: int = 6) -> dict:
    values = {
        "concurrency": [1, 1, None, 4, 4.5, 0],
        "invocations": [10, 12, None, 40, 41, 0],
        "duration_ms": [120.5, 99.25, None, 80, 80, None],
        "throttles": [0] * points,
        "warm_pings": [None, 2, None, None, None, 2],
        "real_invocations": [10, 10, None, 40, 41, 0],
    }
    return {"start_ms": START_MS, "period_s": 60, "points": points, **{k: series.encode(v) for k, v in values.items()}}


def test_from_wire_round_trips_with_series_encode() -> None:
    # GIVEN a History document written with thermostat.series.encode (ints, floats, None)
    wire = _wire()
    # WHEN it is decoded and encoded back
    decoded = TargetHistory.from_wire(wire)  # type: ignore[arg-type]
    # THEN every series keeps its values (None <-> NaN) and the document is identical
    assert decoded.points == 6 and decoded.period_s == 60 and decoded.start_ms == START_MS
    assert np.array_equal(decoded.concurrency, [1, 1, np.nan, 4, 4.5, 0], equal_nan=True)
    assert np.array_equal(decoded.warm_pings, [np.nan, 2, np.nan, np.nan, np.nan, 2], equal_nan=True)
    assert decoded.end_ms == START_MS + 6 * 60_000
    assert decoded.to_wire() == wire


def test_a_missing_series_means_no_datapoints() -> None:
    # GIVEN a document from a collector that does not send the target library's metrics
    wire = _wire()
    del wire["warm_pings"], wire["real_invocations"]
    # WHEN decoded
    decoded = TargetHistory.from_wire(wire)  # type: ignore[arg-type]
    # THEN those series are all NaN, the others intact
    assert np.isnan(decoded.warm_pings).all() and np.isnan(decoded.real_invocations).all()
    assert decoded.concurrency[3] == 4


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("invocations", [[1, "x"]], "not [value, count]"),
        ("concurrency", [[1, 5]], "holds 5 points"),
        ("duration_ms", [[-3, 6]], "negative"),
        ("throttles", {"a": 1}, "list of [value, count]"),
    ],
)
def test_malformed_series_names_the_field(name: str, bad: object, message: str) -> None:
    # GIVEN a document whose series is malformed
    wire = _wire()
    wire[name] = bad
    # WHEN decoded under a path naming the target
    with pytest.raises(InvalidInputError) as error:
        TargetHistory.from_wire(wire, path="targets[3].history")  # type: ignore[arg-type]
    # THEN the error names the field and the problem
    assert error.value.path == f"targets[3].history.{name}"
    assert message in str(error.value)


def test_missing_header_fields_are_named() -> None:
    wire = _wire()
    del wire["period_s"]
    with pytest.raises(InvalidInputError, match="period_s"):
        TargetHistory.from_wire(wire)  # type: ignore[arg-type]


def test_before_drops_periods_that_start_at_or_after_now_and_tail_keeps_the_last() -> None:
    # GIVEN 6 periods of 60 s
    decoded = TargetHistory.from_wire(_wire())  # type: ignore[arg-type]
    # WHEN cut at a time inside period 4 and tailed
    cut = decoded.before(START_MS + 3 * 60_000 + 1)
    tail = decoded.tail(2)
    # THEN the partial period 3 is kept, 4 and 5 dropped; tail re-anchors start_ms; all series agree
    assert cut.points == 4 and cut.end_ms == START_MS + 4 * 60_000
    assert tail.points == 2 and tail.start_ms == START_MS + 4 * 60_000
    assert all(len(getattr(tail, name)) == 2 for name in SERIES_NAMES)
    assert decoded.before(START_MS).points == 0 and decoded.before(START_MS + 10**9) is decoded


def test_window_peaks_align_to_the_end_and_drop_a_leading_partial_window() -> None:
    values = np.array([9, 1, 2, 3, 4, 5, 6], dtype=float)
    assert window_peaks(values, 3).tolist() == [3, 6]
    assert window_peaks(values, 1).tolist() == values.tolist()
    assert window_peaks(values[:2], 3).tolist() == []

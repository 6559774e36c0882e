"""Compact per-minute metric series for the CloudWatch index (``workarounds.py``): seeded history at scale.

24 h of per-minute history for 5,000 targets is 7 M datapoints; as moto's datapoint objects that is
~35 s to build and ~2.4 GB. A :class:`DenseSeries` holds one metric of one function as numpy arrays
(targets mapped to the same trace function share them), and the index answers ``GetMetricData`` over it
with the statistics CloudWatch computes from the datapoints it stands for: a single value per present
minute (``count`` is ``None``: ``SampleCount`` 1, percentiles over the values), or a statistic set per
minute (``count``/``values`` = ``SampleCount``/``Sum``, ``minimum``/``maximum``; no percentiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

SLOT_S = 60

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DenseSeries:
    start: datetime  # naive UTC timestamp of slot 0 (moto keeps naive UTC)
    values: npt.NDArray[np.float64] | npt.NDArray[np.int64]  # the value, or the Sum of a statistic set
    present: npt.NDArray[np.bool_]  # a datapoint exists in this minute
    unit: str | None = None
    count: npt.NDArray[np.float64] | npt.NDArray[np.int64] | None = None  # SampleCount of a statistic set
    minimum: Floats | None = None
    maximum: Floats | None = None

    def _slots(self, start: datetime, end: datetime) -> npt.NDArray[np.int64]:
        """Indexes of the present slots whose timestamp is in ``[start, end)``."""
        offset = (start - self.start).total_seconds()
        span = (end - start).total_seconds()
        first = max(0, math.ceil(offset / SLOT_S))
        last = min(len(self.values), math.ceil((offset + span) / SLOT_S))
        if first >= last:
            return np.empty(0, dtype=np.int64)
        return first + np.flatnonzero(self.present[first:last])

    def buckets(self, start: datetime, end: datetime, period_s: int) -> Buckets | None:
        """The per-bucket components (bucket index ``(t - start) // period``) of the slots in ``[start, end)``."""
        slots = self._slots(start, end)
        if not slots.size:
            return None
        offset = (start - self.start).total_seconds()
        keys = ((slots * SLOT_S - offset) // period_s).astype(np.int64)
        firsts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        values = self.values[slots].astype(np.float64)
        counts = np.ones(slots.size) if self.count is None else self.count[slots].astype(np.float64)
        lows = values if self.minimum is None else self.minimum[slots]
        highs = values if self.maximum is None else self.maximum[slots]
        return Buckets(keys[firsts], np.add.reduceat(counts, firsts), np.add.reduceat(values, firsts),
                       np.minimum.reduceat(lows, firsts), np.maximum.reduceat(highs, firsts))

    def datums(self, namespace: str, name: str, dimensions: list[dict[str, str]], start: datetime,
               end: datetime) -> list[MetricDatum | MetricAggregatedDatum]:
        """The datapoints this series stands for in ``[start, end)``, as moto's objects (mixed buckets)."""
        out: list[MetricDatum | MetricAggregatedDatum] = []
        for slot in self._slots(start, end):
            ts = self.start + timedelta(seconds=int(slot) * SLOT_S)
            if self.count is None:
                out.append(MetricDatum(namespace, name, float(self.values[slot]), dimensions, ts, self.unit))
            else:
                low = float(self.minimum[slot]) if self.minimum is not None else float(self.values[slot])
                high = float(self.maximum[slot]) if self.maximum is not None else float(self.values[slot])
                out.append(MetricAggregatedDatum(namespace, name, low, high, float(self.count[slot]),
                                                 float(self.values[slot]), dimensions, ts, self.unit))
        return out


@dataclass(frozen=True)
class Buckets:
    """Per-bucket components of a dense series over one query: CloudWatch's basic statistics follow."""

    keys: npt.NDArray[np.int64]  # bucket indexes, ascending
    count: Floats
    total: Floats
    low: Floats
    high: Floats

    def values(self, stat: str) -> Floats | None:
        """``SampleCount``/``Sum``/``Average``/``Minimum``/``Maximum`` per bucket; None for other statistics."""
        by_stat = {"SampleCount": lambda: self.count, "Sum": lambda: self.total,
                   "Average": lambda: self.total / self.count, "Minimum": lambda: self.low,
                   "Maximum": lambda: self.high}
        compute = by_stat.get(stat)
        return None if compute is None else compute()

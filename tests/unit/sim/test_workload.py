"""Arrivals and durations per function, and the real-traffic concurrency profile."""

from __future__ import annotations

import numpy as np
import pytest

from thermostat.sim.workload import MINUTE_MS, Workload, make_workload, profile, window_max

TABLE = np.array([10.0, 20.0, 50.0, 100.0, 200.0, 1_000.0, 5_000.0])


def test_uniform_arrivals_keep_each_minutes_count_inside_that_minute() -> None:
    # GIVEN per-minute counts
    counts = np.array([3, 0, 5, 1], dtype=np.int64)
    # WHEN arrivals are placed
    work = make_workload(counts, TABLE, np.random.default_rng(1))
    # THEN every minute holds exactly its count, sorted, and durations stay inside the table's range
    per_minute = np.bincount((work.arrivals // MINUTE_MS).astype(int), minlength=4)
    assert per_minute.tolist() == counts.tolist()
    assert np.all(np.diff(work.arrivals) >= 0)
    assert work.durations.min() >= TABLE[0] and work.durations.max() <= TABLE[-1]


def test_arrivals_are_deterministic_per_seed_and_differ_between_seeds() -> None:
    counts = np.array([50, 50], dtype=np.int64)
    a = make_workload(counts, TABLE, np.random.default_rng(7))
    b = make_workload(counts, TABLE, np.random.default_rng(7))
    c = make_workload(counts, TABLE, np.random.default_rng(8))
    assert np.array_equal(a.arrivals, b.arrivals) and np.array_equal(a.durations, b.durations)
    assert not np.array_equal(a.arrivals, c.arrivals)


def test_durations_follow_the_percentile_table() -> None:
    # GIVEN many draws WHEN placed THEN the sample median and p25 sit near the table's (linear interpolation)
    work = make_workload(np.array([200_000], dtype=np.int64), TABLE, np.random.default_rng(3))
    assert np.median(work.durations) == pytest.approx(100.0, rel=0.03)
    assert np.percentile(work.durations, 25) == pytest.approx(50.0, rel=0.05)


def test_poisson_mode_draws_counts_around_the_trace_rate() -> None:
    counts = np.full(2_000, 4, dtype=np.int64)
    work = make_workload(counts, TABLE, np.random.default_rng(5), "poisson")
    assert work.arrivals.size != counts.sum()
    assert work.arrivals.size == pytest.approx(counts.sum(), rel=0.05)
    with pytest.raises(ValueError, match="unknown arrival mode"):
        make_workload(counts, TABLE, np.random.default_rng(5), "bursty")


def test_profile_gives_per_minute_peak_concurrency_including_requests_carried_over() -> None:
    # GIVEN a 90 s request from 0:30, two overlapping ones in minute 1, nothing in minute 2
    work = Workload(np.array([30_000.0, 61_000.0, 62_000.0]), np.array([90_000.0, 5_000.0, 5_000.0]))
    # WHEN profiled over 3 minutes
    prof = profile(work, 3)
    # THEN minute 1 peaks at 3 (the long one still runs), minute 2 has nothing, the boundary count is kept
    assert prof.minute_max.tolist() == [1, 3, 0]
    assert prof.at_minute_start.tolist() == [0, 1, 0]
    assert prof.count.tolist() == [1, 2, 0]
    assert prof.peak == 3


def test_window_max_clips_at_the_end() -> None:
    series = np.array([0, 2, 1, 5, 0, 0, 3], dtype=np.int64)
    assert window_max(series, np.array([0, 2, 5]), 2).tolist() == [2, 5, 3]
    assert window_max(series, np.array([6]), 5).tolist() == [3]

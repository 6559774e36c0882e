"""Compact series for state payloads: run-length pairs ``[[value, count], ...]`` (pure Python).

Step Functions caps a state's payload at 256 KiB; per-minute Lambda metrics are mostly runs of the
same value (zeros, or no data), so run-length pairs keep a day of history for many targets small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Number = float | int | None


def encode(values: Iterable[Number]) -> list[list[Number]]:
    """Run-length encode; integral floats are written as ints to keep the JSON short."""
    pairs: list[list[Number]] = []
    for raw in values:
        value: Number = raw
        if isinstance(raw, float):
            if raw != raw:  # NaN -> no datapoint
                value = None
            elif raw.is_integer():
                value = int(raw)
            else:
                value = round(raw, 3)
        if pairs and pairs[-1][0] == value and (value is not None or pairs[-1][0] is None):
            count = pairs[-1][1]
            assert isinstance(count, int)
            pairs[-1][1] = count + 1
        else:
            pairs.append([value, 1])
    return pairs


def decode(pairs: Sequence[Sequence[Number]]) -> list[Number]:
    """Inverse of :func:`encode`. Raises ``ValueError`` on a malformed pair."""
    out: list[Number] = []
    for index, pair in enumerate(pairs):
        if len(pair) != 2 or not isinstance(pair[1], int) or pair[1] < 0:
            raise ValueError(f"series pair {index} is not [value, count]: {pair!r}")
        out.extend([pair[0]] * pair[1])
    return out


def length(pairs: Sequence[Sequence[Number]]) -> int:
    """Number of points a compact series holds."""
    return sum(int(pair[1] or 0) for pair in pairs)

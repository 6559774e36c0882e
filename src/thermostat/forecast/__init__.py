"""Forecast of the peak REAL concurrency of each target in the next window (DESIGN §2 Forecast).

Public surface (the workflow's Forecast function and the simulator code against these names):

- :class:`TargetHistory` — numpy view of ``models.History`` (``from_wire``), NaN = no datapoint.
- :func:`real_concurrency` — per-period concurrency with the warmer's own pings removed.
- :func:`forecast_peak` — upper-quantile forecast for one target, with a :class:`ModelMemo` for cheap
  per-tick calls (the simulator) or without (the Lambda: fresh model selection).
- :func:`forecast_state` — the Forecast state: ``CollectedState`` -> ``ForecastState``.

See ``docs/forecast.md`` for the models, the selection loss and the figures.
"""

from thermostat.forecast.history import TargetHistory
from thermostat.forecast.peak import ModelMemo, forecast_peak
from thermostat.forecast.pings import real_concurrency
from thermostat.forecast.state import forecast_state

__all__ = ["ModelMemo", "TargetHistory", "forecast_peak", "forecast_state", "real_concurrency"]

"""How many environments each target needs in the next window, priced in dollars.

Pipeline (data passes one way): the target's record (:mod:`thermostat.records`: real peaks per slot from
ping answers and rare CloudWatch reads) -> :func:`demand.demand` (P(peak >= k) from the last day, with
the burst and headroom evidence) + :mod:`hints` (statsmodels: daily season, periodic bursts) ->
:func:`objective.size` (the k-th environment is warmed while the cold starts it avoids are worth more than
it costs) -> :class:`objective.Sizing`. :func:`fleet.forecast_fleet` does it for a run's targets and applies
the optional monthly budget. See docs/forecast.md.
"""

from thermostat.forecast.fleet import FleetForecast, TargetForecast, forecast_fleet
from thermostat.forecast.objective import DEFAULT_PRICE_PER_COLD_START, Prices, Sizing, size
from thermostat.forecast.target import TargetPolicy, forecast_target

__all__ = ["DEFAULT_PRICE_PER_COLD_START", "FleetForecast", "Prices", "Sizing", "TargetForecast", "TargetPolicy",
           "forecast_fleet", "forecast_target", "size"]

"""Trace-driven what-if of cold starts and cost (DESIGN §6): readers, lifecycle, policies, costing.

``thermostat simulate TRACE`` (``thermostat.sim.cli``); library use::

    from thermostat.sim import load_trace, parse_policies, SimSettings, simulate, summarize
"""

from thermostat.sim.engine import simulate
from thermostat.sim.lifecycle import EnvPool, Lifecycle
from thermostat.sim.policies import Policy, SimSettings, parse_policies
from thermostat.sim.readers import load_trace
from thermostat.sim.results import summarize
from thermostat.sim.trace import Trace

__all__ = ["EnvPool", "Lifecycle", "Policy", "SimSettings", "Trace", "load_trace", "parse_policies",
           "simulate", "summarize"]

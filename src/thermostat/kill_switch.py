"""The kill switch an operator pulls without a redeploy: an SSM parameter read when a run starts.

``aws ssm put-parameter --name <KillSwitchParameter> --value false --overwrite`` stops warming from the
next run on; ``true`` resumes it. The value is read case-insensitively: ``true``/``on``/``1``/``yes`` warm,
``false``/``off``/``0``/``no`` do not. Anything else, and a parameter that cannot be read (missing, access
denied, SSM unavailable), stops warming too, and the run's ``reason`` says why: a switch that cannot be
read must not be taken for "on".
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

ON_VALUES = frozenset({"true", "on", "1", "yes"})
OFF_VALUES = frozenset({"false", "off", "0", "no"})
MAX_SHOWN = 64  # characters of the parameter's value repeated in the reason at most


def _shown(value: str) -> str:
    return repr(value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "...")


def read_switch(ssm: Any, parameter: str) -> tuple[bool, str | None]:
    """``(enabled, reason)`` from the parameter's value; reason is None when warming is on."""
    try:
        value = str(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError") if isinstance(exc, ClientError) \
            else type(exc).__name__
        logger.warning("kill_switch_unreadable", extra={"parameter": parameter, "error": code})
        return False, (f"kill switch parameter {parameter} could not be read ({code}): nothing is warmed "
                       "until it can be")
    word = value.strip().lower()
    if word in ON_VALUES:
        return True, None
    if word in OFF_VALUES:
        return False, f"kill switch parameter {parameter} is {_shown(value)}: nothing is warmed"
    return False, (f"kill switch parameter {parameter} is {_shown(value)}, not true or false: "
                   "nothing is warmed until it is one of them")

"""The state store: what the workflow keeps in S3 between runs and passes between states.

:class:`StateStore` is the only entry point; it takes an injected boto3 S3 client (and clock) and never
reads the environment. The formats are documented for users in docs/state-store.md.
"""

from thermostat.store.api import StateStore
from thermostat.store.codec import make_run_name, parse_run_name, safe_segment
from thermostat.store.lease import Lease
from thermostat.store.runs import RunInfo
from thermostat.store.shards import Snapshot, StoreWarning

__all__ = ["Lease", "RunInfo", "Snapshot", "StateStore", "StoreWarning", "make_run_name", "parse_run_name",
           "safe_segment"]

"""State "Collect Metrics": RunState -> CollectedState (lease, targets, what Lambda and CloudWatch say).

1. The lease first (:meth:`StateStore.acquire`): another run holding it -> ``overlap: true`` and nothing is
   read or written.
2. The records (:meth:`StateStore.load`; a missing or corrupt object loads empty and is rebuilt).
3. :func:`gather` — pure of the store, also what ``thermostat plan`` runs read-only: the targets
   (:mod:`thermostat.discovery`), their cached configuration refreshed when due, the account's limits
   (``GetAccountSettings``; denied = unknown, never assumed), the CloudWatch reads of
   :mod:`thermostat.collect_reads`. New targets get a fresh record.
4. The records saved (conditional writes; a conflict means another run wrote in between: stop as overlap).
5. Output: per-target plan inputs in an envelope (``thermostat.claims``), the account view, counts,
   ``degraded`` reasons (CloudWatch unavailable: the forecast works from ping answers only) and warnings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import cast

from thermostat import claims, models
from thermostat.collect_reads import ACCOUNT_FRESH_MS, CURRENT_LOOKBACK_MS, pings_by_minute, read_all, recent_peak
from thermostat.config import DiscoverySettings
from thermostat.discovery import OVER_LIMIT_SAMPLE, Clients, account_limits, find_targets, spec_key
from thermostat.exceptions import StateConflictError
from thermostat.hours import parse as parse_hours
from thermostat.lambda_config import describe
from thermostat.records import TargetRecord, decode_records, encode_records, new_record
from thermostat.store import Lease, StateStore
from thermostat.tag_settings import SETTINGS
from thermostat.validation import function_name

logger = logging.getLogger(__name__)

LEASE_TTL_MS = 240_000 + 30_000  # the state machine's TimeoutSeconds + a margin: a dead run's lease lapses
RECORD_FORGET_MS = 3 * 24 * 3600_000  # a record no run has seen for this long is dropped at the next save


@dataclass
class Gathered:
    records: dict[str, TargetRecord]  # every record; this run's targets updated or added
    targets: list[models.TargetPlanInput]
    account: models.AccountView
    stats: models.CollectStats
    degraded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def request_view(request: models.Request) -> models.RequestView:
    return cast(models.RequestView, {**request, "targets": len(request["targets"])})


def plan_input(record: TargetRecord, spec: models.TargetSpec, now_ms: int, busy: int | None,
               error: str | None) -> models.TargetPlanInput:
    cfg = record.config
    target: models.TargetPlanInput = {
        "key": record.key, "function": record.function, "qualifier": record.qualifier, "source": spec["source"],
        "min": spec["min"], "max": spec["max"], "price_per_cold_start": spec.get("price_per_cold_start"),
        "memory_mb": cfg.memory_mb, "reserved": cfg.reserved, "provisioned": cfg.provisioned, "busy": busy,
        "recent_peak": recent_peak(record, now_ms), "described": cfg.read_at_ms > 0 and bool(cfg.arn),
        "send_ahead_ms": record.send_ahead_ms, "protocol": record.protocol,
    }
    if error:
        target["error"] = error
    target["settings_source"] = dict(spec.get("settings_source") or {name: "stack" for name in SETTINGS})
    target["tag_problems"] = list(spec.get("tag_problems") or [])
    if spec.get("hours"):  # outside its warm hours: no CloudWatch read, no forecast, no ping
        target["hours"] = spec["hours"]
        target["in_hours"] = parse_hours(spec["hours"]).inside(now_ms)
    return target


def gather(request: models.Request, clients: Clients, settings: DiscoverySettings,
           records: dict[str, TargetRecord], now_ms: int) -> Gathered:
    """Discovery, configurations, account, CloudWatch: ``records`` updated in place (never saved here)."""
    found = find_targets(request, settings, clients.tagging)
    limits = account_limits(clients.lambda_)
    specs: list[tuple[TargetRecord, models.TargetSpec]] = []
    for spec in found.targets:
        key = spec_key(spec)
        record = records.get(key)
        if record is None:
            record = records[key] = new_record(key, function_name(spec["function"]), spec["qualifier"], now_ms)
        record.last_seen_ms = now_ms
        specs.append((record, spec))
    mine = [record for record, _ in specs]
    described = describe(clients.lambda_, mine, limits.has_reservations, now_ms)
    asleep = {r.key for r, s in specs if s.get("hours") and not parse_hours(s["hours"]).inside(now_ms)}
    readable = [r for r in mine if r.key not in described.errors and r.key not in asleep]
    unreserved = [r for r in records.values() if r.config.reserved is None]
    reads = read_all(clients.cloudwatch, readable, pings_by_minute(unreserved, now_ms - CURRENT_LOOKBACK_MS),
                     now_ms, settings.metric_read_hours)
    targets = [plan_input(r, s, now_ms, reads.busy.get(r.key), described.errors.get(r.key)) for r, s in specs]
    account: models.AccountView = {"limit": limits.limit, "unreserved_limit": limits.unreserved_limit,
                                   "unreserved_in_use": reads.account_in_use, "read_at_ms": now_ms}
    degraded: list[str] = []
    warnings = found.warnings + described.warnings
    if reads.unavailable:
        degraded.append(f"CloudWatch unavailable ({reads.error}): forecast from ping answers only")
    elif reads.failed:
        warnings.append(f"{reads.failed} CloudWatch history read(s) failed ({reads.error}): read again next run")
    if reads.deferred:
        warnings.append(f"{reads.deferred} CloudWatch history read(s) left for the next runs")
    problem = limits.problem
    if problem is None and reads.unavailable:
        problem = "the account's free concurrency could not be read (CloudWatch unavailable)"
    elif problem is None and reads.account_in_use is None:
        newest = reads.account_newest_ms
        age = (f"none in the last {ACCOUNT_FRESH_MS // 60_000} minutes" if newest is None
               else f"newest {round((now_ms - newest) / 1000)} s old")
        problem = (f"no fresh UnreservedConcurrentExecutions datapoint ({age}): the account's free concurrency "
                   "is unknown")
    if problem is not None:
        account["problem"] = problem
        degraded.append(f"{problem}; unreserved targets get no ping this run")
    stats: models.CollectStats = {
        "targets": len(targets), "tagged": found.tagged, "configured": found.configured,
        "requested": found.requested, "over_limit": len(found.over_limit),
        "over_limit_sample": found.over_limit[:OVER_LIMIT_SAMPLE], "opted_out": len(found.opted_out),
        "metric_reads": reads.metric_reads, "metric_calls": reads.calls, "described": described.described,
        "errors": sum(1 for t in targets if "error" in t)}
    return Gathered(records, targets, account, stats, degraded, warnings)


def _lease_doc(lease: Lease) -> models.LeaseDoc:
    return cast(models.LeaseDoc, lease.to_dict())


def overlap_state(run: models.RunInfo, request: models.Request, lease: Lease | None, holder: str, until_ms: int,
                  now_ms: int, reason: str) -> models.CollectedState:
    """The output of a Collect that stopped at once: another run holds the lease (or saved over us)."""
    return {
        "run": run, "request": request_view(request), "lease": None if lease is None else _lease_doc(lease),
        "overlap": True, "overlap_with": {"run": holder, "until_ms": until_ms}, "targets": {"inline": []},
        "account": {"limit": None, "unreserved_limit": None, "unreserved_in_use": None, "read_at_ms": now_ms},
        "collected": {"targets": 0, "tagged": 0, "configured": 0, "requested": len(request["targets"]),
                      "over_limit": 0, "over_limit_sample": [], "opted_out": 0, "metric_reads": 0,
                      "metric_calls": 0, "described": 0, "errors": 0},
        "degraded": [], "warnings": [reason],
    }


def collect(run_state: models.RunState, clients: Clients, store: StateStore, settings: DiscoverySettings,
            now_ms: int) -> models.CollectedState:
    """The Collect Metrics state."""
    run: models.RunInfo = {**run_state["run"]}
    run["run_name"] = models.run_name_of(run)
    request = run_state["request"]
    lease = store.acquire(run["id"], now_ms, LEASE_TTL_MS)
    if lease.overlap:
        holder = lease.holder or "unknown"
        logger.warning("overlap", extra={"run": run["id"], "holder": holder, "until_ms": lease.expires_at_ms})
        return overlap_state(run, request, None, holder, lease.expires_at_ms, now_ms,
                             f"another run ({holder}) holds the lease until {lease.expires_at_ms}: nothing done")
    snapshot = store.load()
    records, dropped = decode_records(snapshot.records)
    gathered = gather(request, clients, settings, records, now_ms)
    for warning in snapshot.warnings:
        gathered.warnings.append(f"state object rebuilt: {warning.key} ({warning.problem})")
    if dropped:
        gathered.warnings.append(f"{dropped} unreadable record(s) rebuilt")
    forget = [k for k, r in records.items() if r.last_seen_ms < now_ms - RECORD_FORGET_MS]
    for key in forget:
        del records[key]
    try:
        store.save(snapshot, encode_records(records), run=run["id"], now_ms=now_ms)
    except StateConflictError as exc:
        store.release(lease, now_ms)
        logger.warning("state_conflict", extra={"run": run["id"], "detail": str(exc)})
        return overlap_state(run, request, None, "unknown (it saved the state store during this run)", now_ms,
                             now_ms, f"another run saved the state store during this run ({exc}): nothing done")
    state: models.CollectedState = {
        "run": run, "request": request_view(request), "lease": _lease_doc(lease), "overlap": False,
        "targets": claims.offload(store, run["run_name"], "targets", gathered.targets),
        "account": gathered.account, "collected": gathered.stats, "degraded": gathered.degraded,
        "warnings": gathered.warnings,
    }
    logger.info("collected", extra={"targets": len(gathered.targets), "records": len(records),
                                    "forgotten": len(forget), **{k: v for k, v in gathered.stats.items()
                                                                 if isinstance(v, int)}})
    return state

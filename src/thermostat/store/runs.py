"""Per-run documents passed by reference between states: ``<prefix>runs/<run name>/<name>.json``.

Run names made by :func:`~thermostat.store.codec.make_run_name` start with a countdown from the run's
start time, so S3's ascending listing of ``runs/`` is newest first: the latest N runs cost one LIST call
whatever the history. The stack's lifecycle rule expires ``runs/`` after a few days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thermostat.exceptions import StateStoreError
from thermostat.store.codec import RUNS_DIR, CorruptObjectError, dumps, loads, parse_run_name, safe_segment
from thermostat.store.objects import Objects

REPORT = "report"


@dataclass(frozen=True)
class RunInfo:
    run_name: str
    started_at_ms: int | None  # None: the name was not made by make_run_name
    execution: str


def run_doc_key(prefix: str, run_name: str, name: str) -> str:
    name = name.removesuffix(".json")
    return f"{prefix}{RUNS_DIR}{safe_segment(run_name)}/{safe_segment(name)}.json"


def put_run_doc(objects: Objects, prefix: str, run_name: str, name: str, doc: Any) -> str:
    key = run_doc_key(prefix, run_name, name)
    try:
        body = dumps(doc)
    except (TypeError, ValueError) as exc:
        raise StateStoreError("put_run_doc", f"s3://{objects.bucket}/{key}", f"not strict JSON: {str(exc)[:200]}",
                              code="Unserialisable") from None
    objects.put(key, body, "put_run_doc")
    return key


def get_run_doc(objects: Objects, prefix: str, key: str) -> Any:
    """The document at ``key``; StateStoreError (code ``NoSuchKey``, ``Corrupt`` or ``NotARunDocument``)
    when it is missing, unreadable, or ``key`` is not a run document of this store."""
    where = f"s3://{objects.bucket}/{key}"
    if not key.startswith(f"{prefix}{RUNS_DIR}") or not key.endswith(".json") or ".." in key.split("/"):
        raise StateStoreError("get_run_doc", where, f"not a run document key under {prefix}{RUNS_DIR}",
                              code="NotARunDocument")
    got = objects.get(key, "get_run_doc")
    if got is None:
        raise StateStoreError("get_run_doc", where, "no such run document", code="NoSuchKey")
    try:
        return loads(got.body)
    except CorruptObjectError as exc:
        raise StateStoreError("get_run_doc", where, exc.detail, code="Corrupt") from None


def list_runs(objects: Objects, prefix: str, limit: int) -> list[RunInfo]:
    """The newest ``limit`` runs, newest first (names not made by make_run_name come last)."""
    if limit <= 0:
        return []
    base = f"{prefix}{RUNS_DIR}"
    runs = []
    for folder in objects.list_folders(base, limit, "list_runs"):
        name = folder[len(base):].rstrip("/")
        started, execution = parse_run_name(name)
        runs.append(RunInfo(name, started, execution))
    return sorted(runs, key=lambda run: (run.started_at_ms is None, -(run.started_at_ms or 0)))


def get_run_report(objects: Objects, prefix: str, run_name: str) -> Any | None:
    """The run's ``report`` document, None if it has none (still running, failed early, or expired)."""
    try:
        return get_run_doc(objects, prefix, run_doc_key(prefix, run_name, REPORT))
    except StateStoreError as exc:
        if exc.code == "NoSuchKey":
            return None
        raise

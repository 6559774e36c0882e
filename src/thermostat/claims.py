"""Claim checks: documents that grow with the fleet travel between states inline while small, else by
reference to the state store (Step Functions caps a state's input and output at 256 KiB).

An envelope is ``{"inline": doc}`` or ``{"ref": "<s3 key>", "bytes": n}``. Small fleets pay no S3 request;
a 5,000-target fleet passes a key. This module is the only code that knows the difference.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from thermostat.exceptions import InvalidInputError

INLINE_LIMIT_BYTES = 48 * 1024

Envelope = dict[str, Any]


class RunDocs(Protocol):
    def put_run_doc(self, run_name: str, name: str, doc: Any) -> str: ...

    def get_run_doc(self, key: str) -> Any: ...


def compact_size(doc: Any) -> int:
    return len(json.dumps(doc, separators=(",", ":"), allow_nan=False).encode())


def offload(store: RunDocs, run_name: str, name: str, doc: Any, limit: int = INLINE_LIMIT_BYTES,
            size: int | None = None) -> Envelope:
    """``doc`` inline when its compact JSON (``size``, when the caller measured it) is at most ``limit`` bytes,
    else written to the store."""
    size = compact_size(doc) if size is None else size
    if size <= limit:
        return {"inline": doc}
    return {"ref": store.put_run_doc(run_name, name, doc), "bytes": size}


def resolve(store: RunDocs, envelope: object, path: str) -> Any:
    """The document an envelope stands for; ``path`` names the field in errors."""
    if not isinstance(envelope, dict) or len(envelope) == 0:
        raise InvalidInputError(path, "must be a document envelope ({inline} or {ref})")
    if "inline" in envelope:
        return envelope["inline"]
    key = envelope.get("ref")
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"{path}.ref", "must be a non-empty S3 key")
    return store.get_run_doc(key)

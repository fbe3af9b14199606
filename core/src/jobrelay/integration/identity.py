"""An orchestrator's identity of the work -> the job's idempotency key."""

from __future__ import annotations

import hashlib

__all__ = ["MAX_KEY", "idempotency_key", "scope_prefix", "scoped_key"]

MAX_KEY = 200  # JobSpec.idempotency_key's limit
# Left for the core's derived keys after a failure ("key#2" ... "key#999999").
_HEADROOM = 8


def idempotency_key(namespace: str, *parts: str | int | None) -> str:
    """The key of one unit of work: the same for every try of it, distinct for others.

    ``namespace`` names the orchestrator (``"airflow"``, ``"prefect"``, ``"dagster"``) and
    ``parts`` its identity of the work (Airflow: dag_id, task_id, run_id, map_index). A key
    that would not fit the limit becomes ``namespace:sha256:<hex>`` of the parts, which
    stays unique. ``None`` parts are written as ``-``; ``%`` and ``:`` inside a part are
    percent-encoded, so two different identities never share a key.

    >>> idempotency_key("airflow", "etl", "train", "manual__2026-01-01T00:00", -1)
    'airflow:etl:train:manual__2026-01-01T00%3A00:-1'
    """
    if not namespace or ":" in namespace:
        raise ValueError(f"namespace must be a non-empty word without ':', got {namespace!r}")
    texts = ["-" if part is None else _escaped(str(part)) for part in parts]
    key = ":".join((namespace, *texts))
    if len(key) <= MAX_KEY - _HEADROOM and "\0" not in key:
        return key
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    return f"{namespace}:sha256:{digest}"


def _escaped(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


def scoped_key(namespace: str, scope: str, *parts: str | int | None) -> str:
    """Like :func:`idempotency_key`, with ``scope`` (a run's id) kept readable at the front.

    Every key of one scope starts with :func:`scope_prefix` ``(namespace, scope)``, also
    when the rest of the identity is too long and is hashed, so the jobs of one run can be
    found again by their keys (:func:`~jobrelay.integration.cancel_scope`). ``scope`` must
    fit with room for the hash: a UUID or a run id does.

    >>> scoped_key("prefect", "0b5c", "train-3f2a", 0)
    'prefect:0b5c:train-3f2a:0'
    """
    prefix = scope_prefix(namespace, scope)
    texts = ["-" if part is None else _escaped(str(part)) for part in parts]
    key = prefix + ":".join(texts)
    if len(key) <= MAX_KEY - _HEADROOM and "\0" not in key:
        return key
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    return f"{prefix}sha256:{digest}"


def scope_prefix(namespace: str, scope: str) -> str:
    """What every :func:`scoped_key` of ``scope`` starts with (``namespace:scope:``)."""
    if not namespace or ":" in namespace:
        raise ValueError(f"namespace must be a non-empty word without ':', got {namespace!r}")
    text = _escaped(scope)
    if not text or "\0" in text or len(namespace) + len(text) + 2 > MAX_KEY - _HEADROOM - 71:
        raise ValueError(f"scope must be a short non-empty id without NUL, got {scope!r:.80}")
    return f"{namespace}:{text}:"

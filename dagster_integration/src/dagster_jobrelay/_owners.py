"""Who owns a job the integration submits: the Dagster instance, the run group, the step.

Every job carries ``Owner("dagster", installation, (group, run id, step key, asset key or
"-", partition or "-"))``, ``group`` being the run's root run id (its own id when it is
not a re-execution). The reaper (:func:`~dagster_jobrelay.cancel_orphaned_jobs_sensor`)
reads the state of the whole group: a re-execution that reattached to the job by its key
(:mod:`dagster_jobrelay._identity`) keeps it alive, though the run that submitted it ended.

The installation tells two Dagster instances sharing a platform apart, and must be the
same in every process of one instance (run workers, step processes, the daemon that runs
the sensor, the code server). A path or a database URL differs between those processes
(mounts, host names, a rotated password), so it is not derived from one: it is an id
stored in the instance's own key-value store (the daemon cursor storage, in the run
storage: SQLite, Postgres or MySQL alike), made at the first use and read back by every
process after. ``JobRelayResource(installation="...")`` names it explicitly instead (for
an instance whose storage keeps no such values, or to keep an id across a storage move).
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
import weakref
from typing import Any

from jobrelay import ConfigError
from jobrelay.integration import Owner

from dagster_jobrelay._identity import NAMESPACE, Context, _asset, _partition, work_scope

__all__ = ["INSTALLATION_KEY", "installation_of", "job_owner", "owner_of"]

INSTALLATION_KEY = "jobrelay/installation"
_INSTALLATION = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PART = 200  # an asset list or partition range longer than this is shortened (with a hash)

_known: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def installation_of(instance: Any, explicit: str | None = None) -> str:
    """The installation id of the Dagster ``instance``: ``explicit`` when given, else the
    id kept in the instance's key-value store (made now if it has none).

    Raises ``ConfigError`` (field ``installation``) for an explicit id that is not 1-64
    letters, digits, ``_``, ``.`` or ``-``.
    """
    if explicit:
        if not _INSTALLATION.fullmatch(explicit):
            raise ConfigError(
                f"must be 1-64 letters, digits, '_', '.' or '-', got {explicit!r:.80}",
                field="installation",
            )
        return explicit
    with _lock:
        known = _known.get(instance)
        if known is None:
            known = _stored_installation(instance)
            _known[instance] = known
        return known


def _stored_installation(instance: Any) -> str:
    storage = instance.daemon_cursor_storage
    stored = storage.get_cursor_values({INSTALLATION_KEY}).get(INSTALLATION_KEY)
    if stored and _INSTALLATION.fullmatch(stored):
        return str(stored)
    storage.set_cursor_values({INSTALLATION_KEY: uuid.uuid4().hex[:16]})
    # Two processes making it at the same first moment: whichever write landed last is
    # the id, and every later read agrees on it.
    return str(storage.get_cursor_values({INSTALLATION_KEY})[INSTALLATION_KEY])


def owner_of(context: Context, installation: str) -> Owner:
    """The owner of a job submitted now by the step of ``context``."""
    run = context.run
    step = context.get_step_execution_context().step.key
    return Owner(
        NAMESPACE,
        installation,
        (
            work_scope(context),
            run.run_id,
            _bounded(step),
            _bounded(_asset(context) or "-"),
            _bounded(_partition(context) or "-"),
        ),
    )


def job_owner(context: Context, explicit: str | None = None) -> Owner | None:
    """:func:`owner_of` the step of ``context`` in its instance; None, with a warning in
    the run's log, when the instance cannot keep its id (the job then runs without an
    owner, which no sensor reaps). A bad ``explicit`` id raises ``ConfigError``."""
    try:
        installation = installation_of(context.instance, explicit)
    except ConfigError:
        raise
    except Exception as exc:  # a storage that keeps no key-value pairs: never fail the step
        context.log.warning(
            "The job gets no owner: this Dagster instance's id could not be read or stored "
            "(%s: %s); set JobRelayResource(installation=...) for the reaper sensor to see it",
            type(exc).__name__,
            str(exc)[:200],
        )
        return None
    return owner_of(context, installation)


def _bounded(part: str) -> str:
    # Only the group is looked up; the rest says who the owner is to a reader, and an
    # owner is at most MAX_OWNER characters, so a very long asset list is shortened.
    if len(part) <= _PART:
        return part
    digest = hashlib.sha256(part.encode()).hexdigest()[:12]
    return f"{part[: _PART - 16]}...{digest}"

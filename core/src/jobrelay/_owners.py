"""Who owns a job: the orchestrator's unit of work that submitted it, recorded on the platform.

Every job an adapter submits carries its owner (``JobSpec.owner``), and the platform keeps
it with the job (a tag, the submission's metadata, the launch spec), so a sweep that runs
anywhere can read it back from the platform's own job list (``JobStatus.owner``) and ask
the orchestrator whether that unit of work is still alive.

An owner is one line of text, ``orchestrator:installation:part:part...``:

- ``orchestrator`` names the orchestrator (``airflow``, ``prefect``, ``dagster``);
- ``installation`` names one installation of it (an Airflow, a Prefect server, a Dagster
  instance), so two installations sharing a platform never touch each other's jobs;
- the parts are that orchestrator's identity of the unit of work, enough for its owner
  lookup to read the unit's state (Airflow: dag, run, task, map index, try).

``%`` and ``:`` inside a part are percent-encoded, so any identity round-trips.

>>> owner = Owner("airflow", "a1b2c3", ("etl", "manual__2026-01-01T00:00", "train", "-1", "1"))
>>> str(owner)
'airflow:a1b2c3:etl:manual__2026-01-01T00%3A00:train:-1:1'
>>> Owner.parse(str(owner)) == owner
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_OWNER", "Owner"]

# Room for three orchestrator ids of Airflow's own limit (250 each) and the rest.
MAX_OWNER = 1000
_WORD = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_INSTALLATION = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ESCAPE = re.compile(r"%(25|3A)")


@dataclass(frozen=True, order=True)
class Owner:
    """The unit of work a job belongs to (see the module docstring)."""

    orchestrator: str
    installation: str
    unit: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _WORD.fullmatch(self.orchestrator):
            raise ValueError(
                "orchestrator must be a lowercase word (e.g. 'airflow'), "
                f"got {self.orchestrator!r:.80}"
            )
        if not _INSTALLATION.fullmatch(self.installation):
            raise ValueError(
                "installation must be 1-64 letters, digits, '_', '.' or '-', "
                f"got {self.installation!r:.80}"
            )
        if not self.unit or any(not isinstance(p, str) or "\0" in p for p in self.unit):
            raise ValueError("unit must be one or more texts without NUL")
        if len(str(self)) > MAX_OWNER:
            raise ValueError(f"an owner is at most {MAX_OWNER} characters as text")

    def __str__(self) -> str:
        return ":".join((self.orchestrator, self.installation, *map(_escaped, self.unit)))

    @property
    def installation_prefix(self) -> str:
        """What the text of every owner of this installation starts with."""
        return f"{self.orchestrator}:{self.installation}:"

    @classmethod
    def parse(cls, text: str) -> Owner:
        """The owner ``str(owner)`` wrote; ``ValueError`` for any other text."""
        if not isinstance(text, str) or len(text) > MAX_OWNER:
            raise ValueError(f"not an owner: {text!r:.80}")
        orchestrator, _, rest = text.partition(":")
        installation, _, rest = rest.partition(":")
        if not rest:
            raise ValueError(f"not an owner (orchestrator:installation:unit...): {text!r:.80}")
        return cls(orchestrator, installation, tuple(_unescaped(p) for p in rest.split(":")))

    @classmethod
    def read(cls, text: str | None) -> Owner | None:
        """``parse(text)``, or None for no text or text that is not an owner (a job a user
        tagged by hand must not break a sweep)."""
        if not text:
            return None
        try:
            return cls.parse(text)
        except ValueError:
            return None


def _escaped(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


def _unescaped(part: str) -> str:
    if re.search(r"%(?!25|3A)", part):
        raise ValueError(f"bad escape in owner part {part!r:.80}")
    return _ESCAPE.sub(lambda m: "%" if m.group(1) == "25" else ":", part)

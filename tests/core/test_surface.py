"""The public surface is pinned: additions are deliberate, removals are breaking."""

from __future__ import annotations

import jobrelay

EXPECTED = {
    "APIError",
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactRef",
    "AsyncClient",
    "AuthError",
    "Client",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobRef",
    "JobRelayError",
    "JobResult",
    "JobSpec",
    "JobState",
    "JobStatus",
    "JobTimeout",
    "JobUpdate",
    "LogLine",
    "LogPage",
    "NotFoundError",
    "PlatformError",
    "PollPolicy",
    "QueueInfo",
    "QueueMode",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "WaitLimits",
    "__version__",
}


def test_public_names_are_exactly_the_pinned_set() -> None:
    assert set(jobrelay.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in jobrelay.__all__:
        assert getattr(jobrelay, name) is not None


def test_errors_form_the_documented_tree() -> None:
    assert issubclass(jobrelay.ConfigError, jobrelay.JobRelayError)
    assert issubclass(jobrelay.TransportError, jobrelay.PlatformError)
    for name in ("AuthError", "NotFoundError", "ConflictError", "RateLimitedError", "ServerError"):
        assert issubclass(getattr(jobrelay, name), jobrelay.APIError)
    for name in ("JobFailed", "JobCancelled", "JobTimeout"):
        assert issubclass(getattr(jobrelay, name), jobrelay.JobError)
    assert issubclass(jobrelay.IntegrityError, jobrelay.ArtifactError)

"""``JobRelayCredentials``: a Prefect block that says where jobs run and how to sign in."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from jobrelay import AsyncClient, PollPolicy
from jobrelay.integration import client_options, parse_platform_url
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

__all__ = ["JobRelayCredentials"]

DOCS = "https://github.com/jobrelay/jobrelay/tree/main/prefect_integration"


class JobRelayCredentials(Block):
    """A jobrelay platform: its URL, its credential and its options; it vends clients.

    The credential is a secret field: Prefect stores it encrypted and never shows it.

    Example:
        Load saved credentials and list the platform's recent jobs:
        ```python
        from prefect_jobrelay import JobRelayCredentials

        credentials = JobRelayCredentials.load("BLOCK_NAME")
        async with credentials.get_client() as client:
            jobs = await client.list_jobs(limit=5)
        ```
    """

    _block_type_name: ClassVar[str | None] = "JobRelay Credentials"
    _block_type_slug: ClassVar[str | None] = "jobrelay-credentials"
    _documentation_url: ClassVar[Any] = DOCS

    platform: str = Field(
        default="local://",
        description=(
            "The platform URL: local://, local:///srv/jobs, ray://127.0.0.1:8265, "
            "ray+https://host, wandb://team/project."
        ),
    )
    credential: SecretStr | None = Field(
        default=None,
        description="The platform's token or API key, if it needs one (kept secret).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Platform options passed to the client, e.g. {'verify': False} (no secrets).",
    )

    def client_settings(self) -> tuple[str, dict[str, Any]]:
        """The URL and options a client opens with. A malformed URL or a credential among
        the options is a ``ConfigError`` here; an option the platform does not take (a
        credential for ``local://``) is one when the client opens."""
        parse_platform_url(self.platform)
        return self.platform, client_options(self.platform, self.credential, self.options)

    def get_client(self, *, poll: PollPolicy | None = None) -> AsyncClient:
        """An unopened ``AsyncClient`` (open it with ``async with``).

        Its waiters share the process's status hub for these settings: ``.submit()``-ed
        tasks each run on a thread and event loop of their own, and 50 of them waiting cost
        one status call per tick, not 50 (``shared_hub``, :mod:`jobrelay._shared_hub`).
        """
        url, options = self.client_settings()
        return AsyncClient(url, poll=poll, shared_hub=True, **options)

    def identity(self) -> str:
        """A stable id of these settings (a digest: no secret in it), for caching clients."""
        secret = self.credential.get_secret_value() if self.credential else ""
        text = json.dumps([self.platform, secret, self.options], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


async def resolve_credentials(value: JobRelayCredentials | str) -> JobRelayCredentials:
    """A block, the name of a saved one (what a deployment's parameters can carry), or a
    platform URL that needs no credential (``local://``)."""
    if isinstance(value, JobRelayCredentials):
        return value
    if "://" in value:
        return JobRelayCredentials(platform=value)
    loaded = await JobRelayCredentials.aload(value)
    assert isinstance(loaded, JobRelayCredentials)
    return loaded

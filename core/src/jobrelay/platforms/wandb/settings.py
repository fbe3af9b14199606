"""``wandb://`` settings: :class:`WandbSettings` (the options a user gives, as every platform's
settings model) and :class:`WandbTarget` (what they resolve to: where and as whom to talk to W&B).

Resolution order (:mod:`jobrelay.platforms.settings`): the opener's argument, then the URL,
then ``$WANDB_API_KEY`` / ``$WANDB_BASE_URL``, then the default (``https://api.wandb.ai``,
queue ``default``). Anything malformed or missing is a ``ConfigError`` naming the setting,
before any network call.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import AliasChoices, Field, SecretStr

from jobrelay.errors import ConfigError
from jobrelay.platforms.settings import HttpPlatformSettings, load_settings, platform_host
from jobrelay.urls import parse_platform_url, redact_url

__all__ = [
    "DEFAULT_BASE_URL",
    "LAUNCH_PROJECT",
    "WandbSettings",
    "WandbTarget",
    "parse_artifact_path",
    "parse_job_path",
    "resolve_settings",
    "resolve_target",
]

DEFAULT_BASE_URL = "https://api.wandb.ai"
LAUNCH_PROJECT = "model-registry"
DEFAULT_QUEUE = "default"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_QUEUE = re.compile(r"^[^\s:/]{1,64}$")


@dataclass(frozen=True)
class WandbTarget:
    """Where and as whom to talk to W&B, resolved from :class:`WandbSettings` and the URL
    (:func:`resolve_target`). ``api_key`` never appears in a repr."""

    base_url: str
    entity: str
    project: str
    queue: str
    api_key: SecretStr
    queue_entity: str
    docker_image: str | None = None
    resource: str | None = None
    # The HTTP settings (timeout, verify, retries) as the user gave them.
    http: HttpPlatformSettings = field(default_factory=HttpPlatformSettings, repr=False)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def authorization(self) -> SecretStr:
        """``Basic base64("api:" + key)``: the username is literally ``api``."""
        raw = f"api:{self.api_key.get_secret_value()}".encode()
        return SecretStr("Basic " + base64.b64encode(raw).decode())

    @property
    def platform_url(self) -> str:
        """The canonical platform URL (no secrets): what ``JobRef.platform`` holds."""
        query: dict[str, str] = {"queue": self.queue}
        if self.queue_entity != self.entity:
            query["queue_entity"] = self.queue_entity
        if self.base_url != DEFAULT_BASE_URL:
            query["host"] = self.base_url
        if self.docker_image:
            query["image"] = self.docker_image
        if self.resource:
            query["resource"] = self.resource
        return f"wandb://{self.entity}/{self.project}?{urlencode(query, safe=':/')}"

    @property
    def app_url(self) -> str:
        """The UI's base URL: ``https://wandb.ai`` for the SaaS API, else the server itself."""
        parts = urlsplit(self.base_url)
        if parts.hostname == "api.wandb.ai":
            return "https://wandb.ai"
        return self.base_url

    def run_url(self, run_id: str) -> str:
        return f"{self.app_url}/{self.entity}/{self.project}/runs/{run_id}"

    def in_project(self, entity: str, project: str) -> WandbTarget:
        """The same server, key and options, for another entity's or project's artifacts."""
        return replace(self, entity=entity, project=project)


def check_name(value: str, what: str) -> str:
    if not value or not _NAME.match(value) or len(value) > 128:
        raise ConfigError(
            f"{value!r} is not a valid W&B {what} name (letters, digits, '.', '_', '-')",
            field=what,
        )
    return value


class WandbSettings(HttpPlatformSettings):
    """``wandb://ENTITY/PROJECT`` options, in the URL's query or as keywords: ``queue``,
    ``queue_entity``, ``host`` (else ``$WANDB_BASE_URL``), ``image``, ``resource``, and the
    shared ones (``credential`` -- alias ``api_key`` --, ``timeout``, ``verify``,
    ``retries``, ``retry_timeout``)."""

    platform_name = "wandb"
    credential_env = ("WANDB_API_KEY",)
    env_options = {"host": "WANDB_BASE_URL"}

    credential: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("credential", "api_key")
    )
    queue: str = DEFAULT_QUEUE
    queue_entity: str | None = None
    host: str = DEFAULT_BASE_URL
    image: str | None = None
    resource: str | None = None


def resolve_settings(url: str, options: Mapping[str, Any] | None = None) -> WandbSettings:
    """The checked options of a ``wandb://`` URL: ``ConfigError`` naming what is wrong."""
    options = {name: value for name, value in (options or {}).items() if value is not None}
    parsed = parse_platform_url(url)
    if parsed.base_scheme != "wandb":
        raise ConfigError(f"{redact_url(url)!r} is not a wandb:// URL", field="platform")
    loaded = load_settings(WandbSettings, parsed, options)
    if loaded.credential is None or not loaded.credential.get_secret_value():
        raise ConfigError(
            "missing: pass credential=... (or api_key=...) or set $WANDB_API_KEY; never in the URL",
            field="credential",
        )
    platform_host(loaded.host)
    for name in ("image", "resource"):
        value = getattr(loaded, name)
        if value is not None and (not value.strip() or any(c.isspace() for c in value)):
            raise ConfigError("must be a name without spaces", field=name)
    return loaded


def resolve_target(url: str, **options: Any) -> WandbTarget:
    """Typed settings from a ``wandb://`` URL, the opener's options and the environment.

    >>> resolve_target("wandb://team/vision?queue=gpu", api_key="k" * 40).queue
    'gpu'
    """
    loaded = resolve_settings(url, options)
    parsed = parse_platform_url(url)
    project = parsed.path.strip("/")
    if not parsed.netloc or not project or "/" in project:
        raise ConfigError(
            f"{redact_url(url)!r} must name an entity and a project: "
            "wandb://ENTITY/PROJECT?queue=NAME",
            field="platform",
        )
    entity = check_name(parsed.netloc, "entity")
    check_name(project, "project")
    check_queue_name(loaded.queue)
    assert loaded.credential is not None  # resolve_settings refused a missing one
    return WandbTarget(
        base_url=loaded.host.rstrip("/"),
        entity=entity,
        project=project,
        queue=loaded.queue,
        api_key=loaded.credential,
        queue_entity=check_name(loaded.queue_entity or entity, "queue_entity"),
        docker_image=loaded.image or None,
        resource=loaded.resource or None,
        http=loaded,
    )


def check_queue_name(name: str) -> str:
    if not _QUEUE.match(name):
        raise ConfigError(
            f"{name!r} is not a valid run queue name (1-64 characters, no spaces, ':' or '/')",
            field="queue",
        )
    return name


def parse_job_path(job: object) -> str:
    """Check a launch job reference ``entity/project/name:alias`` and return it."""
    if not isinstance(job, str):
        raise ConfigError(f"must be a string 'entity/project/name:alias', got {job!r}", field="job")
    path, sep, alias = job.partition(":")
    parts = path.split("/")
    if not sep or not alias or len(parts) != 3 or not all(parts) or "/" in alias:
        raise ConfigError(
            f"{job!r} is not a job path; expected 'entity/project/name:alias' "
            "(e.g. 'team/vision/job-train:latest')",
            field="job",
        )
    for part, what in zip(parts, ("entity", "project", "job"), strict=True):
        if not _NAME.match(part) or len(part) > 128:
            raise ConfigError(
                f"{job!r}: {part!r} is not a valid {what} name (letters, digits, '.', '_', "
                "'-'); expected 'entity/project/name:alias'",
                field="job",
            )
    return job


def parse_artifact_path(path: str, *, entity: str, project: str) -> tuple[str, str, str, str]:
    """``[entity/][project/]name[:alias]`` -> (entity, project, name, alias); alias ``latest``.

    Raises ``ConfigError(field="artifact")`` naming the path when it is malformed.
    """
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{path!r} is not an artifact path", field="artifact")
    left, sep, alias = path.partition(":")
    if sep and (not alias or "/" in alias or ":" in alias):
        raise ConfigError(
            f"{path!r} is not an artifact path; expected [entity/][project/]name[:alias]",
            field="artifact",
        )
    parts = left.split("/")
    if len(parts) > 3 or not all(parts):
        raise ConfigError(
            f"{path!r} is not an artifact path; expected [entity/][project/]name[:alias]",
            field="artifact",
        )
    name = parts[-1]
    proj = parts[-2] if len(parts) >= 2 else project
    ent = parts[-3] if len(parts) == 3 else entity
    for part, what in ((ent, "entity"), (proj, "project"), (name, "artifact")):
        if not _NAME.match(part):
            raise ConfigError(f"{path!r}: {part!r} is not a valid {what} name", field="artifact")
    return ent, proj, name, alias or "latest"

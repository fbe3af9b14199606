"""``wandb://ENTITY/PROJECT?queue=NAME&host=URL`` and the environment -> :class:`WandbSettings`.

Resolution order: the opener's argument, then the URL, then ``$WANDB_API_KEY`` /
``$WANDB_BASE_URL``, then the default (``https://api.wandb.ai``, queue ``default``). Anything
malformed or missing is a ``ConfigError`` naming the setting, before any network call.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from pydantic import SecretStr

from jobrelay.errors import ConfigError
from jobrelay.settings import parse_platform_url, resolve_secret

__all__ = [
    "DEFAULT_BASE_URL",
    "LAUNCH_PROJECT",
    "WandbSettings",
    "parse_artifact_path",
    "parse_job_path",
    "resolve_settings",
]

DEFAULT_BASE_URL = "https://api.wandb.ai"
LAUNCH_PROJECT = "model-registry"
DEFAULT_QUEUE = "default"
_OPTIONS = frozenset({"queue", "host", "image", "resource", "queue_entity"})
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_QUEUE = re.compile(r"^[^\s:/]{1,64}$")


@dataclass(frozen=True)
class WandbSettings:
    """Where and as whom to talk to W&B. ``api_key`` never appears in a repr."""

    base_url: str
    entity: str
    project: str
    queue: str
    api_key: SecretStr
    queue_entity: str
    docker_image: str | None = None
    resource: str | None = None

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


def check_name(value: str, what: str) -> str:
    if not value or not _NAME.match(value) or len(value) > 128:
        raise ConfigError(
            f"{value!r} is not a valid W&B {what} name (letters, digits, '.', '_', '-')",
            field=what,
        )
    return value


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{value!r} is not an http(s) URL; give e.g. host=https://wandb.example.com",
            field="host",
        )
    return value.rstrip("/")


def resolve_settings(
    url: str, *, api_key: str | SecretStr | None = None, host: str | None = None
) -> WandbSettings:
    """Typed settings from a ``wandb://`` URL, the opener's options and the environment.

    >>> resolve_settings("wandb://team/vision?queue=gpu", api_key="k" * 40).queue
    'gpu'
    """
    parsed = parse_platform_url(url)
    if parsed.base_scheme != "wandb":
        raise ConfigError(f"{url!r} is not a wandb:// URL", field="platform")
    unknown = sorted(set(parsed.query) - _OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} in {url!r}; use "
            + ", ".join(sorted(_OPTIONS)),
            field="platform",
        )
    project = parsed.path.strip("/")
    if not parsed.netloc or not project or "/" in project:
        raise ConfigError(
            f"{url!r} must name an entity and a project: wandb://ENTITY/PROJECT?queue=NAME",
            field="platform",
        )
    entity = check_name(parsed.netloc, "entity")
    check_name(project, "project")
    queue = parsed.query.get("queue") or DEFAULT_QUEUE
    check_queue_name(queue)
    base = host or parsed.query.get("host") or os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL
    key = resolve_secret(api_key, "WANDB_API_KEY", field="api_key")
    return WandbSettings(
        base_url=_base_url(base),
        entity=entity,
        project=project,
        queue=queue,
        api_key=key,
        queue_entity=check_name(parsed.query.get("queue_entity") or entity, "queue_entity"),
        docker_image=parsed.query.get("image") or None,
        resource=parsed.query.get("resource") or None,
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
        check_name(part, what)
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

"""A ``JobSpec`` against what its platform declares it can honour, before anything is sent.

One check for every platform, from :class:`~jobrelay.platforms.base.Capabilities`; a
platform's own ``check_spec`` adds only what is truly its own (a Ray ``runtime_env`` key, a
W&B job path). A field the platform cannot honour is refused, never dropped.
"""

from __future__ import annotations

import inspect

from jobrelay.errors import ConfigError
from jobrelay.models import JobSpec
from jobrelay.platforms.base import Capabilities, Platform

__all__ = ["check_spec", "unsupported_fields"]


def unsupported_fields(spec: JobSpec, capabilities: Capabilities) -> list[str]:
    """The fields of ``spec`` that ask for something the platform cannot do, in order."""
    asked = {
        "queue": spec.queue is not None and not capabilities.queues,
        "priority": spec.priority != 0 and not capabilities.priority,
        "env": bool(spec.env) and not capabilities.env,
        "working_dir": spec.working_dir is not None and not capabilities.working_dir,
        "timeout_s": spec.timeout_s is not None and not capabilities.timeout,
        "max_retries": spec.max_retries > 0 and not capabilities.retries,
        "resources": bool(spec.resources) and not capabilities.resources,
        "tags": bool(spec.tags) and not capabilities.tags,
        "owner": spec.owner is not None and not capabilities.owners,
    }
    fields = [name for name, refused in asked.items() if refused]
    fields += [f"config.{key}" for key in sorted(set(spec.config) - capabilities.config_keys)]
    return fields


async def check_spec(spec: JobSpec, platform: Platform) -> None:
    """``ConfigError`` naming the first field ``platform`` cannot honour, and the platform.

    Then the platform's own ``check_spec`` (sync or async), if it has one.
    """
    capabilities = platform.capabilities
    fields = unsupported_fields(spec, capabilities)
    if fields:
        field = fields[0]
        if field.startswith("config."):
            known = ", ".join(sorted(capabilities.config_keys)) or "none"
            message = f"is not an option the {platform.name} platform knows; its options: {known}"
        else:
            message = f"the {platform.name} platform cannot honour it"
        hint = capabilities.hints.get(field)
        if hint is None and field.startswith("config."):
            hint = capabilities.hints.get("config")
        raise ConfigError(f"{message}; {hint}" if hint else message, field=field)
    own = getattr(platform, "check_spec", None)
    if own is not None:
        checked = own(spec)
        if inspect.isawaitable(checked):
            await checked

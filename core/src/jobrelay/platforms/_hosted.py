"""How the hosted platforms (Anyscale, Fused) open: settings, the credential they cannot
work without, and two HTTP sessions (the API's, and one without the credential for the URLs
the API signs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from jobrelay.errors import ConfigError
from jobrelay.http import HostBoundAuth, HttpSession, RetryPolicy
from jobrelay.platforms.settings import HttpPlatformSettings, load_settings, platform_host

__all__ = ["open_hosted"]

S = TypeVar("S", bound=HttpPlatformSettings)


def open_hosted(
    model: type[S],
    url: str,
    options: Mapping[str, Any],
    *,
    needs: str,
    sends: Callable[[S, str], str],
    header: str = "Authorization",
    headers: Mapping[str, str] | None = None,
    hint: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> tuple[S, HttpSession, HttpSession]:
    """The settings for ``url`` and ``options``, the API's session and the signed-URL session.

    The API's address is the model's ``address_option``; ``sends(settings, credential)`` is
    the ``header`` value that carries the credential, to the API's host only. No request is
    made. Raises ``ConfigError(field="credential")`` when no credential is given or set in
    the model's first ``credential_env`` variable, saying the platform ``needs`` one (then
    ``hint``).
    """
    settings = load_settings(model, url, options)
    option = model.address_option
    if option is None:
        raise TypeError(f"{model.__name__} names no address_option")
    token = settings.secret()
    if token is None:
        env = f" or set ${model.credential_env[0]}" if model.credential_env else ""
        raise ConfigError(
            f"{model.platform_name} needs {needs}: pass credential=...{env}{hint}",
            field="credential",
        )
    address = str(getattr(settings, option))
    auth = HostBoundAuth(platform_host(address), SecretStr(sends(settings, token)), header=header)
    api, signed = settings.sessions(
        address, auth, secret=token, headers=headers, transport=transport, retry=retry
    )
    return settings, api, signed

"""One settings contract for every platform: a typed model per platform, one loader.

Each platform declares a pydantic model (``extra="forbid"``) of what it takes; the loader
merges, in this order, the opener's keyword options, the URL's query, and the platform's
environment variables, then validates once. Whatever is wrong comes out the same way on
every platform: ``ConfigError(field=<option>)``, with a message that never holds the value
of a credential, wherever the user put it.

>>> from jobrelay.platforms.ray import RaySettings
>>> load_settings(RaySettings, "ray://127.0.0.1:8265?timeout=5", {"verify": False}).timeout
5.0

Credentials never go in a URL (a URL ends up in ``JobRef.platform``, in logs, in an
orchestrator's database): user info or a credential in the query is refused, named, and not
quoted.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo

from jobrelay.errors import ConfigError
from jobrelay.urls import PlatformURL, parse_platform_url, redact_url

if TYPE_CHECKING:  # httpx loads when a hosted platform builds its sessions, not before
    import httpx

    from jobrelay.http import HostBoundAuth, HttpSession, RetryPolicy

__all__ = [
    "HttpPlatformSettings",
    "PlatformSettings",
    "load_settings",
]

S = TypeVar("S", bound="PlatformSettings")

# Names a credential goes by on some platform; in a URL query each is refused unquoted.
SECRET_NAMES = frozenset({"credential", "token", "api_key", "apikey", "password", "secret"})
_STORE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://")


class PlatformSettings(BaseModel):
    """The base of every platform's settings model; a platform's own model adds its options."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True
    )

    # The platform's name in messages, and the environment variables its credential may
    # come from, in order. Class-level: not settings.
    platform_name: ClassVar[str] = "this"
    credential_env: ClassVar[tuple[str, ...]] = ()
    # Settings that may also come from the environment (field -> variable), after the URL.
    env_options: ClassVar[Mapping[str, str]] = {}
    # The option that holds the API's address, for a platform whose URL names no host or
    # path (``anyscale://?host=...``): a host in the URL is refused, never silently ignored.
    address_option: ClassVar[str | None] = None

    @field_validator("*")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        # An empty name (``compute_config=``, ``image=``) would be sent as it is: refused.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty; leave it out for the default")
        return value


class HttpPlatformSettings(PlatformSettings):
    """A remote platform behind an HTTP API: a credential, timeouts, TLS, retry limits.

    ``artifacts`` is a store URL the platform's *jobs* can reach (``s3://bucket/jobs``,
    ``file:///shared/nfs``): where a job that shares no filesystem with the client reads its
    inputs and writes its outputs.
    """

    credential: SecretStr | None = None
    timeout: float = Field(default=30.0, description="seconds per HTTP request")
    verify: bool | str = Field(default=True, description="TLS check: on, off, or a CA bundle")
    retries: int = Field(default=8, ge=1, le=100, description="attempts per request")
    retry_timeout: float = Field(default=60.0, description="seconds of retrying per request")
    artifacts: str | None = Field(default=None, description="a store URL the jobs can reach")

    @field_validator("artifacts")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is not None and not (_STORE_URL.match(value) or value.startswith("/")):
            raise ValueError("must be a store URL its jobs can reach, e.g. s3://bucket/jobs")
        return value

    @field_validator("credential")
    @classmethod
    def _clean(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and any(
            c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value.get_secret_value()
        ):
            raise ValueError(
                "holds whitespace or control characters (a newline from a file?); remove them"
            )
        return value

    @field_validator("timeout", "retry_timeout")
    @classmethod
    def _seconds(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError("must be a positive number of seconds")
        return value

    @field_validator("verify", mode="before")
    @classmethod
    def _verify(cls, value: object) -> object:
        if isinstance(value, str) and value.lower() in ("0", "1", "true", "false", "yes", "no"):
            return value.lower() in ("1", "true", "yes")
        if isinstance(value, str) and not os.path.isfile(value):
            raise ValueError("must be true, false or the path of a CA bundle file")
        return value

    def http_timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))

    def retry_policy(self) -> RetryPolicy:
        from jobrelay.http import RetryPolicy

        return RetryPolicy(attempts=self.retries, timeout_s=self.retry_timeout)

    def secret(self) -> str | None:
        """The credential's value, for the one place that sends it."""
        return self.credential.get_secret_value() if self.credential else None

    def sessions(
        self,
        base_url: str,
        auth: HostBoundAuth,
        *,
        secret: str,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> tuple[HttpSession, HttpSession]:
        """The API's session (``auth`` sent to its host only) and a second session that
        holds no credential, for the URLs the API signs (downloads, log chunks). Both use
        these settings' timeout, TLS check and retries, and redact ``secret``."""
        import httpx

        from jobrelay.http import HttpSession, tls_verify

        policy = retry or self.retry_policy()
        api = HttpSession(
            base_url,
            auth=auth,
            headers=dict(headers or {}),
            timeout=self.http_timeout(),
            retry=policy,
            transport=transport,
            verify=self.verify,
            secrets=(secret,),
        )
        signed = HttpSession(
            "",
            timeout=self.http_timeout(),
            retry=policy,
            transport=transport or httpx.AsyncHTTPTransport(verify=tls_verify(self.verify)),
            verify=self.verify,
            secrets=(secret,),
        )
        return api, signed


def load_settings(
    model: type[S], url: str | PlatformURL, options: Mapping[str, Any] | None = None
) -> S:
    """The settings for ``url`` and ``options``: options, then the URL query, then the env.

    An option given both as a keyword and in the URL with different values is a
    ``ConfigError``; so is an unknown or mistyped one, and a credential in the URL.
    """
    parsed = url if isinstance(url, PlatformURL) else parse_platform_url(url)
    _refuse_url_credentials(parsed, model)
    given = dict(options or {})
    for name, text in parsed.query.items():
        if name in given and str(given[name]) != text:
            raise ConfigError(
                "given both in the URL and as an option, with different values; give it once",
                field=name,
            )
        given.setdefault(name, text)
    fields = model.model_fields
    for name, variable in model.env_options.items():
        if name not in given and os.environ.get(variable):
            given[name] = os.environ[variable]
    if "credential" in fields and all(
        given.get(name) in (None, "") for name in _names_of(fields["credential"], "credential")
    ):
        found = next((os.environ[v] for v in model.credential_env if os.environ.get(v)), None)
        if found is not None:
            given["credential"] = found
    _refuse_credential_elsewhere(parsed, given, model)
    _refuse_url_location(parsed, model)
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise _config_error(model, exc) from None


# A credential shorter than this is not looked for elsewhere (it could be any word).
_SHORTEST_CHECKED = 8


def _refuse_credential_elsewhere(
    parsed: PlatformURL, given: Mapping[str, Any], model: type[PlatformSettings]
) -> None:
    """A credential's text in another option or in the URL (a key pasted as the queue name
    or into the path) would reach reprs, logs and error messages, which quote names and
    URLs: refused, naming the place and never quoting it."""
    fields = model.model_fields
    if "credential" not in fields:
        return
    names = _names_of(fields["credential"], "credential")
    value = next((given[n] for n in names if given.get(n) not in (None, "")), None)
    secret = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(secret, str) or len(secret) < _SHORTEST_CHECKED:
        return
    hint = f"the credential goes in credential=... only{_env_hint(model)}"
    for name, option in given.items():
        if name not in names and isinstance(option, str) and secret in unquote(option):
            raise ConfigError(f"holds the credential; {hint}", field=name)
    location = unquote(parsed.netloc + parsed.path + parsed.raw.partition("#")[2])
    if secret in location:
        raise ConfigError(f"the platform URL holds the credential; {hint}", field="platform")


def _env_hint(model: type[PlatformSettings]) -> str:
    return f" or ${model.credential_env[0]}" if model.credential_env else ""


def _names_of(info: FieldInfo, name: str) -> tuple[str, ...]:
    """Every name a field may be given by: its own and its aliases (``api_key=``, ``token=``
    for ``credential``); the environment fills it only when none of them was given."""
    alias = info.validation_alias
    names = [name]
    if isinstance(alias, str):
        names.append(alias)
    elif isinstance(alias, AliasChoices):
        names.extend(choice for choice in alias.choices if isinstance(choice, str))
    return tuple(names)


def _refuse_url_credentials(parsed: PlatformURL, model: type[PlatformSettings]) -> None:
    hint = (
        f"pass credential=... or set ${model.credential_env[0]}"
        if model.credential_env
        else "pass credential=..."
    )
    if "@" in parsed.netloc:
        raise ConfigError(
            f"{redact_url(parsed.raw)}: a credential does not go in the URL's user info; {hint}",
            field="platform",
        )
    for name in parsed.query:
        if name.lower() in SECRET_NAMES:
            raise ConfigError(
                f"{redact_url(parsed.raw)}: a credential does not go in the URL; {hint}",
                field=name,
            )


def _refuse_url_location(parsed: PlatformURL, model: type[PlatformSettings]) -> None:
    option = model.address_option
    if option is None or not (parsed.netloc or parsed.path.strip("/")):
        return
    where = (parsed.netloc + parsed.path).strip("/")
    raise ConfigError(
        f"{redact_url(parsed.raw)}: the {model.platform_name} platform takes no host or path "
        f"in its URL and would ignore {where!r}; give its address as "
        f"{parsed.scheme}://?{option}=https://{where or 'host'} (or leave it out for the default)",
        field="platform",
    )


def _config_error(model: type[PlatformSettings], exc: ValidationError) -> ConfigError:
    error = exc.errors(include_input=False, include_url=False)[0]
    loc = error["loc"]
    field = str(loc[0]) if loc else "platform"
    if error["type"] == "extra_forbidden":
        known = ", ".join(sorted(model.model_fields))
        return ConfigError(
            f"not an option of the {model.platform_name} platform; its options are: {known}",
            field=field,
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    return ConfigError(message, field=field)


_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def check_host(host: str | None, *, field: str, example: str) -> str:
    """``host`` if it is a DNS name, an IPv4 or a bracketless IPv6 address; else ConfigError."""
    if host and (
        _HOSTNAME.match(host)
        or (":" in host and all(c in "0123456789abcdefABCDEF:." for c in host))
    ):
        return host
    raise ConfigError(f"names no valid host; e.g. {example}", field=field)


def platform_host(url: str) -> str:
    """The host of an http(s) URL, ``ConfigError(field="host")`` when it is not one."""
    if any(c.isspace() or c == "\0" for c in url):
        raise ConfigError("must not contain whitespace or NUL", field="host")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"is not a valid URL: {exc}", field="host") from None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc or "%" in parts.netloc:
        raise ConfigError(
            f"{redact_url(url)!r} is not an http(s) URL; give e.g. https://host.example.com",
            field="host",
        )
    return check_host(parts.hostname, field="host", example="https://host.example.com")

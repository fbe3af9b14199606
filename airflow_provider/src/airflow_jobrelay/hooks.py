"""``JobRelayHook``: an Airflow Connection of type ``jobrelay`` -> a jobrelay client.

The hook only maps the connection onto the core's settings; everything a job needs
(submit, wait, logs, cancel) is the core client's. Connection fields:

- **Platform** (``schema``): ``local`` (default), ``ray``, ``ray+https``, ``wandb``,
  ``anyscale``, ``fused`` (blank Address: the hosted default; ``base_url`` in Extra for
  another Fused server)
- **Address** (``host``, with ``port``): where the platform is — ``127.0.0.1`` for Ray,
  ``/srv/jobrelay`` for a local home, ``team/project?queue=gpu`` for W&B. A full platform
  URL (``ray://127.0.0.1:8265``) is accepted here as is.
- **Token** (``password``, masked): the platform credential, if it needs one.
- **Extra** (JSON): platform options, passed to the platform as keyword arguments
  (``{"verify": false}``).

>>> hook = JobRelayHook("jobrelay_default")          # doctest: +SKIP
>>> async with hook.get_async_client() as client:     # doctest: +SKIP
...     await client.list_jobs(limit=5)
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_jobrelay.exceptions import JobRelayConnectionError

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from jobrelay import AsyncClient, Client, PollPolicy

__all__ = ["JobRelayHook"]

DEFAULT_CONN_ID = "jobrelay_default"
DEFAULT_PLATFORM = "local"

# An explicit scheme at the start of Address: the whole platform URL is there.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FORM_PREFIX = "extra__jobrelay__"


class JobRelayHook(BaseHook):
    """Builds jobrelay clients from an Airflow Connection of type ``jobrelay``.

    :param jobrelay_conn_id: the connection id (default ``jobrelay_default``).
    """

    conn_name_attr = "jobrelay_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "jobrelay"
    hook_name = "jobrelay"

    def __init__(self, jobrelay_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobrelay_conn_id = jobrelay_conn_id

    # -- the connection -----------------------------------------------------------------

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection, its fields as the user wrote them.

        An Address holding a URL (``?host=http://...``) given in Airflow's URI form (an
        ``AIRFLOW_CONN_*`` URI, or the form's fields as the Test button passes them) is
        read as written, where Airflow's URI parser would cut it at its ``://``.
        """
        from airflow_jobrelay._conn_uri import reread_from_environment

        return reread_from_environment(super().get_connection(conn_id))

    @classmethod
    async def aget_connection(cls, conn_id: str) -> Connection:
        """Like :meth:`get_connection`, without blocking the event loop."""
        from airflow_jobrelay._conn_uri import reread_from_environment

        return reread_from_environment(await super().aget_connection(conn_id))

    # -- clients ------------------------------------------------------------------------

    def get_async_client(self, *, poll: PollPolicy | None = None) -> AsyncClient:
        """An unopened ``AsyncClient`` for this connection (reads the connection now).

        ``poll`` overrides the platform's polling policy.
        """
        return self.client_from_connection(self.get_connection(self.jobrelay_conn_id), poll=poll)

    async def aget_async_client(self, *, poll: PollPolicy | None = None) -> AsyncClient:
        """Like :meth:`get_async_client`, reading the connection without blocking the loop."""
        conn = await self.aget_connection(self.jobrelay_conn_id)
        return self.client_from_connection(conn, poll=poll)

    def get_client(self) -> Client:
        """A sync ``Client`` (it runs the async one on a private loop thread)."""
        return self.sync_client_from_connection(self.get_connection(self.jobrelay_conn_id))

    def sync_client_from_connection(self, conn: Connection) -> Client:
        """A sync ``Client`` for ``conn``, e.g. for ``on_kill`` (no connection lookup)."""
        from jobrelay import Client

        url, options = self._settings(conn)
        with self._naming_errors(conn):
            return Client(url, **options)

    def client_from_connection(
        self, conn: Connection, *, poll: PollPolicy | None = None
    ) -> AsyncClient:
        """An ``AsyncClient`` for ``conn``; a bad setting raises ``JobRelayConnectionError``."""
        from jobrelay import AsyncClient

        url, options = self._settings(conn)
        with self._naming_errors(conn):
            return AsyncClient(url, poll=poll, **options)

    async def open_client(self, client: AsyncClient) -> AsyncClient:
        """Open the platform now, so a broken connection fails the task at its start.

        Opening checks the URL and the credentials without running a job. A
        ``ConfigError`` becomes a ``JobRelayConnectionError`` naming the connection field.
        """
        with _ConfigErrorsNamed(self.jobrelay_conn_id):
            await client.platform()
        return client

    def test_connection(self) -> tuple[bool, str]:
        """Open the platform and list one job: what the UI's Test button runs."""
        try:
            url = platform_url(self.get_connection(self.jobrelay_conn_id))
            with self.get_client() as client, _ConfigErrorsNamed(self.jobrelay_conn_id):
                client.list_jobs(limit=1)
        except JobRelayConnectionError as exc:  # already names the connection and field
            return False, str(exc)
        except Exception as exc:
            return False, f"connection {self.jobrelay_conn_id!r} (type jobrelay): {exc}"
        return True, f"Connected to {url}"

    # -- mapping ------------------------------------------------------------------------

    def _settings(self, conn: Connection) -> tuple[str, dict[str, Any]]:
        from jobrelay.integration import client_options
        from pydantic import SecretStr

        url = platform_url(conn)
        credential = SecretStr(conn.password) if conn.password else None
        return url, client_options(url, credential, _extra_options(conn))

    @staticmethod
    def _naming_errors(conn: Connection) -> _ConfigErrorsNamed:
        return _ConfigErrorsNamed(conn.conn_id)


def platform_url(conn: Connection) -> str:
    """The platform URL a connection names (no credential in it).

    >>> platform_url(Connection(conn_id="x", conn_type="jobrelay", schema="ray",
    ...                         host="127.0.0.1", port=8265))      # doctest: +SKIP
    'ray://127.0.0.1:8265'
    """
    host = (conn.host or "").strip()
    if _URL.match(host):
        return host
    scheme = (conn.schema or DEFAULT_PLATFORM).strip().lower()
    _check_platform(conn, scheme)
    if scheme == "local":
        return f"local://{host}" if host.startswith("/") or not host else f"local:///{host}"
    port = f":{conn.port}" if conn.port else ""
    if "/" in host:  # e.g. wandb://team/project?queue=gpu: the port goes after the host part
        head, _, tail = host.partition("/")
        return f"{scheme}://{head}{port}/{tail}"
    return f"{scheme}://{host}{port}"


def _check_platform(conn: Connection, scheme: str) -> None:
    """A Platform (``schema``) that names no platform is an error naming that field."""
    from jobrelay.integration import known_schemes

    known = known_schemes()
    if scheme not in known:
        raise JobRelayConnectionError(
            f"connection {conn.conn_id!r} (type jobrelay): field 'schema' (Platform) is "
            f"{scheme!r}, not a platform; use one of: {', '.join(known)}",
            conn_id=conn.conn_id,
            field="schema",
        )


def _extra_options(conn: Connection) -> dict[str, Any]:
    raw = conn.extra or ""
    if not raw.strip():
        return {}
    try:
        extra = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JobRelayConnectionError(
            f"connection {conn.conn_id!r} (type jobrelay): field 'extra' is not JSON ({exc.msg})",
            conn_id=conn.conn_id,
            field="extra",
        ) from None
    if not isinstance(extra, dict):
        raise JobRelayConnectionError(
            f"connection {conn.conn_id!r} (type jobrelay): field 'extra' must be a JSON object "
            "of platform options",
            conn_id=conn.conn_id,
            field="extra",
        )
    # The form's own fields arrive as ``extra__jobrelay__NAME``, empty when left blank.
    options = {key.removeprefix(_FORM_PREFIX): value for key, value in extra.items()}
    return {key: value for key, value in options.items() if value not in (None, "")}


class _ConfigErrorsNamed:
    """Turns the core's ``ConfigError`` into ``JobRelayConnectionError`` naming the field."""

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        from jobrelay import ConfigError

        if isinstance(exc, ConfigError):
            field = self._connection_field(exc.field)
            raise JobRelayConnectionError(
                f"connection {self.conn_id!r} (type jobrelay): field {field!r} is invalid: {exc}",
                conn_id=self.conn_id,
                field=field,
            ) from None

    @staticmethod
    def _connection_field(core_field: str | None) -> str:
        if core_field in (None, "platform"):
            return "host"  # the URL is built from Platform (schema), Address (host) and port
        if core_field in {"credential", "token", "api_key"}:
            return "password"
        return f"extra.{core_field.removeprefix('options.')}"

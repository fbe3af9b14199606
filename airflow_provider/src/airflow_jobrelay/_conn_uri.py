"""A connection given in Airflow's URI form, read back as it was written.

Airflow moves a connection through its URI form in two places a user meets: the
connection Test button (the api-server exports the form's fields as
``AIRFLOW_CONN_<random id>=<conn.get_uri()>`` and the hook reads them back) and any
``AIRFLOW_CONN_*`` variable holding a URI. ``Connection.get_uri`` writes an Address
(``host``) that contains ``://`` as ``<text before the first ://>://<rest, quoted>``,
leaving the text before it unquoted; Airflow's own URI parser then reads such a text
(``emulator/acc?queue=default&host=http``, ``?host=http``) as a path and a query, so the
Address, the Platform and the Extra come back wrong. Reading the URI as the exact
inverse of ``get_uri`` gives the fields back unchanged.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = ["fields_from_uri", "reread_from_environment"]

_EXTRA_KEY = "__extra__"  # Connection.EXTRA_KEY: the whole Extra JSON in one query value
# What follows the scheme (and the Address's own "scheme://" part): every field but that
# part is quoted by get_uri, so none of them holds "/", "?", ":" or "@".
_REST = re.compile(
    r"(?:(?P<userinfo>[^@/?]*)@)?(?P<host>[^:/?@]*)(?::(?P<port>\d+))?"
    r"(?:/(?P<schema>[^/?]*))?(?:\?(?P<query>.*))?",
    re.DOTALL,
)


def fields_from_uri(uri: str) -> dict[str, Any] | None:
    """The connection fields ``uri`` holds, read as the inverse of ``Connection.get_uri``.

    ``None`` when ``uri`` is not what ``get_uri`` writes for any fields (checked by
    writing the fields back: the result is exact, never a guess).
    """
    conn_type, sep, after = uri.partition("://")
    if not sep or not conn_type:
        return None
    protocol: str | None
    protocol, sep, rest = after.partition("://")
    if not sep:
        protocol, rest = None, after
    match = _REST.fullmatch(rest)
    if match is None:
        return None
    login = password = None
    if match["userinfo"] is not None:
        user, colon, secret = match["userinfo"].partition(":")
        login = unquote(user) or None
        password = unquote(secret) if colon else None
    host = unquote(match["host"])
    if protocol is not None:
        host = f"{protocol}://{host}"
    extra = None
    if match["query"] is not None:
        query = dict(parse_qsl(match["query"], keep_blank_values=True))
        extra = query[_EXTRA_KEY] if _EXTRA_KEY in query else json.dumps(query)
    fields: dict[str, Any] = {
        "conn_type": conn_type.replace("-", "_"),
        "host": host or None,
        "schema": unquote(match["schema"] or "") or None,
        "login": login,
        "password": password,
        "port": int(match["port"]) if match["port"] else None,
        "extra": extra,
    }
    return fields if _uri_of(fields) == uri else None


def reread_from_environment(conn: Connection) -> Connection:
    """``conn`` as its ``AIRFLOW_CONN_*`` URI wrote it, where Airflow's parser misread it.

    Airflow's reading stands whenever it accounts for the whole URI (it then wrote the
    fields as they were meant); a connection from anywhere else is returned as is.
    """
    raw = os.environ.get(f"AIRFLOW_CONN_{(conn.conn_id or '').upper()}", "").strip()
    # Only an Address holding "://" gives a URI with two of them, the form misread.
    if raw.count("://") != 2 or raw.startswith("{") or _accounts_for(conn, raw):
        return conn
    fields = fields_from_uri(raw)
    if fields is None:
        return conn
    if fields["password"]:
        from airflow.sdk.log import mask_secret

        mask_secret(fields["password"])
    return type(conn)(conn_id=conn.conn_id, **fields)


def _accounts_for(conn: Connection, raw: str) -> bool:
    """Whether Airflow's reading, written back, is ``raw`` (up to quoting)."""
    try:
        written = conn.get_uri()
    except Exception:  # (an Extra it cannot write: not the reading it meant)
        return False
    return unquote(written) == unquote(raw)


def _uri_of(fields: dict[str, Any]) -> str:
    from airflow.sdk import Connection

    written: str = Connection(conn_id="uri-check", **fields).get_uri()
    return written

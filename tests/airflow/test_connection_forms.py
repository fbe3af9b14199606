"""Connection fields through Airflow's URI form (what the Test button and ``AIRFLOW_CONN_*``
URIs do to them): the hook reads back what the user typed, URLs inside the Address included.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.models.connection import Connection
from airflow_jobrelay._conn_uri import fields_from_uri
from airflow_jobrelay.hooks import JobRelayHook, _extra_options, platform_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

URLS = st.builds(
    "{}://{}:{}{}".format,
    st.sampled_from(["http", "https"]),
    st.sampled_from(["127.0.0.1", "localhost", "api.example.com"]),
    st.integers(1, 65535),
    st.from_regex(r"(/[a-z0-9._-]{1,8}){0,3}", fullmatch=True),
)
NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    """An Address as the README and docs write them, with a URL inside where they do."""
    url = draw(URLS)
    entity, project, queue = draw(NAMES), draw(NAMES), draw(NAMES)
    return draw(
        st.sampled_from(
            [
                f"{entity}/{project}?queue={queue}&host={url}",  # W&B (emulator)
                f"{entity}/{project}?queue={queue}",
                f"?host={url}",  # Anyscale
                f"?base_url={url}",  # Fused
                f"wandb://{entity}/{project}?queue={queue}&host={url}",  # a full platform URL
                f"anyscale://?host={url}",
                f"/srv/{entity}",  # a local home
                "127.0.0.1",
                "",
            ]
        )
    )


EXTRAS = st.dictionaries(
    st.sampled_from(["base_url", "host", "artifacts", "verify", "timeout", "token_type"]),
    st.one_of(URLS, st.booleans(), st.integers(1, 600), NAMES),
    max_size=3,
)
SECRETS = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=16,
)


def _as_written(conn: Any) -> tuple[Any, ...]:
    extra = json.loads(conn.extra) if conn.extra else {}
    return (conn.host or None, conn.schema or None, conn.port, conn.password, extra)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    schema=st.sampled_from(["", "local", "ray", "wandb", "anyscale", "fused"]),
    host=addresses(),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    password=st.one_of(st.none(), SECRETS),
    extra=EXTRAS,
)
def test_every_setting_survives_the_uri_round_trip(
    schema: str,
    host: str,
    port: int | None,
    password: str | None,
    extra: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Test button's path: the api-server writes the form's fields with ``get_uri``
    into ``AIRFLOW_CONN_<id>``; the hook reads the connection back from there."""
    typed = Connection(
        conn_id="jr_form",
        conn_type="jobrelay",
        schema=schema,
        host=host,
        port=port,
        password=password,
        extra=json.dumps(extra) if extra else None,
    )
    monkeypatch.setenv("AIRFLOW_CONN_JR_FORM", typed.get_uri())

    read = JobRelayHook.get_connection("jr_form")

    assert _as_written(read) == _as_written(typed)
    assert platform_url(read) == platform_url(typed)
    assert _extra_options(read) == _extra_options(typed)


@pytest.mark.parametrize(
    ("uri", "url", "options"),
    [
        # What `get_uri` writes for the README's Address forms (the Test button's URIs):
        (
            "jobrelay://emulator/acc?queue=default&host=http://127.0.0.1%3A5000/wandb",
            "wandb://emulator/acc?queue=default&host=http://127.0.0.1:5000",
            {},
        ),
        (
            "jobrelay://?host=http://127.0.0.1%3A5001/anyscale",
            "anyscale://?host=http://127.0.0.1:5001",
            {},
        ),
        (
            "jobrelay://?base_url=http://127.0.0.1%3A5002/fused",
            "fused://?base_url=http://127.0.0.1:5002",
            {},
        ),
        # URIs as a user writes them, which Airflow itself reads right: left as it reads them.
        (
            "jobrelay:///anyscale?host=http://127.0.0.1:5001",
            "anyscale://",
            {"host": "http://127.0.0.1:5001"},
        ),
        (
            "jobrelay:///fused?base_url=http%3A%2F%2F127.0.0.1%3A5002",
            "fused://",
            {"base_url": "http://127.0.0.1:5002"},
        ),
        ("jobrelay://ray://127.0.0.1%3A8265", "ray://127.0.0.1:8265", {}),
        ("jobrelay://127.0.0.1:8265/ray", "ray://127.0.0.1:8265", {}),
    ],
)
def test_an_airflow_conn_uri_names_the_platform_it_was_written_for(
    uri: str, url: str, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_JR_URI", uri)

    conn = JobRelayHook.get_connection("jr_uri")

    assert platform_url(conn) == url
    assert _extra_options(conn) == options


def test_a_password_inside_a_misread_uri_stays_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Airflow's parser reads everything after the '?' of such a URI as the Extra: the token
    # would become part of an option's value (and be shown with it).
    typed = Connection(
        conn_id="jr_secret",
        conn_type="jobrelay",
        schema="wandb",
        host="emulator/acc?queue=default&host=http://127.0.0.1:5000",
        password="tok:en@/?x",
    )
    monkeypatch.setenv("AIRFLOW_CONN_JR_SECRET", typed.get_uri())

    conn = JobRelayHook.get_connection("jr_secret")

    assert conn.password == "tok:en@/?x"
    assert "tok" not in (conn.extra or "")


def test_text_no_get_uri_writes_is_not_read_as_one() -> None:
    assert fields_from_uri("jobrelay://a?b=http://x:y:z") is None  # get_uri quotes a host
    assert fields_from_uri("no scheme here") is None

"""The name resolver that moved out of the Anyscale platform class into ``payloads``
(``next_lookup`` / ``looked_up``, issue 29), driven against a small organization answered
in memory: generated names resolve to the ids a user means, an id costs no request, and an
unknown name is an error on the option that named it. The platform's use of it against the
emulator is in ``test_platform.py``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay import ConfigError
from jobrelay.platforms.anyscale import names as lookups

PROPERTIES = settings(max_examples=60, deadline=None)

# The organization: two clouds, compute configs and projects by (name, cloud), defaults.
CLOUDS = {"alpha": "cld_a", "beta": "cld_b"}
DEFAULT_CLOUD = "cld_a"
COMPUTES = {("small", "cld_a"): "cpt_sa", ("small", "cld_b"): "cpt_sb", ("big", "cld_b"): "cpt_bb"}
DEFAULT_COMPUTE = {"cld_a": "cpt_da", "cld_b": "cpt_db"}
CLOUD_OF = {cpt: cloud for (_, cloud), cpt in COMPUTES.items()} | {
    cpt: cloud for cloud, cpt in DEFAULT_COMPUTE.items()
}
PROJECTS = {("web", "cld_a"): "prj_wa", ("web", "cld_b"): "prj_wb"}
DEFAULT_PROJECT = {"cld_a": "prj_da", "cld_b": "prj_db"}


def answer(lookup: lookups.Lookup) -> dict[str, Any]:
    """What the API answers ``lookup`` in this organization (paths and bodies as the
    official SDK sends them, ``reference/anyscale.md``)."""
    body, params = dict(lookup.body or {}), dict(lookup.params or {})
    match lookup.path:
        case "/api/v2/clouds/find_by_name":
            return {"result": {"id": CLOUDS[body["name"]]}}
        case "/ext/v0/clouds/default":
            return {"result": {"id": DEFAULT_CLOUD}}
        case "/api/v2/compute_templates/search":
            name, cloud = body["name"]["equals"], body.get("cloud_id")
            found = [cpt for (n, c), cpt in sorted(COMPUTES.items()) if n == name]
            found = [cpt for cpt in found if cloud is None or CLOUD_OF[cpt] == cloud]
            return {"results": [{"id": cpt} for cpt in found]}
        case "/ext/v0/cluster_computes/default":
            return {"result": {"id": DEFAULT_COMPUTE[params["cloud_id"]]}}
        case "/ext/v0/projects/default_project":
            return {"result": {"id": DEFAULT_PROJECT[params["parent_cloud_id"]]}}
        case "/ext/v0/projects/search":
            key = (body["name"]["equals"], body["parent_cloud_id"]["equals"])
            return {"results": [{"id": PROJECTS[key]}] if key in PROJECTS else []}
        case "/ext/v0/cluster_environment_builds/default":
            return {"result": {"id": "bld_default"}}
        case "/api/v2/builds/get_or_create_build_from_image_uri":
            return {"result": {"id": f"bld_of_{body['image_uri']}"}}
    assert lookup.path.startswith("/ext/v0/cluster_computes/"), lookup.path
    cpt = lookup.path.rsplit("/", 1)[1]
    return {"result": {"id": cpt, "config": {"cloud_id": CLOUD_OF[cpt]}}}


def resolve(names: lookups.Names) -> tuple[lookups.Resolved, list[lookups.Lookup]]:
    """Drive the resolver as the platform does, keeping the requests it made."""
    known: dict[str, str] = {}
    sent: list[lookups.Lookup] = []
    while isinstance(step := lookups.next_lookup(names, known), lookups.Lookup):
        sent.append(step)
        known[step.gives] = lookups.looked_up(step, answer(step))
    return step, sent


def compute_in(name: str, cloud: str | None) -> str | None:
    """The compute config a user means by ``name`` (in ``cloud``, else anywhere)."""
    return next(
        (cpt for (n, c), cpt in sorted(COMPUTES.items()) if n == name and cloud in (None, c)),
        None,
    )


names = st.builds(
    lookups.Names,
    cloud=st.sampled_from([None, "alpha", "beta", "cld_a", "cld_b"]),
    compute=st.sampled_from([None, "small", "big", "small:3", "cpt_sa", "cpt_bb"]),
    project=st.sampled_from([None, "web", "prj_given"]),
    image=st.sampled_from([None, "docker.io/org/img:1", "bld_given"]),
)


@PROPERTIES
@given(names)
def test_names_resolve_to_the_ids_a_user_means_each_asked_once(
    wanted: lookups.Names,
) -> None:
    cloud = CLOUDS.get(wanted.cloud or "", wanted.cloud)
    compute = wanted.compute
    if compute is not None and not compute.startswith("cpt_"):
        compute = compute_in(compute.partition(":")[0], cloud)
        if compute is None:  # the next test: an error on the option
            return
    if cloud is None:
        cloud = CLOUD_OF[compute] if compute is not None else DEFAULT_CLOUD
    compute = compute or DEFAULT_COMPUTE[cloud]
    project = wanted.project
    project = DEFAULT_PROJECT[cloud] if project is None else PROJECTS.get((project, cloud), project)
    image = wanted.image
    image = "bld_default" if image is None else image
    image = image if image.startswith("bld_") else f"bld_of_{image}"

    resolved, sent = resolve(wanted)

    assert resolved == lookups.Resolved(cloud, project, image, compute)
    gives = [lookup.gives for lookup in sent]
    assert len(gives) == len(set(gives))  # nothing asked twice
    given_ids = {
        key
        for key, prefix in (("compute", "cpt_"), ("project", "prj_"), ("image", "bld_"))
        if (getattr(wanted, key) or "").startswith(prefix)
    }
    assert not given_ids & set(gives)  # an id is not looked up
    if (wanted.cloud or "").startswith("cld_"):
        assert "cloud" not in gives


@PROPERTIES
@given(cloud=st.sampled_from([None, "alpha", "cld_a"]), project=st.sampled_from(["web", "nope"]))
def test_an_unknown_name_is_an_error_on_the_option_that_named_it(
    cloud: str | None, project: str
) -> None:
    # "big" exists only in cloud beta; in alpha (named or by id) it is unknown, anywhere
    # (no cloud named) it is found and the project is looked for in beta.
    wanted = lookups.Names(cloud=cloud, compute="big", project=project)
    if cloud is not None:
        with pytest.raises(ConfigError, match="no compute config named 'big'") as info:
            resolve(wanted)
        assert info.value.field == "compute_config"
    elif project == "nope":
        with pytest.raises(ConfigError, match="no project named 'nope'") as info:
            resolve(wanted)
        assert info.value.field == "project"
    else:
        assert resolve(wanted)[0].project_id == "prj_wb"


def test_an_answer_without_the_id_is_not_taken_for_a_user_error() -> None:
    # A changed API is a KeyError, never a ConfigError blaming the user's options.
    step = lookups.next_lookup(lookups.Names(), {})
    assert isinstance(step, lookups.Lookup)
    with pytest.raises(KeyError):
        lookups.looked_up(step, {"result": {}})

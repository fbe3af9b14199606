"""Anyscale names to ids, without I/O: which lookup a spec's cloud, project, compute config
and image need next (:func:`next_lookup`, in the SDK's order; a name that is already an id
costs none) and the id an answer gives (:func:`looked_up`). The platform sends the requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jobrelay.errors import ConfigError
from jobrelay.platforms.anyscale.payloads import compute_search_body

__all__ = ["Lookup", "Names", "Resolved", "looked_up", "next_lookup"]

DEFAULT_IMAGE = {"python_version": "py311", "ray_version": "2.59.0"}
# What an id looks like for each name: given one, no lookup is made.
_ID_PREFIXES = {"cloud": "cld_", "compute": "cpt_", "project": "prj_", "image": "bld_"}


@dataclass(frozen=True)
class Names:
    """What a job names (its config, else the settings): a name or id each, None for the
    organization's default."""

    cloud: str | None = None
    compute: str | None = None
    project: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class Resolved:
    """The ids a create needs."""

    cloud_id: str
    project_id: str
    build_id: str
    compute_config_id: str


@dataclass(frozen=True)
class Lookup:
    """One request of a name resolution: send it, then give its answer to :func:`looked_up`.

    ``gives`` is which id the answer tells (``cloud``, ``compute``, ``project``, ``image``)
    and ``at`` where in the answer; ``searched`` is the name a search looks for (its answer
    lists matches, and none is a ``ConfigError``), None when the answer is one object.
    """

    gives: str
    method: str
    path: str
    operation: str
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    searched: str | None = None
    at: tuple[str, ...] = ("result", "id")


def next_lookup(names: Names, known: Mapping[str, str]) -> Lookup | Resolved:
    """The next request that resolving ``names`` needs, given the ids ``known`` so far, or
    the ids once nothing is missing.

    The order is the official SDK's: the cloud (by name, or from a named compute config,
    or the default), the compute config (by ``name[:version]`` in that cloud, or the cloud's
    default), the project (by name in the cloud, or the cloud's default), the image's build
    (of an image URI, or the default). A name that is already an id costs no request.
    """
    ids = dict(known)
    for key, prefix in _ID_PREFIXES.items():
        given = getattr(names, key)
        if key not in ids and given is not None and given.startswith(prefix):
            ids[key] = given
    if "cloud" not in ids and names.cloud is not None:
        return Lookup(
            "cloud",
            "POST",
            "/api/v2/clouds/find_by_name",
            f"find Anyscale cloud {names.cloud!r}",
            body={"name": names.cloud},
        )
    if names.compute is not None:
        if "compute" not in ids:
            return Lookup(
                "compute",
                "POST",
                "/api/v2/compute_templates/search",
                f"find compute config {names.compute!r}",
                body=compute_search_body(names.compute, ids.get("cloud")),
                searched=names.compute,
            )
        if "cloud" not in ids:
            return Lookup(
                "cloud",
                "GET",
                f"/ext/v0/cluster_computes/{quote(ids['compute'])}",
                "get compute config",
                at=("result", "config", "cloud_id"),
            )
    else:
        if "cloud" not in ids:
            return Lookup("cloud", "GET", "/ext/v0/clouds/default", "default cloud")
        if "compute" not in ids:
            return Lookup(
                "compute",
                "GET",
                "/ext/v0/cluster_computes/default",
                "default compute config",
                params={"cloud_id": ids["cloud"]},
            )
    if "project" not in ids:
        if names.project is None:
            return Lookup(
                "project",
                "GET",
                "/ext/v0/projects/default_project",
                "default project",
                params={"parent_cloud_id": ids["cloud"]},
            )
        return Lookup(
            "project",
            "POST",
            "/ext/v0/projects/search",
            f"find Anyscale project {names.project!r}",
            body={"name": {"equals": names.project}, "parent_cloud_id": {"equals": ids["cloud"]}},
            searched=names.project,
        )
    if "image" not in ids:
        if names.image is None:
            return Lookup(
                "image",
                "GET",
                "/ext/v0/cluster_environment_builds/default",
                "default image",
                params=DEFAULT_IMAGE,
            )
        return Lookup(
            "image",
            "POST",
            "/api/v2/builds/get_or_create_build_from_image_uri",
            f"get build of image {names.image!r}",
            body={"image_uri": names.image},
        )
    return Resolved(ids["cloud"], ids["project"], ids["image"], ids["compute"])


_SEARCHED_FIELD = {"compute": "compute_config", "project": "project"}
_SEARCHED_WHAT = {"compute": "compute config", "project": "project"}


def looked_up(lookup: Lookup, answer: Mapping[str, Any]) -> str:
    """The id ``answer`` (the JSON of ``lookup``'s response) gives.

    A search with no match is a ``ConfigError`` on the option that named it; an answer
    without the id raises ``KeyError``/``TypeError`` (the API changed: not a user's error).
    """
    if lookup.searched is not None:
        found = answer.get("results")
        if not found:
            raise ConfigError(
                f"Anyscale has no {_SEARCHED_WHAT[lookup.gives]} named {lookup.searched!r}",
                field=_SEARCHED_FIELD[lookup.gives],
            )
        return str(found[0]["id"])
    value: Any = answer
    for key in lookup.at:
        value = value[key]
    return str(value)

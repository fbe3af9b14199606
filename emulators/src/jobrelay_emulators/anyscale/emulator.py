"""``AnyscaleEmulator``: the Anyscale control plane on a loopback port, over real HTTP.

The internal (``/api/v2``) and external (``/ext/v0``) API families as the official SDK
(``anyscale==0.26.112``) and jobrelay use them, with the fields the SDK requires
(``reference/sdk-measured.md``). Auth is the ``cli_token`` cookie; log chunks are served
under ``/chunks/`` to ``Authorization: Bearer <chunk token>`` only.

>>> with AnyscaleEmulator() as emu:                                    # doctest: +SKIP
...     url = f"anyscale://?host={emu.url}"     # credential=emu.token
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Unpack

from jobrelay_emulators.anyscale import state as st
from jobrelay_emulators.anyscale.catalog import Build, Catalog, ComputeConfig
from jobrelay_emulators.loopback import ID, Answer, LoopbackEmulator, LoopbackOptions, Route, route

__all__ = ["CHUNK_TOKEN", "DEFAULT_TOKEN", "AnyscaleEmulator"]

DEFAULT_TOKEN = "aph0_emulator"
CHUNK_TOKEN = "chunk-bearer-emulator"


class AnyscaleEmulator(LoopbackEmulator):
    """An Anyscale organization on ``127.0.0.1`` whose jobs run as local processes.

    ``token`` is the one CLI token it accepts. ``requests`` is the request log;
    ``add_fault`` scripts faults per operation (``create``, ``get_job``, ``list_jobs``,
    ``runs_search``, ``log_chunks``, ``chunk``, ``terminate``, ``*``).
    """

    thread_name = "anyscale-emulator"
    answer_headers = {"x-trace-id": "emulator"}
    default_token = DEFAULT_TOKEN

    def __init__(self, **options: Unpack[LoopbackOptions]) -> None:
        super().__init__(**options)
        self.world = st.World(self.workdir, self.processes)
        self.lock = self.world.lock
        self.catalog = Catalog(
            Build(st.BUILD_ID, st.CLUSTER_ENV_ID, "default", 1),
            ComputeConfig(st.COMPUTE_ID, "default", 1),
        )
        # Chunks are fetched from "another host" (localhost), as from object storage.
        self.chunk_base = f"http://localhost:{self.port}/chunks"

    def on_start(self) -> None:
        self.world.start()

    def on_stop(self) -> None:
        self.world.stop()

    def authorized(self, operation: str, headers: Mapping[str, str]) -> bool:
        if operation == "storage_put":
            return True  # a presigned URL: the signature is the auth
        if operation == "chunk":
            return headers.get("authorization") == f"Bearer {CHUNK_TOKEN}"
        return f"cli_token={self.token}" in (headers.get("cookie") or "")

    def error_body(self, status: int, message: str) -> Any:
        return _error(message)

    # -- test helpers ----------------------------------------------------------------------

    def create_queue(self, name: str, **spec: Any) -> st.JobQueue:
        """A job queue, as one made by an earlier job's ``job_queue_spec``."""
        return self.world.create_queue(name, **spec)

    def hold(self, queue: str, held: bool = True) -> None:
        """Start nothing from ``queue`` (its cluster never comes up) until released."""
        found = self.world.queue_named(queue)
        assert found is not None, queue
        found.held = held

    def force_state(self, job_id: str, state: str, *, error: str | None = None) -> None:
        """Script an outcome: the job is now in ``state`` (any string, e.g. ``BROKEN`` or one
        Anyscale may add later); its process, if any, is stopped and nothing moves it on."""
        with self.world.lock:
            job = self.world.jobs[job_id]
            job.scripted = True
            job.set_state(state, error)
            for run in job.runs:
                if run.process is not None and run.process.poll() is None:
                    self.processes.terminate(run.process)

    def jobs_tagged(self, key: str, value: str) -> list[st.Job]:
        with self.world.lock:
            return [j for j in self.world.jobs.values() if j.tags.get(key) == value]

    # -- the API ---------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        r, objects = route, _Objects(self)
        v2, ext, jobs, logs = "/api/v2", "/ext/v0", "/api/v2/decorated_ha_jobs", "/api/v2/logs"
        from_image = f"{v2}/builds/get_or_create_build_from_image_uri"
        presign = f"{v2}/clouds/{ID}/generate_cloud_data_bucket_presigned_url"
        return [
            r("GET", f"{v2}/userinfo/", "userinfo", objects.userinfo),
            r("POST", f"{v2}/compute_templates/search", "compute_search", objects.compute_search),
            r("GET", f"{v2}/compute_templates/{ID}", "compute_get", objects.compute),
            r("GET", f"{ext}/cluster_computes/default", "compute_default", objects.compute_ext),
            r("GET", f"{ext}/cluster_computes/{ID}", "compute_ext", objects.compute_ext),
            r("GET", f"{ext}/clouds/default", "cloud_default", objects.cloud),
            r("GET", f"{ext}/clouds/{ID}", "cloud_get", objects.cloud),
            r("POST", f"{v2}/clouds/find_by_name", "cloud_by_name", objects.cloud),
            r("GET", f"{ext}/projects/default_project", "project_default", objects.project),
            r("POST", f"{ext}/projects/search", "project_search", objects.project_search),
            r("GET", f"{v2}/projects/{ID}", "project_get", objects.project),
            r("GET", f"{v2}/workos/deployment_infra", "deployment_infra", objects.infra),
            r("POST", from_image, "build_from_image", objects.build_from_image),
            r("GET", f"{ext}/cluster_environment_builds/default", "build_default", objects.build),
            r("GET", f"{ext}/cluster_environment_builds/{ID}", "build_get", objects.build),
            r("GET", f"{ext}/cluster_environments/{ID}", "cluster_env", objects.cluster_env),
            r("POST", f"{jobs}/create", "create", objects.create),
            r("POST", f"{jobs}/job_runs/search", "runs_search", objects.runs),
            r("GET", f"{jobs}/", "list_jobs", objects.list_jobs),
            r("GET", f"{ext}/production_jobs/{ID}", "get_job", objects.get_job),
            r("POST", f"{ext}/production_jobs/{ID}/terminate", "terminate", objects.terminate),
            r("POST", f"{jobs}/{ID}/terminate", "terminate", objects.terminate),
            r("POST", f"{jobs}/{ID}/archive", "archive", objects.archive),
            r("DELETE", f"{jobs}/{ID}", "delete", objects.delete),
            r("GET", f"{logs}/job_logs_download_v2/{ID}", "log_chunks", objects.log_chunks),
            # A job with no run yet: the SDK asks for the chunks of run "" (see no_route).
            r("GET", f"{logs}/job_logs_download_v2/", "log_chunks_no_run", objects.no_route),
            r("GET", "/chunks/(?P<run>[^/]+)/(?P<index>[0-9]+)", "chunk", objects.chunk),
            r("GET", f"{v2}/tags/resource", "tags_list", objects.tags_list),
            r("PUT", f"{v2}/tags/resource", "tags_add", objects.tags_add),
            r("DELETE", f"{v2}/tags/resource", "tags_remove", objects.tags_remove),
            r("POST", presign, "presigned_url", objects.presigned_url),
            r("PUT", "/storage/(?P<name>[^/]+)", "storage_put", objects.storage_put),
        ]


def _error(message: str) -> dict[str, Any]:
    return {"error": {"detail": message, "message": message}}


def _one(value: Any) -> Answer:
    return Answer(body={"result": value})


def _q(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


_MINI_USER = {
    "id": st.USER_ID,
    "name": "Emulator User",
    "username": "emulator",
    "email": "emulator@example.com",
}
_T0 = "2026-01-01T00:00:00Z"
_SDK_STATES = {  # the public JobState names the SDK's state_filter maps back from
    "SUCCEEDED": ["SUCCESS"],
    "FAILED": ["BROKEN", "OUT_OF_RETRIES"],
}


def _cluster_env(build: Build) -> dict[str, Any]:
    """The cluster environment (application template) ``build`` is a revision of."""
    return {
        "id": build.cluster_env_id,
        "name": build.cluster_env_name,
        "organization_id": "org_emulator",
        "creator_id": st.USER_ID,
        "created_at": _T0,
        "last_modified_at": _T0,
    }


class _Objects:
    """Handlers; each runs under the world's lock and returns an answer."""

    def __init__(self, emulator: AnyscaleEmulator) -> None:
        self.e = emulator
        self.world = emulator.world

    def userinfo(self, **_: Any) -> Answer:
        return _one(
            {
                **_MINI_USER,
                "verified": True,
                "organization_permission_level": "owner",
                "organization_ids": ["org_emulator"],
                "organizations": [
                    {
                        "id": "org_emulator",
                        "name": "emulator",
                        "public_identifier": "emulator",
                        "is_general_platform_enabled": True,
                        "is_private_endpoints_enabled": False,
                        "is_usage_blocked": False,
                    }
                ],
                "ld_hash": "x",
                "ld_hash_fields": [],
                "pylon_hash": "x",
            }
        )

    def _compute(self, found: ComputeConfig, *, decorated: bool) -> dict[str, Any]:
        config: dict[str, Any] = {
            "cloud_id": st.CLOUD_ID,
            "head_node_type": {"name": "head", "instance_type": "m5.xlarge"},
            "worker_node_types": [],
            "deployment_configs": None,
        }
        wire: dict[str, Any] = {
            "id": found.id,
            "name": found.name,
            "creator_id": st.USER_ID,
            "organization_id": "org_emulator",
            "created_at": _T0,
            "last_modified_at": _T0,
            "version": found.version,
            "anonymous": False,
            "config": config,
        }
        if decorated:
            wire["creator"] = _MINI_USER
            config["cloud"] = {"id": st.CLOUD_ID, "name": "emulator", "provider": "AWS"}
        return wire

    def compute_search(self, body: dict[str, Any], **_: Any) -> Answer:
        name = (body.get("name") or {}).get("equals")
        version = body.get("version")
        found = (
            self.e.catalog.default_compute
            if name is None
            else self.e.catalog.find_compute(
                name, int(version) if isinstance(version, int) else -1, st.new_id
            )
        )
        return Answer(
            body={
                "results": [self._compute(found, decorated=True)],
                "metadata": {"total": 1, "next_paging_token": None},
            }
        )

    def _compute_by_id(self, id: str | None) -> ComputeConfig:
        if id is None:
            return self.e.catalog.default_compute
        return self.e.catalog.computes[id]

    def compute(self, id: str, **_: Any) -> Answer:
        return _one(self._compute(self._compute_by_id(id), decorated=True))

    def compute_ext(self, id: str | None = None, **_: Any) -> Answer:
        return _one(self._compute(self._compute_by_id(id), decorated=False))

    def cloud(self, **_: Any) -> Answer:
        return _one(
            {
                "id": st.CLOUD_ID,
                "name": "emulator",
                "provider": "AWS",
                "region": "us-west-2",
                "credentials": "arn:aws:iam::000000000000:role/emulator",
                "type": "PUBLIC",
                "creator_id": st.USER_ID,
                "created_at": _T0,
                "is_default": True,
                "customer_aggregated_logs_config_id": "calc_emulator",
            }
        )

    def _project(self) -> dict[str, Any]:
        return {
            "id": st.PROJECT_ID,
            "name": "default",
            "description": "",
            "created_at": _T0,
            "is_owner": True,
            "is_read_only": False,
            "directory_name": "default",
            "is_default": True,
            "cluster_config": "",
            "organization_id": "org_emulator",
        }

    def project(self, **_: Any) -> Answer:
        return _one(self._project())

    def infra(self, **_: Any) -> Answer:
        return _one({"deployment_infra": "aws"})

    def project_search(self, **_: Any) -> Answer:
        return Answer(
            body={"results": [self._project()], "metadata": {"total": 1, "next_paging_token": None}}
        )

    def _build(self, found: Build) -> dict[str, Any]:
        byod = found.docker_image_name is not None
        return {
            "id": found.id,
            "cluster_environment_id": found.cluster_env_id,
            "application_template_id": found.cluster_env_id,
            "application_template": _cluster_env(found),
            "revision": found.revision,
            "creator_id": st.USER_ID,
            "status": "succeeded",
            "created_at": _T0,
            "last_modified_at": _T0,
            "is_byod": byod,
            "docker_image_name": found.docker_image_name,
            # A build made from a named image has a containerfile (else it reads as BYOD).
            "containerfile": None if byod else "FROM anyscale/ray:2.59.0-py311\n",
            "creator": _MINI_USER,
        }

    def build_from_image(self, body: dict[str, Any], **_: Any) -> Answer:
        return _one(self._build(self.e.catalog.build_for_image(body.get("image_uri"), st.new_id)))

    def build(self, id: str | None = None, **_: Any) -> Answer:
        catalog = self.e.catalog
        return _one(self._build(catalog.default_build if id is None else catalog.builds[id]))

    def cluster_env(self, id: str, **_: Any) -> Answer:
        return _one(_cluster_env(self.e.catalog.cluster_env(id)))

    # -- jobs --------------------------------------------------------------------------------

    def _job(self, job_id: str) -> st.Job:
        return self.world.jobs[job_id]

    def _wire(self, job: st.Job) -> dict[str, Any]:
        return job.wire(self.e.url, position=self.world.position(job))

    def create(self, body: dict[str, Any], **_: Any) -> Answer:
        if not isinstance(body.get("config"), dict) or not body["config"].get("entrypoint"):
            raise ValueError("config.entrypoint is required")
        for name in ("build_id", "compute_config_id"):
            if not body["config"].get(name):
                raise ValueError(f"config.{name} is required")
        return _one(self._wire(self.world.create_job(body)))

    def get_job(self, id: str, **_: Any) -> Answer:
        return _one(self._wire(self._job(id)))

    def runs(self, body: dict[str, Any], **_: Any) -> Answer:
        found: dict[str, list[dict[str, Any]]] = {}
        for job_id in body.get("ha_job_ids") or []:
            job = self.world.jobs.get(job_id)
            if job is not None:
                runs = [run.wire() for run in job.runs]
                if body.get("run_name"):
                    runs = [run for run in runs if run["name"] == body["run_name"]]
                found[job_id] = runs[: int(body.get("max_runs_per_job") or 100)]
        return Answer(body={"results": found})

    def list_jobs(self, query: dict[str, list[str]], **_: Any) -> Answer:
        jobs = list(self.world.jobs.values())
        archive = _q(query, "archive_status") or "NOT_ARCHIVED"
        if archive == "NOT_ARCHIVED":
            jobs = [j for j in jobs if j.archived_at is None]
        elif archive == "ARCHIVED":
            jobs = [j for j in jobs if j.archived_at is not None]
        if (name := _q(query, "name")) is not None:
            jobs = [j for j in jobs if j.name == name]
        if (queue_id := _q(query, "job_queue_id")) is not None:
            jobs = [j for j in jobs if j.queue is not None and j.queue.id == queue_id]
        if states := query.get("state_filter"):
            jobs = [j for j in jobs if j.state in states]
        by_key: dict[str, set[str]] = {}
        for item in query.get("tag_filter") or []:
            key, _sep, value = item.partition(":")
            by_key.setdefault(key, set()).add(value)
        jobs = [j for j in jobs if all(j.tags.get(k) in v for k, v in by_key.items())]
        reverse = (_q(query, "sort_order") or "DESC") == "DESC"
        jobs.sort(key=lambda j: (j.created_at, j.id), reverse=reverse)
        count = int(_q(query, "count") or 50)
        start = int(_q(query, "paging_token") or 0)
        page = jobs[start : start + count]
        following = str(start + count) if start + count < len(jobs) else None
        return Answer(
            body={
                "results": [self._wire(j) for j in page],
                "metadata": {"total": len(jobs), "next_paging_token": following},
            }
        )

    def terminate(self, id: str, **_: Any) -> Answer:
        job = self._job(id)
        self.world.terminate(job)
        return _one(self._wire(job))

    def archive(self, id: str, **_: Any) -> Answer:
        job = self._job(id)
        if job.state not in ("SUCCESS", "TERMINATED", "OUT_OF_RETRIES", "BROKEN"):
            raise ValueError(f"job {id} is {job.state}; only a finished job can be archived")
        job.archived_at = job.archived_at or st.now()
        return Answer(204)

    def delete(self, id: str, **_: Any) -> Answer:
        job = self._job(id)
        if job.state not in st.TERMINAL:
            raise ValueError(f"job {id} is {job.state}; only a finished job can be deleted")
        del self.world.jobs[id]
        return Answer(204)

    def log_chunks(self, id: str, query: dict[str, list[str]], **_: Any) -> Answer:
        run = self.world.runs[id]
        size = max(1, min(1000, int(_q(query, "page_size") or 400)))
        start = int(_q(query, "next_page_token") or 0)
        count = run.visible_chunks()
        chunks = [
            {
                "cluster_id": f"ses_{run.job_id}",
                "chunk_name": f"job-driver-{i:05d}.log",
                "chunk_url": f"{self.e.chunk_base}/{run.id}/{i}",
                "size": len(run.chunks[i]),
                "file_name": "job-driver.log",
                "node_type": "head-node",
                "node_ip": "10.0.0.1",
                "instance_id": "i-emulator",
                "session_id": f"ses_{run.job_id}",
            }
            for i in range(start, min(count, start + size))
        ]
        following = str(start + size) if start + size < count else None
        return _one(
            {
                "log_chunks": chunks,
                "next_page_token": following,
                "previous_page_token": str(max(0, start - size)) if start else None,
                "bearer_token": CHUNK_TOKEN,
            }
        )

    def no_route(self, **_: Any) -> Answer:
        # The official SDK asks for the log chunks of run "" when a job has no run yet
        # (``_resolve_job_run_id`` returns ""), i.e. GET .../job_logs_download_v2/. The
        # service's route needs a run id, so the path matches no route: answered here as
        # its framework answers an unknown path (404 "Not Found"). Inferred, not measured.
        return Answer(404, _error("Not Found"))

    def _tagged(self, resource_type: Any, resource_id: Any) -> st.Job:
        if resource_type != "job":
            raise ValueError(f"resource_type {resource_type!r}: the emulator tags jobs only")
        job = self.world.jobs.get(str(resource_id))
        if job is None:
            raise KeyError(f"job {resource_id}")
        return job

    def tags_list(self, query: dict[str, list[str]], **_: Any) -> Answer:
        kind, resource = _q(query, "resource_type"), _q(query, "resource_id")
        job = self._tagged(kind, resource)
        return _one({"tags": self.e.catalog.tag_records("job", job.id, job.tags, job.created_at)})

    def tags_add(self, raw: bytes, **_: Any) -> Answer:
        body = json.loads(raw or b"{}")  # a PUT's body reaches a handler raw
        if not isinstance(body, dict):
            raise ValueError("the body must be an UpsertResourceTagsRequest")
        job = self._tagged(body.get("resource_type"), body.get("resource_id"))
        self.e.catalog.upsert_tags(job.id, job.tags, body.get("tags"), st.now())
        return _one({})

    def tags_remove(self, body: dict[str, Any], **_: Any) -> Answer:
        job = self._tagged(body.get("resource_type"), body.get("resource_id"))
        return _one({"deleted": self.e.catalog.delete_tags(job.id, job.tags, body.get("keys"))})

    def presigned_url(self, body: dict[str, Any], **_: Any) -> Answer:
        name = str(body["file_name"])
        if "/" in name or body.get("access_mode") != "WRITE":
            raise ValueError("file_name must be a bare name and access_mode WRITE")
        path = f"{body.get('file_type') or 'runtime_env_packages'}/{name}"
        stored = self.world.storage.get(name)
        return _one(
            {
                "url": f"http://localhost:{self.e.port}/storage/{name}",
                "url_scheme": "http",
                "file_exists": stored is not None,
                "file_uri": f"{st.BUCKET_URI}/{path}",
                "bucket_name": "emulator-bucket",
                "bucket_path": path,
                "file_size": len(stored) if stored is not None else None,
            }
        )

    def storage_put(self, name: str, raw: bytes, **_: Any) -> Answer:
        self.world.storage[name] = raw
        return Answer(200, {})

    def chunk(self, run: str, index: str, **_: Any) -> Answer:
        found = self.world.runs[run]
        if int(index) >= len(found.chunks):
            raise KeyError(f"chunk {index}")
        return Answer(raw=found.chunk_bytes(int(index)))

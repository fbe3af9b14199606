"""A local ``working_dir`` on Anyscale: zipped as the SDK zips it and uploaded once per
content through the cloud's presigned-URL flow (``reference/sdk-measured.md`` §1).

The zip holds the folder itself (its name included), leaves out ``.git``, ``__pycache__``,
``.venv`` and ``venv``, and is named ``pkg_<md5>.zip``. The PUT goes to the presigned URL
through a session that holds no CLI token.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import anyio

from jobrelay.errors import ConfigError
from jobrelay.http import HttpSession
from jobrelay.models import JobSpec
from jobrelay.platforms._bounded import Bounded
from jobrelay.platforms.anyscale import payloads
from jobrelay.platforms.ray.packaging import Package, package_dir

__all__ = ["SDK_EXCLUDES", "WorkingDirUploader", "pack"]

# What the SDK leaves out of a working_dir zip (besides .git and __pycache__, always left out).
UPLOADED_PACKAGES = 256  # working-dir packages remembered as uploaded per client
SDK_EXCLUDES = (".venv", "venv")


async def pack(spec: JobSpec) -> Package | None:
    """The zip of the spec's local ``working_dir`` (off the event loop), None without one."""
    local = payloads.local_working_dir(spec)
    if local is None:
        return None
    zipper = functools.partial(
        package_dir, local, excludes=SDK_EXCLUDES, gitignore=False, under_own_name=True
    )
    return await anyio.to_thread.run_sync(zipper)


def _upload_headers(uri: str) -> dict[str, str]:
    headers = {"Content-Type": "application/zip"}
    if uri.startswith(("azure", "abfss")):
        headers |= {
            "x-ms-blob-type": "BlockBlob",
            "x-ms-version": "2025-07-05",
            "x-ms-date": format_datetime(datetime.now(UTC), usegmt=True),
            "x-ms-blob-content-type": "application/zip",
        }
    return headers


class WorkingDirUploader:
    """Uploads working-dir zips; remembers per client which content is already up."""

    def __init__(self, api: HttpSession, storage: HttpSession) -> None:
        self._api = api
        self._storage = storage
        # package file name (its content's digest) -> its URI; a forgotten one is uploaded again
        self._uploaded: Bounded[str, str] = Bounded(UPLOADED_PACKAGES)

    async def upload(self, package: Package, cloud_id: str) -> str:
        """Upload once per content (skipped when the cloud has the file); returns its URI."""
        name = payloads.package_file_name(package.data)
        if name in self._uploaded:
            return self._uploaded[name]
        path = f"/api/v2/clouds/{quote(cloud_id, safe='')}/generate_cloud_data_bucket_presigned_url"
        body = {"file_type": "runtime_env_packages", "file_name": name, "access_mode": "WRITE"}
        answer: Any = await self._api.json(
            "POST",
            path,
            operation="get an upload URL for the working_dir",
            json=body,
            idempotent=True,
        )
        signed = answer["result"]
        uri = str(signed["file_uri"])
        if not signed.get("file_exists"):
            if signed.get("url_scheme", "http") != "http":
                raise ConfigError(
                    f"this cloud takes uploads through {signed.get('url_scheme')!r}, which "
                    "jobrelay does not speak; give working_dir as a remote URI instead",
                    field="working_dir",
                )
            await self._storage.request(
                "PUT",
                str(signed["url"]),
                content=package.data,
                headers=_upload_headers(uri),
                operation="upload the working_dir",
            )
        self._uploaded[name] = uri
        return uri

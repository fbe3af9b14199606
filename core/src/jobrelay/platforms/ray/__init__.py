"""The Ray platform: real Ray clusters through the dashboard's Jobs REST API.

``ray://host:port`` (http, port 8265 by default) or ``ray+https://host:port``. A bearer
token comes from ``open_platform(credential=...)``, else ``$JOBRELAY_RAY_TOKEN``, else Ray's own
``$RAY_AUTH_TOKEN``. No ray import: the client is async httpx, written from the protocol
facts in ``reference/ray.md``.

>>> async with AsyncClient("ray://127.0.0.1:8265") as client:    # doctest: +SKIP
...     await client.run(JobSpec(entrypoint="python train.py", working_dir="."))
"""

from jobrelay.platforms.ray.packaging import (
    MAX_PACKAGE_BYTES,
    Package,
    package_dir,
    package_module,
)
from jobrelay.platforms.ray.payloads import submission_id_for
from jobrelay.platforms.ray.platform import RayPlatform, open_platform
from jobrelay.platforms.ray.settings import TOKEN_ENV, RaySettings

__all__ = [
    "MAX_PACKAGE_BYTES",
    "TOKEN_ENV",
    "Package",
    "RayPlatform",
    "RaySettings",
    "open_platform",
    "package_dir",
    "package_module",
    "submission_id_for",
]

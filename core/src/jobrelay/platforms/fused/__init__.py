"""The Fused platform: batch jobs of a UDF through Fused's HTTP API.

``fused://`` talks to ``https://www.fused.io/server/v1``; ``fused://?base_url=http://127.0.0.1:PORT/server/v1``
to another server (the emulator, ``jobrelay emulator fused``). The token comes from
``credential=`` or ``$FUSED_AUTH_TOKEN`` and is sent as ``Authorization: <token_type> <token>``.
No fused import: the client is async httpx, written from ``reference/fused.md`` and the
requests the official SDK was measured to make.
"""

from jobrelay.platforms.fused.payloads import KEY_FIELD
from jobrelay.platforms.fused.platform import FusedPlatform, open_platform
from jobrelay.platforms.fused.settings import FusedSettings

__all__ = ["KEY_FIELD", "FusedPlatform", "FusedSettings", "open_platform"]

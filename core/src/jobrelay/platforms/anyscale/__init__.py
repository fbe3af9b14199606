"""The Anyscale platform: Anyscale Jobs (and job queues) through its HTTP API.

``anyscale://`` talks to ``https://console.anyscale.com``; ``anyscale://?host=http://127.0.0.1:PORT``
to another control plane (the emulator, ``jobrelay emulator anyscale``). The CLI token comes
from ``credential=`` or ``$ANYSCALE_CLI_TOKEN`` and is sent as the ``cli_token`` cookie. No
anyscale import: the client is async httpx, written from ``reference/anyscale.md`` and the
requests the official SDK was measured to make.
"""

from jobrelay.platforms.anyscale.payloads import KEY_TAG
from jobrelay.platforms.anyscale.platform import AnyscalePlatform, open_platform
from jobrelay.platforms.anyscale.settings import AnyscaleSettings

__all__ = ["KEY_TAG", "AnyscalePlatform", "AnyscaleSettings", "open_platform"]

"""The platform contract kit: run jobrelay's platform contract suite against your platform.

Subclass :class:`PlatformContract` in a test module and give it a ``contract_target``
fixture that opens your platform and yields a :class:`ContractTarget` (see
``docs/platforms/your-own.md``). Needs pytest and pytest-asyncio
(``pip install 'jobrelay-emulators[contract]'``).
"""

from .counting import CountingPlatform, SlowFailingStatus
from .processes import group_gone_within, group_members
from .suite import PlatformContract
from .target import ContractTarget, SpecBuilder, cancel_and_close, counted_client, shell_spec

__all__ = [
    "ContractTarget",
    "CountingPlatform",
    "PlatformContract",
    "SlowFailingStatus",
    "SpecBuilder",
    "cancel_and_close",
    "counted_client",
    "group_gone_within",
    "group_members",
    "shell_spec",
]

"""An offline W&B server for tests and demos: GraphQL over real HTTP, storage, launch agent.

>>> from jobrelay_emulators.wandb import WandbEmulator, Outcome
>>> with WandbEmulator() as emu:                                   # doctest: +SKIP
...     emu.create_queue("default")
...     emu.script(Outcome("failed", exitcode=1), queue="default")

Needs the ``emulators`` extra (``pip install 'jobrelay[emulators]'``).
"""

from jobrelay_emulators.wandb.agent import Outcome
from jobrelay_emulators.wandb.emulator import DEFAULT_API_KEY, WandbEmulator

__all__ = ["DEFAULT_API_KEY", "Outcome", "WandbEmulator"]

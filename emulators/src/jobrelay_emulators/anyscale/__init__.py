"""An offline Anyscale control plane for tests and demos (``jobrelay emulator anyscale``)."""

from jobrelay_emulators.anyscale.emulator import CHUNK_TOKEN, DEFAULT_TOKEN, AnyscaleEmulator

__all__ = ["CHUNK_TOKEN", "DEFAULT_TOKEN", "AnyscaleEmulator"]

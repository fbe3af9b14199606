"""An offline Anyscale control plane for tests and demos (``jobrelay emulator anyscale``)."""

from jobrelay.testing.anyscale.emulator import CHUNK_TOKEN, DEFAULT_TOKEN, AnyscaleEmulator
from jobrelay.testing.faults import Fault, RecordedRequest

__all__ = ["CHUNK_TOKEN", "DEFAULT_TOKEN", "AnyscaleEmulator", "Fault", "RecordedRequest"]

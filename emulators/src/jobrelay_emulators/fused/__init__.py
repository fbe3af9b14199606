"""An offline Fused batch-job server for tests and demos (``jobrelay emulator fused``)."""

from jobrelay_emulators.fused.emulator import DEFAULT_TOKEN, TOKEN_TYPE, FusedEmulator

__all__ = ["DEFAULT_TOKEN", "TOKEN_TYPE", "FusedEmulator"]

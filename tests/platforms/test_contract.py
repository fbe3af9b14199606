"""The platform contract (DESIGN §14): the same semantics on every platform.

The suite is the shipped kit, ``jobrelay_emulators.contract``: here it runs against each
built-in platform in ``conftest.TARGETS`` unchanged, as a third-party author runs it against
theirs (``docs/platforms/your-own.md``).
"""

from __future__ import annotations

import pytest
from jobrelay_emulators.contract import PlatformContract

pytestmark = pytest.mark.timeout(90)


class TestContract(PlatformContract):
    """Every kit test on every built-in target (``contract_target`` in conftest.py)."""

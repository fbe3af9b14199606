"""Run one ``JobTrigger`` to its event on a fresh event loop in asyncio debug mode.

``python -m tests.airflow.loop_probe '<job ref JSON>'`` prints ``{"event": ..., "slow": [...]}``:
``slow`` lists every callback that held the loop for more than 100 ms. The trigger class
is imported before the loop starts, as the triggerer does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from airflow_jobrelay.triggers import JobTrigger


class _Slow(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "took" in message and "seconds" in message:
            self.messages.append(message)


async def _run(ref: dict[str, Any]) -> dict[str, Any]:
    asyncio.get_running_loop().slow_callback_duration = 0.1
    event = await anext(JobTrigger(job=ref).run())
    return dict(event.payload)


if __name__ == "__main__":
    slow = _Slow()
    logging.getLogger("asyncio").addHandler(slow)
    payload = asyncio.run(_run(json.loads(sys.argv[1])), debug=True)
    print(json.dumps({"event": payload, "slow": slow.messages}), flush=True)

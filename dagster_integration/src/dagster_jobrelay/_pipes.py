"""``JobRelayPipesClient``: Dagster Pipes for a job on any jobrelay platform.

The Pipes context goes to the job through its environment (``DAGSTER_PIPES_CONTEXT``);
the job's ``dagster-pipes`` writes its messages as JSON lines on stdout
(``DAGSTER_PIPES_MESSAGES={"stdio": "stdout"}``); those lines come back through the
core's log cursor with the job's other lines, and are handed to Dagster's message handler
as they arrive, while every other line goes to the run's log. Nothing here depends on
the platform: a job on local, Ray, W&B, Anyscale or Fused reports the same way.

>>> @dg.asset(check_specs=[dg.AssetCheckSpec("rows_positive", asset="table")])  # doctest: +SKIP
... def table(context, pipes: JobRelayPipesClient):
...     return pipes.run(context=context, spec={"entrypoint": "python make_table.py"}
...                      ).get_materialize_result()
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    PipesClient,
    PipesClientCompletedInvocation,
    PipesEnvContextInjector,
    PipesMessageHandler,
    PipesMessageReader,
    open_pipes_session,
)
from dagster_pipes import PIPES_PROTOCOL_VERSION_FIELD, PipesExtras, PipesMessage, PipesParams
from jobrelay import ConfigError, JobSpec, LogLine, WaitLimits
from jobrelay.integration import spec_fields

from dagster_jobrelay._identity import Context
from dagster_jobrelay._resource import JobRelayResource, _with_identity, run_metadata, wait_limits

__all__ = ["JobLogMessageReader", "JobRelayPipesClient"]


class JobLogMessageReader(PipesMessageReader):
    """Reads Pipes messages out of a job's log lines: the job writes them on stdout."""

    def __init__(self) -> None:
        self._handler: PipesMessageHandler | None = None

    @contextlib.contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        self._handler = handler
        try:
            yield {"stdio": "stdout"}
        finally:
            self._handler = None

    def take(self, line: LogLine) -> bool:
        """Hand ``line`` to the session when it is a Pipes message; True if it was."""
        message = _message(line.text)
        if message is None or self._handler is None:
            return False
        self._handler.handle_message(message)
        return True

    @property
    def expected_writer_count(self) -> int:
        return 1  # one job writes (overridden: the base property warns as a preview)

    def no_messages_debug_text(self) -> str:
        return (
            "Expected Pipes messages on the job's stdout (its log). Is dagster-pipes installed "
            "in the job's environment, and does the job call open_dagster_pipes()?"
        )


class JobRelayPipesClient(ConfigurableResource["JobRelayPipesClient"], PipesClient):
    """A Pipes client that runs its external process as a jobrelay job.

    ``jobrelay`` says where (any platform); the job gets the Pipes context in its
    environment and reports with ``dagster_pipes.open_dagster_pipes()``. Reattach on a
    step retry, log streaming and termination forwarding are those of
    :meth:`JobRelayResource.run`.
    """

    jobrelay: JobRelayResource

    def run(  # type: ignore[override]
        self,
        *,
        context: Context,
        spec: JobSpec | Mapping[str, Any],
        extras: PipesExtras | None = None,
        inputs: Any = None,
        wait: WaitLimits | Mapping[str, Any] | None = None,
    ) -> PipesClientCompletedInvocation:
        """Run the job as a Pipes session; the invocation's results carry the run record
        as metadata next to what the job reported. ``wait`` holds the core's limits, as
        for :meth:`JobRelayResource.run`. (The job's log is always followed: the Pipes
        messages come through it.)"""
        # Checked before the session opens and the job is submitted.
        fields = spec_fields(spec)
        env = fields.get("env") or {}
        if not isinstance(env, Mapping):
            raise ConfigError(f"must map names to values, got {type(env).__name__}", field="env")
        _with_identity(fields, inputs, "check")  # the whole spec, before the session opens
        limits = wait_limits(wait)
        reader = JobLogMessageReader()
        # The op context: Dagster's session reads ``run_id``, deprecated on the asset one.
        session_context = (
            context.op_execution_context if isinstance(context, AssetExecutionContext) else context
        )
        with open_pipes_session(
            context=session_context,
            context_injector=PipesEnvContextInjector(),
            message_reader=reader,
            extras=extras,
        ) as session:
            fields["env"] = {**env, **session.get_bootstrap_env_vars()}
            result = self.jobrelay.submit_and_wait(
                context,
                fields,
                inputs=inputs,
                wait=limits,
                take_line=reader.take,
            )
        return PipesClientCompletedInvocation(session, metadata=run_metadata(result))


def _message(text: str) -> PipesMessage | None:
    if PIPES_PROTOCOL_VERSION_FIELD not in text or not text.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or PIPES_PROTOCOL_VERSION_FIELD not in parsed:
        return None
    message: PipesMessage = parsed  # type: ignore[assignment]
    return message

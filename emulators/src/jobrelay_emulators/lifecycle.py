"""The one server lifecycle every emulator has: a loopback port bound at construction (port 0
picks a free one, so :attr:`url` is known before :meth:`start`), serving in a background
thread, :meth:`stop` that ends the server, then what the emulator started, then its folder.

A server stack subclasses :class:`EmulatorServer` and says how it serves on the bound socket
(:meth:`_serve`, run in the thread) and how that serving is asked to end (:meth:`_shutdown`);
an emulator adds :meth:`on_start` / :meth:`on_stop` for what it runs besides the server. The
request log (:attr:`requests`) and the fault script (:attr:`faults`) live here too, so tests
drive every emulator the same way: ``add_fault(operation, kind, ...)``, ``calls(operation)``.
"""

from __future__ import annotations

import socket
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self, Unpack

from jobrelay_emulators.faults import HTTP_FAULT_KINDS, Fault, FaultKind, FaultOptions, Faults
from jobrelay_emulators.processes import ProcessGroups
from jobrelay_emulators.request_log import RecordedRequest, RequestLog
from jobrelay_emulators.serving import serve_until_signalled

__all__ = ["EmulatorServer"]


class EmulatorServer(ABC):
    """An emulator's server on ``host:port``. ``workdir`` (a temporary folder by default,
    removed by :meth:`stop`) is where the emulator keeps what its jobs need; processes its
    jobs start go through :attr:`processes`, so :meth:`stop` ends them first.

    An emulator starts once: after :meth:`stop` its port is free for a new one.
    """

    thread_name = "emulator"
    fault_kinds: frozenset[FaultKind] = HTTP_FAULT_KINDS
    stop_timeout_s = 15.0  # how long stop() waits for the server thread

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, workdir: Path | None = None
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.thread_name}-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.processes = ProcessGroups()
        self.requests = RequestLog()
        self.faults = Faults(self.fault_kinds)
        # Bound (and listening) now, so the URL is known to what the emulator builds before
        # it serves; SO_REUSEADDR (create_server's default) lets a new emulator take the port
        # at once after stop().
        self._sock = socket.create_server((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- what a server stack provides ------------------------------------------------------

    @abstractmethod
    def _serve(self) -> None:
        """Serve on the bound socket until :meth:`_shutdown`; runs in the server thread."""

    @abstractmethod
    def _shutdown(self) -> None:
        """Ask :meth:`_serve` to return (called from another thread)."""

    def _wait_ready(self) -> None:
        """Return once requests are answered (the socket already queues them)."""
        return

    # -- what an emulator may add ----------------------------------------------------------

    def on_start(self) -> None:
        """Start what the emulator runs besides the server (a job scheduler)."""
        return

    def on_stop(self) -> None:
        """Stop it again; called after the server stopped, before :attr:`processes` are."""
        return

    @property
    def owns_workdir(self) -> bool:
        """Whether :attr:`workdir` is the emulator's own temporary folder."""
        return self._tmp is not None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve in a background thread; returns once requests are answered. If it cannot,
        it stops again (the port is freed, the folder removed) before the error is raised."""
        if self._stopped or self._thread is not None:
            raise RuntimeError("an emulator starts once; make a new one to serve again")
        try:
            self.on_start()
            self._thread = threading.Thread(
                target=self._serve, name=f"{self.thread_name}-{self.port}", daemon=True
            )
            self._thread.start()
            self._wait_ready()
        except BaseException:
            # A with-block never reaches __exit__ when __enter__ raises: clean up here.
            self.stop()
            raise
        return self

    def serve_forever(self) -> None:
        """Serve until Ctrl-C or SIGTERM (the ``jobrelay emulator`` command), then :meth:`stop`."""
        if self._thread is None:
            self.start()
        serve_until_signalled(
            lambda: self._thread is not None and self._thread.is_alive(), self.stop
        )

    def stop(self) -> None:
        """Stop serving and free the port, stop what the emulator started and every process
        of its jobs (waiting until they are gone), then remove the temporary folder.
        Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._shutdown()
            self._thread.join(self.stop_timeout_s)
            self._thread = None
        self._sock.close()
        self.on_stop()
        self.processes.stop_all()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- test helpers ----------------------------------------------------------------------

    def add_fault(
        self, operation: str, kind: FaultKind = "status", **options: Unpack[FaultOptions]
    ) -> Fault:
        """Script a fault for the next ``times`` requests of ``operation`` (see
        :mod:`jobrelay_emulators.faults`)."""
        return self.faults.add(operation, kind, **options)

    def calls(self, operation: str) -> list[RecordedRequest]:
        """The requests of ``operation`` the emulator received, oldest first."""
        return self.requests.calls(operation)

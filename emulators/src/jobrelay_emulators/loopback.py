"""A stateful HTTP emulator on the standard library's HTTP server: routes, auth, and the
request log and faults of :mod:`jobrelay_emulators.lifecycle` applied to every request.

An emulator subclasses :class:`LoopbackEmulator`, lists its endpoints in :meth:`routes`
(method, path pattern, operation name, handler) and says in :meth:`authorized` which
requests it accepts. Every request is recorded (:class:`~jobrelay_emulators.request_log.RequestLog`)
before anything else, then checked against the fault script
(:class:`~jobrelay_emulators.faults.Faults`), then handled under :attr:`lock`. A handler gets
``query``, ``body`` (parsed JSON, ``{}`` for none), ``raw``, ``headers`` and the pattern's named
groups as keyword arguments and returns an :class:`Answer`; a ``KeyError`` it raises is a
404, a ``ValueError``/``TypeError`` a 400. Such an emulator accepts one :attr:`token` (its
class's ``default_token`` unless given): its constructor takes :class:`LoopbackOptions`.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self, TypedDict
from urllib.parse import parse_qs, urlsplit

from jobrelay_emulators.faults import Fault
from jobrelay_emulators.lifecycle import EmulatorServer
from jobrelay_emulators.request_log import RecordedRequest

__all__ = ["ID", "Answer", "LoopbackEmulator", "LoopbackOptions", "Route", "route"]

ID = "(?P<id>[^/]+)"  # a path segment a route passes to its handler as ``id``


@dataclass
class Answer:
    """What a handler answers: a JSON ``body``, or ``raw`` bytes of ``content_type``."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"


Route = tuple[str, re.Pattern[str], str, Callable[..., Answer]]


def route(method: str, path: str, operation: str, handler: Callable[..., Answer]) -> Route:
    """One endpoint: ``path`` is a regular expression matched against the whole path."""
    return (method, re.compile(path), operation, handler)


class LoopbackOptions(TypedDict, total=False):
    """What a stdlib-HTTP emulator is made with: the one ``token`` it accepts, and where it
    serves (``host``, ``port``; 0 picks a free one) and keeps its jobs' files (``workdir``)."""

    token: str
    host: str
    port: int
    workdir: Path | None


class LoopbackEmulator(EmulatorServer):
    """The server half of a stdlib-HTTP emulator (lifecycle, ``requests``, ``faults``,
    ``workdir`` and ``processes``: :class:`~jobrelay_emulators.lifecycle.EmulatorServer`).
    Handlers run under :attr:`lock`."""

    answer_headers: Mapping[str, str] = {}  # sent with every answer
    default_token: ClassVar[str] = ""  # the token accepted when none is given

    def __init__(
        self,
        *,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        workdir: Path | None = None,
    ) -> None:
        super().__init__(host=host, port=port, workdir=workdir)
        self.token = self.default_token if token is None else token
        self.lock: Any = threading.RLock()  # held while a handler runs
        # The server takes the socket the lifecycle bound (no bind of its own, and no
        # getfqdn lookup, which HTTPServer.server_bind would make).
        self._server = ThreadingHTTPServer(
            (host, self.port), self._handler_class(), bind_and_activate=False
        )
        self._server.socket.close()
        self._server.socket = self._sock
        self._server.server_address = self._sock.getsockname()
        self._server.server_name, self._server.server_port = host, self.port
        self._server.daemon_threads = True
        self._routes: list[Route] = []

    # -- what an emulator provides ---------------------------------------------------------

    @abstractmethod
    def routes(self) -> list[Route]:
        """The endpoints, tried in order."""

    @abstractmethod
    def authorized(self, operation: str, headers: Mapping[str, str]) -> bool:
        """Whether a request of ``operation`` with these (lower-cased) headers is let in."""

    def error_body(self, status: int, message: str) -> Any:
        """The JSON body of an error answer (the platform's own error shape)."""
        return {"detail": message}

    # -- serving (the lifecycle's two steps) -----------------------------------------------

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.1)

    def _shutdown(self) -> None:
        self._server.shutdown()

    def start(self) -> Self:
        self._routes = self.routes()
        return super().start()

    # -- HTTP ------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                emulator._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw and h.command != "PUT" else None
        except ValueError:
            body = None
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in h.headers.items()}
        found = next(
            (
                (op, m, fn)
                for method, pattern, op, fn in self._routes
                if method == h.command and (m := pattern.fullmatch(parts.path))
            ),
            None,
        )
        operation = found[0] if found else "unknown"
        self.requests.record(
            RecordedRequest(h.command, parts.path, query, headers, body, operation)
        )
        if found is None:
            self._send(h, Answer(404, self.error_body(404, "no such endpoint")))
            return
        if not self.authorized(operation, headers):
            self._send(h, Answer(401, self.error_body(401, "Unauthorized")))
            return
        fault = self.faults.take(operation)
        if fault is not None and fault.delay_before:
            time.sleep(fault.delay_before)
        if fault is not None and fault.before_handler:
            self._fault(h, fault)
            return
        try:
            with self.lock:
                answer = found[2](
                    query=query,
                    body={} if body is None else body,
                    raw=raw,
                    headers=headers,
                    **found[1].groupdict(),
                )
        except KeyError as exc:
            answer = Answer(404, self.error_body(404, f"not found: {exc}"))
        except (ValueError, TypeError) as exc:
            answer = Answer(400, self.error_body(400, f"bad request: {exc}"))
        if fault is not None and fault.after_handler:
            self._fault(h, fault)
            return
        if fault is not None and fault.delay_after:
            time.sleep(fault.delay_after)  # handled at once, answered late (a slow network)
        self._send(h, answer)

    def _fault(self, h: BaseHTTPRequestHandler, fault: Fault) -> None:
        if fault.kind == "drop":
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        body = self.error_body(fault.status, fault.message)
        self._send(h, Answer(fault.status, body, headers=fault.headers()))

    def _send(self, h: BaseHTTPRequestHandler, answer: Answer) -> None:
        if answer.raw is not None:
            data, kind = answer.raw, answer.content_type
        elif answer.body is None and answer.status == 204:
            data, kind = b"", "application/json"
        else:
            data, kind = json.dumps(answer.body).encode(), "application/json"
        h.send_response(answer.status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(data)))
        for name, value in {**self.answer_headers, **answer.headers}.items():
            h.send_header(name, value)
        h.end_headers()
        with contextlib.suppress(OSError):
            h.wfile.write(data)

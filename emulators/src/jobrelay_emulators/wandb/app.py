"""The emulator's HTTP surface (a Starlette app): ``POST /graphql`` with Basic auth, presigned
storage under ``/storage/``, run files under ``/files/`` (API URLs, auth required) and the
``file_stream`` endpoint that finishes a run from outside.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, execute, parse, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jobrelay_emulators.faults import Fault, Faults
from jobrelay_emulators.request_log import RecordedRequest, RequestLog
from jobrelay_emulators.wandb.file_stream import apply_file_stream
from jobrelay_emulators.wandb.mutations import MutationRoot
from jobrelay_emulators.wandb.resolvers import Context, QueryRoot
from jobrelay_emulators.wandb.state import EmulatorError
from jobrelay_emulators.wandb.storage import StorageRequest

__all__ = ["DroppedConnection", "FileStreamPost", "build_app"]

log = logging.getLogger("jobrelay_emulators.wandb")


class DroppedConnection(Exception):
    """Raised mid-response to make the server drop the connection (a scripted fault)."""


@dataclass(frozen=True)
class FileStreamPost:
    """One post to a run's file stream: the body's keys and those the emulator ignored."""

    run: str
    keys: tuple[str, ...]
    ignored: tuple[str, ...]


def _credentials_ok(request: Request, api_keys: set[str]) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, key = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return user == "api" and key in api_keys


def _unauthorized() -> JSONResponse:
    return JSONResponse({"errors": [{"message": "user is not logged in"}]}, status_code=401)


def _names(document: Any, operation_name: str | None) -> tuple[str, list[str]]:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next((o for o in ops if o.name and o.name.value == operation_name), None)
    op = chosen or (ops[0] if ops else None)
    if op is None:
        return "", []
    fields = [s.name.value for s in op.selection_set.selections if hasattr(s, "name")]
    return (op.name.value if op.name else ""), fields


def _fault_answer(fault: Fault) -> Response:
    if fault.kind == "drop":
        raise DroppedConnection(fault.operation)
    if fault.kind == "graphql_error":
        return JSONResponse({"data": None, "errors": [{"message": fault.message}]})
    return JSONResponse(
        {"errors": [{"message": fault.message}]}, status_code=fault.status, headers=fault.headers()
    )


async def _under_fault(fault: Fault | None, handle: Callable[[], Awaitable[Response]]) -> Response:
    """Answer a request as its scripted fault says (see :mod:`jobrelay_emulators.faults`);
    ``corrupt`` is the storage handler's own to play."""
    if fault is None:
        return await handle()
    await asyncio.sleep(fault.delay_before)
    if fault.before_handler or fault.kind == "graphql_error":
        return _fault_answer(fault)
    answer = await handle()
    if fault.after_handler:
        return _fault_answer(fault)
    await asyncio.sleep(fault.delay_after)
    return answer


def build_app(
    schema: GraphQLSchema,
    context: Context,
    faults: Faults,
    api_keys: set[str],
    requests: RequestLog,
    stream_log: list[FileStreamPost],
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    """The ASGI app over one emulated world."""
    storage = context.storage
    world = context.world

    async def graphql(request: Request) -> Response:
        if not _credentials_ok(request, api_keys):
            return _unauthorized()
        try:
            body = await request.json()
            document = parse(body["query"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"errors": [{"message": "malformed GraphQL request"}]}, 400)
        except GraphQLError as exc:
            return JSONResponse({"errors": [{"message": exc.message}]})
        operation, roots = _names(document, body.get("operationName") or None)
        variables = body.get("variables") or {}
        logged = RecordedRequest(
            request.method,
            request.url.path,
            {k: request.query_params.getlist(k) for k in request.query_params},
            {k.lower(): v for k, v in request.headers.items()},
            body,
            operation,
            root_fields=tuple(roots),
        )
        requests.record(logged)

        async def handle() -> Response:
            return _execute(document, operation, variables, body, logged)

        return await _under_fault(faults.take([operation, *roots]), handle)

    def _execute(
        document: Any,
        operation: str,
        variables: dict[str, Any],
        body: dict[str, Any],
        logged: RecordedRequest,
    ) -> Response:
        errors = validate(schema, document)
        if errors:
            # The server's own text first (the SDK branches on "Cannot query field ..."), then
            # the operation's name, so an operation the emulator does not model is plain to see.
            messages = [f"{e.message} (operation {operation or '<anonymous>'!r})" for e in errors]
            log.warning("GraphQL operation %r refused: %s", operation, "; ".join(messages))
            logged.errors.extend(messages)
            return JSONResponse({"errors": [{"message": m} for m in messages]})
        root: Any = MutationRoot(context) if "mutation" in _kind(document) else QueryRoot(context)
        result = execute(
            schema,
            document,
            root_value=root,
            context_value=context,
            variable_values=variables,
            operation_name=body.get("operationName") or None,
        )
        assert not asyncio.iscoroutine(result)
        payload: dict[str, Any] = {"data": result.data}  # type: ignore[union-attr]
        if result.errors:  # type: ignore[union-attr]
            payload["errors"] = [
                {"message": _message(e), "path": e.path}
                for e in result.errors  # type: ignore[union-attr]
            ]
            logged.errors.extend(e["message"] for e in payload["errors"])
        return JSONResponse(payload)

    async def storage_endpoint(request: Request) -> Response:
        path = request.path_params["path"]
        method = request.method
        had_credentials = "authorization" in request.headers or any(
            h.lower().startswith("x-wandb") for h in request.headers
        )
        storage.record(
            StorageRequest(method, path, had_credentials, tuple(request.headers.items()))
        )
        if had_credentials:
            return Response("storage must not receive W&B credentials", status_code=400)
        if not storage.valid(method, path, request.query_params.get("X-Sig")):
            return Response("SignatureDoesNotMatch", status_code=403)
        fault = faults.take(f"storage.{method}")

        async def handle() -> Response:
            if method == "PUT":
                return await _store(request, path)
            with world.lock:
                stored = world.blobs.get(path)
            if stored is None:
                return Response("NoSuchKey", status_code=404)
            data = stored
            if fault is not None and fault.kind == "corrupt":
                data = bytes([data[0] ^ 0xFF]) + data[1:] if data else b"corrupt"
            return _ranged(request, data)

        return await _under_fault(fault, handle)

    async def _store(request: Request, path: str) -> Response:
        data = await request.body()
        want = storage.expected_md5.get(path)
        got = base64.b64encode(hashlib.md5(data).digest()).decode()
        if want is not None and want != got:
            return Response("BadDigest: body does not match its MD5", status_code=400)
        with world.lock:
            world.blobs[path] = data
        return Response(status_code=200, headers={"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    async def run_file(request: Request) -> Response:
        if not _credentials_ok(request, api_keys):
            return _unauthorized()
        p = request.path_params
        run = world.run(p["entity"], p["project"], p["run"])
        if run is None or p["name"] not in run.files:
            return Response("not found", status_code=404)
        with world.lock:
            data = world.blobs.get(run.files[p["name"]].storage_path, b"")
        return _ranged(request, data)

    async def file_stream(request: Request) -> Response:
        if not _credentials_ok(request, api_keys):
            return _unauthorized()
        p = request.path_params
        run = world.run(p["entity"], p["project"], p["run"])
        if run is None:
            return JSONResponse({"error": "run not found"}, status_code=404)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "file_stream body is not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "file_stream body must be an object"}, status_code=400)
        ignored = apply_file_stream(world, run, body)
        stream_log.append(FileStreamPost(run.name, tuple(sorted(body)), tuple(ignored)))
        return JSONResponse({"exitcode": None, "limits": {}})

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/storage/{path:path}", storage_endpoint, methods=["GET", "HEAD", "PUT"]),
            Route("/files/{entity}/{project}/{run}/file_stream", file_stream, methods=["POST"]),
            Route("/files/{entity}/{project}/{run}/{name:path}", run_file, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _kind(document: Any) -> set[str]:
    return {
        d.operation.value for d in document.definitions if isinstance(d, OperationDefinitionNode)
    }


def _message(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, EmulatorError):
        return str(original)
    return error.message


def _ranged(request: Request, data: bytes) -> Response:
    """The blob, or the part a ``Range: bytes=a-b`` header asks for (206)."""
    header = request.headers.get("range", "")
    if not header.startswith("bytes="):
        return Response(data, media_type="application/octet-stream")
    first, _, last = header[6:].partition("-")
    try:
        start = int(first) if first else max(0, len(data) - int(last))
        end = int(last) if first and last else len(data) - 1
    except ValueError:
        return Response(data, media_type="application/octet-stream")
    if start >= len(data):
        return Response(b"", status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
    end = min(end, len(data) - 1)
    return Response(
        data[start : end + 1],
        status_code=206,
        media_type="application/octet-stream",
        headers={"Content-Range": f"bytes {start}-{end}/{len(data)}"},
    )

"""W&B over HTTP: ``POST {base}/graphql`` with Basic ``api:<key>``, and credential-free storage.

Two sessions with the project's one HTTP policy (``jobrelay.http``): the API session carries
the key, bound to the base URL's host; the storage session carries nothing, so presigned
upload and download URLs never see W&B credentials. A response with ``errors`` (HTTP 200) is
a typed error whose message holds the server's text and the operation name; it is never
retried, as the reference says.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from jobrelay.errors import APIError, AuthError, ConflictError, NotFoundError
from jobrelay.http import HostBoundAuth, HttpSession, RetryPolicy, redact
from jobrelay.platforms.wandb.settings import WandbTarget

__all__ = ["WandbTransport", "graphql_error"]

_NOT_FOUND = re.compile(r"not found|does not exist|could not find|no such", re.I)
_AUTH = re.compile(r"permission|not authori[sz]ed|unauthori[sz]ed|not logged in|forbidden", re.I)
_CONFLICT = re.compile(r"already exists|conflict", re.I)


def graphql_error(
    operation: str,
    errors: list[Any],
    body: str,
    secrets: Iterable[SecretStr | str | None] = (),
) -> APIError:
    """The typed error for a GraphQL ``errors`` list: NotFound, Auth, Conflict or APIError.
    The server's messages quote what was sent (a queue's name...): ``secrets`` are masked."""
    messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
    text = redact("; ".join(messages) or "unknown error", secrets)
    message = f"W&B {operation} failed: {text}"
    kind: type[APIError] = APIError
    if _NOT_FOUND.search(text):
        kind = NotFoundError
    elif _AUTH.search(text):
        kind = AuthError
    elif _CONFLICT.search(text):
        kind = ConflictError
    return kind(message, status_code=200, body=body[:4000], operation=operation)


class WandbTransport:
    """Sends GraphQL documents and storage requests for one W&B server and key."""

    def __init__(
        self,
        settings: WandbTarget,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        secrets = (settings.api_key, settings.authorization)
        self._secrets = secrets
        http = settings.http
        policy = retry or http.retry_policy()

        def session(
            base_url: str, auth: httpx.Auth | None = None, headers: Mapping[str, str] | None = None
        ) -> HttpSession:
            return HttpSession(
                base_url,
                auth=auth,
                headers=headers,
                timeout=http.http_timeout(),
                retry=policy,
                transport=transport,
                verify=http.verify,
                secrets=secrets,
            )

        self.api = session(
            settings.base_url,
            auth=HostBoundAuth(settings.host, settings.authorization),
            headers={"Content-Type": "application/json"},
        )
        # The same HTTP options, but no key: presigned URLs carry their own signature.
        self.storage = session("")

    async def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation: str,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Run one document; return ``data``. Raises a typed ``APIError`` for ``errors``.

        ``idempotent`` lets transient failures (connection errors, 408, 429, 5xx) be retried;
        queries always are, a mutation only when repeating it cannot do harm.
        """
        response = await self.api.request(
            "POST",
            "/graphql",
            operation=f"W&B {operation}",
            idempotent=idempotent,
            json={
                "query": document,
                "variables": dict(variables or {}),
                "operationName": operation,
            },
        )
        try:
            payload = response.json()
        except ValueError:
            raise APIError(
                f"W&B {operation} answered with a body that is not JSON",
                status_code=response.status_code,
                body=redact(response.text[:500], self._secrets),
                operation=operation,
            ) from None
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            body = redact(response.text, self._secrets)
            raise graphql_error(operation, errors, body, self._secrets)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise APIError(f"W&B {operation} returned no data", operation=operation)
        return data

    async def download(self, url: str, *, start: int = 0) -> httpx.Response:
        """GET a presigned storage URL (no credentials), from byte ``start`` when > 0."""
        headers = {"Range": f"bytes={start}-"} if start else {}
        return await self.storage.request(
            "GET", url, operation="W&B storage download", headers=headers, ok=(416,)
        )

    async def stream(self, url: str) -> AsyncIterator[bytes]:
        """The bytes at a presigned URL, in chunks (memory stays flat); no retries mid-stream."""
        async with self.storage.client.stream("GET", url) as response:
            if not response.is_success:
                await response.aread()
                from jobrelay.http import error_for_response

                raise error_for_response(response, "W&B storage download", self._secrets)
            async for chunk in response.aiter_bytes(1 << 20):
                yield chunk

    async def upload(self, url: str, content: bytes, headers: list[str] | None) -> None:
        """PUT bytes to a presigned upload URL with the ``"Key: Value"`` headers W&B gave."""
        parsed: dict[str, str] = {}
        for header in headers or []:
            key, _, value = header.partition(":")
            if key.strip():
                parsed[key.strip()] = value.strip()
        await self.storage.request(
            "PUT", url, operation="W&B storage upload", content=content, headers=parsed
        )

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.storage.aclose()

"""The emulator's object storage: presigned upload and download URLs over blobs.

Like a cloud bucket, storage knows nothing of W&B credentials: a request that carries an
``Authorization`` header (or any W&B auth) is recorded as a leak and refused, so a test can
assert that no credential ever reached storage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["StorageRequest", "StorageSigner"]


@dataclass(frozen=True)
class StorageRequest:
    """One request storage saw: method, blob path and whether it carried credentials."""

    method: str
    path: str
    had_credentials: bool
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class StorageSigner:
    """Signs and checks presigned URLs; remembers every storage request."""

    base_url: str = ""
    key: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    expected_md5: dict[str, str] = field(default_factory=dict)
    requests: list[StorageRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _sig(self, method: str, path: str) -> str:
        mac = hmac.new(self.key, f"{method} {path}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()

    def url(self, method: str, path: str) -> str:
        return f"{self.base_url}/storage/{quote(path)}?X-Sig={self._sig(method, path)}"

    def download_url(self, path: str) -> str:
        return self.url("GET", path)

    def upload_url(self, path: str) -> str:
        return self.url("PUT", path)

    def valid(self, method: str, path: str, signature: str | None) -> bool:
        want = self._sig("GET" if method == "HEAD" else method, path)
        return signature is not None and hmac.compare_digest(want, signature)

    def record(self, request: StorageRequest) -> None:
        with self.lock:
            self.requests.append(request)

    @property
    def leaks(self) -> list[StorageRequest]:
        """Storage requests that carried W&B credentials (should always be empty)."""
        with self.lock:
            return [r for r in self.requests if r.had_credentials]

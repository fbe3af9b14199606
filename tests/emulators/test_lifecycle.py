"""The three emulators share one lifecycle, one request log and one fault injector: each is
started on port 0, answers a scripted fault, logs the call, frees its port on stop, and a
new emulator serves on that port at once. Real servers over real HTTP on loopback."""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from jobrelay_emulators import (
    AnyscaleEmulator,
    EmulatorServer,
    FusedEmulator,
    RecordedRequest,
    WandbEmulator,
)
from jobrelay_emulators.anyscale import DEFAULT_TOKEN as ANYSCALE_TOKEN
from jobrelay_emulators.fused import DEFAULT_TOKEN as FUSED_TOKEN
from jobrelay_emulators.fused import TOKEN_TYPE
from jobrelay_emulators.wandb import DEFAULT_API_KEY


@dataclass(frozen=True)
class Kind:
    """How to make one emulator and send it one authorized request of ``operation``."""

    make: Callable[[int], EmulatorServer]
    operation: str
    send: Callable[[EmulatorServer], httpx.Response]


def _anyscale(emulator: EmulatorServer) -> httpx.Response:
    cookie = {"Cookie": f"cli_token={ANYSCALE_TOKEN}"}
    return httpx.get(f"{emulator.url}/api/v2/userinfo/", headers=cookie, timeout=10)


def _fused(emulator: EmulatorServer) -> httpx.Response:
    bearer = {"Authorization": f"{TOKEN_TYPE} {FUSED_TOKEN}"}
    return httpx.get(f"{emulator.url}/server/v1/job/self", headers=bearer, timeout=10)


def _wandb(emulator: EmulatorServer) -> httpx.Response:
    basic = base64.b64encode(f"api:{DEFAULT_API_KEY}".encode()).decode()
    return httpx.post(
        f"{emulator.url}/graphql",
        json={"query": "query Viewer { viewer { id } }"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )


KINDS = {
    "anyscale": Kind(lambda port: AnyscaleEmulator(port=port), "userinfo", _anyscale),
    "fused": Kind(lambda port: FusedEmulator(port=port), "list", _fused),
    "wandb": Kind(lambda port: WandbEmulator(port=port, agent=False), "Viewer", _wandb),
}


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("name", sorted(KINDS))
def test_an_emulator_answers_a_fault_logs_the_call_and_frees_its_port(name: str) -> None:
    kind = KINDS[name]
    with kind.make(0) as emulator:
        assert emulator.port != 0
        assert emulator.url == f"http://127.0.0.1:{emulator.port}"
        fault = emulator.add_fault(kind.operation, status=429, retry_after=2)
        refused, served = kind.send(emulator), kind.send(emulator)
        calls = emulator.calls(kind.operation)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "2")
    assert served.status_code == 200
    assert fault.hits == 1  # it hits once by default
    assert len(calls) == 2
    assert all(isinstance(c, RecordedRequest) for c in calls)
    assert calls[0].operation == kind.operation
    assert calls[0].headers
    port = emulator.port
    assert _port_is_free(port)

    with kind.make(port) as again:  # the freed port serves a new emulator at once
        assert kind.send(again).status_code == 200
        assert [c.operation for c in again.requests] == [kind.operation]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_stopped_emulator_does_not_start_again_and_stops_twice_harmlessly(name: str) -> None:
    emulator = KINDS[name].make(0).start()
    emulator.stop()
    emulator.stop()
    with pytest.raises(RuntimeError, match="starts once"):
        emulator.start()


def test_a_fault_an_emulator_cannot_play_is_refused_when_scripted() -> None:
    anyscale = AnyscaleEmulator()
    try:
        with pytest.raises(ValueError, match="cannot play a 'graphql_error' fault"):
            anyscale.add_fault("create", "graphql_error")
        assert len(anyscale.faults) == 0
    finally:
        anyscale.stop()


def test_wandb_plays_the_shared_after_fault_the_request_is_handled_then_refused() -> None:
    with WandbEmulator(agent=False) as emulator:
        emulator.add_fault("Viewer", "after", status=502)
        assert _wandb(emulator).status_code == 502
        assert _wandb(emulator).json()["data"]["viewer"]["id"]
        assert len(emulator.calls("Viewer")) == 2


class _NeverReady(EmulatorServer):
    """A server stack whose start fails, as the W&B emulator's does when its app cannot start."""

    def _serve(self) -> None:
        return

    def _shutdown(self) -> None:
        return

    def _wait_ready(self) -> None:
        raise RuntimeError("did not start")


def test_a_failed_start_frees_the_port_and_removes_the_folder() -> None:
    server = _NeverReady()
    with pytest.raises(RuntimeError, match="did not start"), server:
        pass
    assert _port_is_free(server.port)
    assert not server.workdir.exists()

"""Pytest fixtures for the Siigo sandbox and client (imported by tests/conftest.py).

- ``sandbox``: a fresh :class:`SandboxServer` on 127.0.0.1 (random port, 120 customers).
- ``siigo_clock``: a :class:`FakeClock`; its ``sleep`` records waits and returns at once.
- ``siigo_client``: a :class:`SiigoClient` for ``sandbox`` with tiny backoff, no pacing
  and the fake clock.
- ``make_siigo_client``: factory for clients with other settings (same defaults).
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from core.siigo.client import SiigoClient
from core.siigo.sandbox import SandboxServer

__all__ = [
    "FakeClock",
    "SANDBOX_PARTNER_ID",
    "sandbox",
    "siigo_clock",
    "siigo_client",
    "make_siigo_client",
]

SANDBOX_PARTNER_ID = "AliadosTests"


class FakeClock:
    """Monotonic clock that only moves when ``sleep`` (or ``advance``) is called."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sandbox():
    server = SandboxServer(n_customers=120, seed=7)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def siigo_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_siigo_client(sandbox, siigo_clock) -> Callable[..., SiigoClient]:
    clients: list[SiigoClient] = []

    def factory(**overrides: Any) -> SiigoClient:
        settings: dict[str, Any] = {
            "base_url": sandbox.base_url,
            "username": sandbox.username,
            "access_key": sandbox.access_key,
            "partner_id": SANDBOX_PARTNER_ID,
            "connect_timeout": 2.0,
            "read_timeout": 10.0,
            "backoff_base": 0.01,
            "requests_per_minute": 0,
            "sleep": siigo_clock.sleep,
            "clock": siigo_clock.monotonic,
        }
        settings.update(overrides)
        client = SiigoClient(**settings)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.session.close()


@pytest.fixture
def siigo_client(make_siigo_client) -> SiigoClient:
    return make_siigo_client()

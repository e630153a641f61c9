"""Fixtures: one real simulator (uvicorn on loopback) for the session, reset before each test.

Session scope keeps the suite fast (one server start); the autouse reset gives every test a
clean simulator anyway, so tests cannot leak keys, faults or counters into each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from tests.walmart_sim import SimulatorControl, SimulatorServer
from tests.walmart_sim.testkit import CHANNEL_TYPE, CLIENT_ID, CLIENT_SECRET, CONSUMER_ID


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture(scope="session")
def control(simulator: SimulatorServer) -> Iterator[SimulatorControl]:
    with SimulatorControl(simulator.base_url) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_simulator(control: SimulatorControl) -> None:
    control.reset()


@pytest.fixture
async def client(simulator: SimulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.base_url, timeout=10.0) as http:
        yield http


@pytest.fixture(scope="session")
def rsa_key() -> RSAPrivateKey:
    # 1024 bits is what Walmart issues in practice (reference 1.4) and is quick to generate.
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


@pytest.fixture(scope="session")
def other_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def oauth_client(control: SimulatorControl) -> str:
    control.add_oauth_client(CLIENT_ID, CLIENT_SECRET)
    return CLIENT_ID


@pytest.fixture
def consumer(control: SimulatorControl, rsa_key: RSAPrivateKey) -> str:
    control.add_consumer(CONSUMER_ID, rsa_key, channel_type=CHANNEL_TYPE)
    return CONSUMER_ID

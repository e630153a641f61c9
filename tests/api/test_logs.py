"""Structured logs: one JSON line per request and per background job, never a secret."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from app.ops.logging import JsonFormatter
from app.state import AppState
from tests.api.walmart_setup import signature_credential
from tests.walmart_sim import SimulatorControl


def json_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == logger]


async def test_one_json_line_per_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vault")
    response = await client.get("/v1/credentials", headers={"X-Request-ID": "trace-42"})
    await client.get("/nope")
    lines = json_lines(caplog, "vault.request")
    assert len(lines) == 2
    first = lines[0]
    assert first["request_id"] == "trace-42" == response.headers["x-request-id"]
    assert first["route"] == "/v1/credentials"
    assert first["method"] == "GET"
    assert first["status"] == 200
    assert first["client_id"]
    assert isinstance(first["duration_ms"], float)
    assert lines[1]["route"] == "unmatched"
    assert lines[1]["status"] == 404


async def test_background_jobs_log_a_line(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart_control: SimulatorControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="vault")
    credential = await signature_credential(client, walmart_control)
    await client.post(f"/v1/credentials/{credential['id']}/test")
    await vault_state.drift.run_once()
    (line,) = json_lines(caplog, "vault.jobs.drift")
    assert line["job"] == "drift"
    assert line["tested"] == 1
    assert line["outcomes"] == {"valid": 1}


def test_log_level_comes_from_settings() -> None:
    from app.ops.logging import configure_logging

    configure_logging("WARNING")
    assert logging.getLogger("vault").level == logging.WARNING
    configure_logging("INFO")
    assert logging.getLogger("vault").level == logging.INFO


@pytest.mark.parametrize(
    ("last_lines", "raised"),
    [
        (
            "sqlalchemy.exc.OperationalError: postgresql://vault:hunter2-password@db/vault\n",
            "OperationalError",
        ),
        (
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings\n"
            "hunter2_field\n  Value error, hunter2-password [type=value_error]\n",
            "ValidationError",
        ),
        ("KeyError\n", "KeyError"),
    ],
    ids=["one-line", "multi-line-message", "no-message"],
)
def test_a_traceback_logged_as_text_keeps_only_its_exception_type(
    last_lines: str, raised: str
) -> None:
    # What uvicorn logs when an app's start-up fails: Starlette's formatted traceback.
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/db.py", line 9, in connect\n'
        "    raise sqlalchemy.exc.OperationalError(url)\n"
        "    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n" + last_lines
    )
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, trace, None, None)
    line = JsonFormatter().format(record)
    assert "hunter2" not in line
    assert "/srv/app" not in line
    assert json.loads(line) | {"at": None} == {
        "at": None,
        "level": "error",
        "logger": "uvicorn.error",
        "message": "traceback left out",
        "exception": raised,
    }

"""The benchmark's own logic, without processes: wrk parsing, Lua, ratios, profile summary,
and the ceiling's signature (verifiable with the vault's own verifier)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.crypto.signing import verify_request_signature
from tests.bench import ceiling, profiling, report, services, wrk
from tests.replicas import ROOT

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:1/x
  2 threads and 32 connections
BENCH_JSON {"requests":3000,"duration_us":3000000,"p50_us":9500,"p90_us":15000,\
"p99_us":24000,"max_us":40000,"status_errors":2,"socket_errors":1,"timeouts":0}
"""


def _result(name: str, rps: float) -> wrk.Result:
    return wrk.Result(name, int(rps * 10), 10.0, 1.0, 2.0, 3.0, 4.0, 0, 0, 0)


def test_parse_reads_the_done_hook_line() -> None:
    result = wrk.parse("sig2048", WRK_OUTPUT)
    assert result.rps == pytest.approx(1000)
    assert (result.p50_ms, result.p99_ms, result.max_ms) == (9.5, 24.0, 40.0)
    assert result.errors == 3


def test_parse_without_the_line_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="BENCH_JSON"):
        wrk.parse("sig2048", "Running 3s test\n")


def test_lua_quotes_values_that_contain_brackets() -> None:
    target = wrk.Target("t", "http://h/p", {"url": "a]]b"}, {"Authorization": "Bearer x]"})
    script = wrk.lua_script(target)
    assert "wrk.body = [=[" in script
    assert "wrk.headers[ [[Authorization]] ] = [=[Bearer x]]=]" in script
    assert "request = function" not in script


def test_random_id_targets_get_a_request_function() -> None:
    target = wrk.Target("r", "http://h", {}, ids_file=Path("ids.txt"))
    assert "request = function" in wrk.lua_script(target)


def test_ratios_and_checks_use_medians_of_rounds() -> None:
    rounds = [
        {"sig2048": _result("sig2048", v), "transit": _result("transit", 100.0)}
        for v in (150.0, 250.0, 300.0)
    ]
    assert report.ratios(rounds[0]) == {"sig2048/transit": pytest.approx(1.5)}
    out = report.Report(echo=lambda _line: None)
    report.rounds_summary(out, rounds, concurrency=32)
    check = next(c for c in out.checks if c.name == "throughput sig2048/transit")
    assert check.passed
    assert check.measured.startswith("2.50")


def test_profile_summary_attributes_samples_to_vault_functions() -> None:
    auth = f"dependency ({ROOT}/app/clients/auth.py:9)"
    collapsed = (
        f"main (x.py:1);{auth};execute (/v/site-packages/asyncpg/c.py:3) 3\n"
        f"main (x.py:1);sign_request ({ROOT}/app/crypto/signing.py:35) 1\n"
    )
    lines = profiling.summarise(collapsed, seconds=1.0)
    assert any("75.0%" in line and "asyncpg" in line for line in lines)
    assert "   75.0%  dependency (app/clients/auth.py)" in lines
    assert any("25.0%" in line and "RSA sign" in line for line in lines)


async def test_ceiling_signs_the_canonical_string() -> None:
    url = "https://marketplace.walmartapis.com/v3/ca/feeds?limit=10"
    transport = httpx.ASGITransport(app=ceiling.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
        answer = (await http.post("/sign", json={"method": "get", "url": url})).json()
    assert verify_request_signature(
        ceiling.KEY.public_key(),
        answer["signature"],
        consumer_id=ceiling.CONSUMER_ID,
        url=url,
        method="GET",
        timestamp_ms=answer["timestamp"],
    )


def test_answers_are_read_from_the_vault_metrics() -> None:
    route = "/v1/credentials/{credential_id}/headers"
    metrics = (
        "# TYPE vault_http_requests_total counter\n"
        f'vault_http_requests_total{{method="POST",route="{route}",status="200"}} 7.0\n'
        f'vault_http_requests_total{{method="POST",route="{route}",status="503"}} 2.0\n'
    )
    assert services.parse_answers(metrics) == {f"200 {route}": 7, f"503 {route}": 2}

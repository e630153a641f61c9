"""The proxy's price: a small GET through the vault's proxy against the same GET sent straight
to the simulator with headers the vault issued once.

One connection each (``wrk -c 1``), so the latencies are per call rather than queueing, and the
overhead is the difference of their means (1 / req/s) and of their p50 and p99. The simulator
answers both, so what is left is the vault's own hop: routing, the caller check, the token
from memory, one more connection to Walmart and relaying the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from . import fixtures, wrk
from .report import Report

ACCOUNT = "bench-proxy"
PATH = "/v3/orders?limit=10"

Load = Callable[[wrk.Target, float, int], wrk.Result]


def overhead(
    report: Report, vault: fixtures.Vault, load: Load, *, rounds: int, seconds: float
) -> None:
    report.heading("Proxy overhead: a small GET through the proxy vs straight to Walmart")
    with vault.admin() as http:
        fixtures.register_oauth(vault, http, ACCOUNT)
        created = http.post(
            "/v1/clients", json={"name": "bench-proxy", "scopes": ["walmart:call", "headers:issue"]}
        )
        created.raise_for_status()
    token = created.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    issued = httpx.post(
        f"{vault.url}/v1/accounts/{ACCOUNT}/headers",
        json={
            "market": "US",
            "environment": "production",
            "method": "GET",
            "url": vault.sim_url + PATH,
        },
        headers=auth,
        timeout=30,
    )
    issued.raise_for_status()
    direct = wrk.Target(
        "walmart-direct", issued.json()["url"], None, issued.json()["headers"], method="GET"
    )
    proxied = wrk.Target(
        "walmart-proxy",
        f"{vault.url}/v1/proxy/{ACCOUNT}/US/production{PATH}",
        None,
        auth,
        method="GET",
    )
    for target in (direct, proxied):
        answer = httpx.get(target.url, headers=target.headers, timeout=30)
        if answer.status_code != 200:
            raise RuntimeError(f"{target.name} answered {answer.status_code}: {answer.text[:300]}")
    results: list[wrk.Result] = []
    for _ in range(rounds):
        results += [load(direct, seconds, 1), load(proxied, seconds, 1)]
    report.table(results)
    straight = [r for r in results if r.target == direct.name]
    through = [r for r in results if r.target == proxied.name]
    mean = _mean_ms(through) - _mean_ms(straight)
    p50 = _median([r.p50_ms for r in through]) - _median([r.p50_ms for r in straight])
    p99 = _median([r.p99_ms for r in through]) - _median([r.p99_ms for r in straight])
    report.line(
        f"proxy overhead per call: mean +{mean:.2f} ms, p50 +{p50:.2f} ms, p99 +{p99:.2f} ms "
        f"(one connection; straight {_mean_ms(straight):.2f} ms, "
        f"proxied {_mean_ms(through):.2f} ms)"
    )


def _mean_ms(results: list[wrk.Result]) -> float:
    requests = sum(r.requests for r in results)
    seconds = sum(r.seconds for r in results)
    return 1000 * seconds / requests if requests else float("nan")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]

"""``/metrics``: Prometheus text, vault_* names, counters that move with the traffic."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.state import AppState
from tests.api.walmart_setup import headers_for, oauth_credential, signature_credential
from tests.walmart_sim import SimulatorControl, SimulatorServer


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_the_traffic(
    client: httpx.AsyncClient,
    vault_state: AppState,
    walmart: SimulatorServer,
    walmart_control: SimulatorControl,
) -> None:
    vault_state.metrics.ttl = 0  # read the database gauges on every scrape here
    before = (await client.get("/metrics")).text
    signature = await signature_credential(client, walmart_control)
    oauth = await oauth_credential(client, walmart_control)
    for _ in range(3):
        await headers_for(client, signature["id"], "GET", walmart.base_url + "/v3/ca/feeds")
    for _ in range(2):
        await headers_for(client, oauth["id"], "GET", walmart.base_url + "/v3/orders")
    await client.post(f"/v1/credentials/{signature['id']}/test")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    names = {family.name for family in text_string_to_metric_families(after)}
    assert all(name.startswith("vault_") for name in names), names

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("vault_headers_issued_total", kind="signature") == 3
    assert delta("vault_headers_issued_total", kind="oauth") == 2
    assert delta("vault_token_fetches_total", outcome="valid") == 1
    # The second OAuth call reuses the first's token: from memory, or from the database when a
    # snapshot re-read that raced the token's commit could not vouch for memory (PostgreSQL's
    # change notices arrive late on a loaded machine). Either way one hit, no second fetch.
    hits = [delta("vault_token_cache_hits_total", layer=layer) for layer in ("memory", "database")]
    assert sum(hits) == 1, hits
    assert delta("vault_credential_tests_total", outcome="valid", trigger="api") == 1
    # Each credential read at least once by the headers path (a recheck reads it again), and
    # the signature key set up once.
    assert delta("vault_snapshot_reads_total") >= 2
    assert 1 <= delta("vault_snapshot_read_statements_total") <= delta("vault_snapshot_reads_total")
    assert delta("vault_key_cache_misses_total") == 1
    route = "/v1/credentials/{credential_id}/headers"
    assert delta("vault_http_requests_total", route=route, method="POST", status="200") == 5
    assert value(after, "vault_credentials", status="valid") == 1
    assert value(after, "vault_credentials", status="untested") == 1
    assert value(after, "vault_data_keys_on_old_keks") == 0
    data_keys = [k for k in samples(after) if k[0] == "vault_data_keys"]
    assert data_keys, "data keys by KEK are exposed"

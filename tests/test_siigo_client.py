"""SiigoClient against the local sandbox over real HTTP (no network mocking)."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta, timezone

import pytest
import requests

from core.siigo.client import SiigoClient, parse_retry_hint
from core.siigo.errors import (
    SiigoAuthError,
    SiigoConfigError,
    SiigoError,
    SiigoProtocolError,
    SiigoUnavailableError,
)
from core.siigo.sandbox import SandboxServer
from tests.siigo_fixtures import SANDBOX_PARTNER_ID, FakeClock

N = 120  # customers in the ``sandbox`` fixture


def _ids(customers: list[dict]) -> list[str]:
    return [c["id"] for c in customers]


# -- configuration ----------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["base_url", "username", "access_key", "partner_id"])
def test_missing_settings_raise_config_error(missing):
    settings = {
        "base_url": "http://127.0.0.1:9",
        "username": "u@example.com",
        "access_key": "k",
        "partner_id": "Aliados",
    }
    settings[missing] = ""
    with pytest.raises(SiigoConfigError) as info:
        SiigoClient(**settings)
    assert "Configure" in str(info.value)


@pytest.mark.parametrize("partner", ["ab", "con espacio", "raro!", "x" * 101])
def test_bad_partner_id_format_is_config_error(partner):
    with pytest.raises(SiigoConfigError) as info:
        SiigoClient(base_url="http://127.0.0.1:9", username="u", access_key="k",
                    partner_id=partner)
    assert "Partner-Id" in str(info.value)


# -- authentication ---------------------------------------------------------------------
def test_token_is_reused_for_many_calls(siigo_client, sandbox):
    for _ in range(5):
        assert siigo_client.test_connection() == N
    assert sandbox.count("/auth") == 1
    assert siigo_client.stats.auth_requests == 1
    assert siigo_client.stats.requests == 6


def test_token_reminted_before_expires_in(make_siigo_client, siigo_clock, sandbox):
    client = make_siigo_client()
    client.test_connection()
    siigo_clock.advance(86400 - 61)  # still outside the 60 s margin
    client.test_connection()
    assert sandbox.count("/auth") == 1
    siigo_clock.advance(2)  # now within 60 s of expiry: re-mint before using it
    client.test_connection()
    assert sandbox.count("/auth") == 2
    assert sandbox.count("/v1/customers", status=401) == 0


def test_short_lifetime_uses_ten_percent_margin(siigo_clock):
    with SandboxServer(n_customers=15, token_lifetime=100) as server:
        client = SiigoClient(base_url=server.base_url, username=server.username,
                             access_key=server.access_key, partner_id="Aliados",
                             requests_per_minute=0, sleep=siigo_clock.sleep,
                             clock=siigo_clock.monotonic)
        client.test_connection()
        siigo_clock.advance(89)
        client.test_connection()
        assert server.count("/auth") == 1
        siigo_clock.advance(2)  # 91 s > 100 - 10
        client.test_connection()
        assert server.count("/auth") == 2


def test_partner_id_and_bearer_are_sent(siigo_client, sandbox):
    siigo_client.test_connection()
    data = [r for r in sandbox.request_log if r.path == "/v1/customers"]
    assert data and all(r.headers.get("Partner-Id") == SANDBOX_PARTNER_ID for r in data)
    assert all(r.headers.get("Authorization") == "Bearer ***" for r in data)
    assert data[0].query == {"page": "1", "page_size": "10"}


class _StripPartnerId(requests.Session):
    """A session (like a misbehaving proxy) that drops the Partner-Id header."""

    def request(self, method, url, headers=None, **kwargs):
        headers = {k: v for k, v in (headers or {}).items() if k != "Partner-Id"}
        return super().request(method, url, headers=headers, **kwargs)


def test_missing_partner_id_is_protocol_error_in_spanish(make_siigo_client):
    client = make_siigo_client(session=_StripPartnerId())
    with pytest.raises(SiigoProtocolError) as info:
        client.test_connection()
    err = info.value
    assert err.status == 400 and err.code == "header_required"
    assert "Partner-Id" in str(err) and "soporte técnico/TI" in str(err)


def test_bad_credentials_raise_auth_error(make_siigo_client, sandbox):
    client = make_siigo_client(access_key="otra-llave")
    with pytest.raises(SiigoAuthError) as info:
        client.test_connection()
    assert info.value.status == 401
    assert "revise el usuario y la llave de acceso" in str(info.value)
    assert sandbox.count("/auth") == 1  # 4xx on /auth is not retried


def test_401_reauthenticates_once_then_auth_error(siigo_client, sandbox):
    sandbox.add_fault({"kind": "status", "status": 401, "count": 2, "path": "/v1/customers"})
    with pytest.raises(SiigoAuthError):
        siigo_client.test_connection()
    assert sandbox.count("/auth") == 2
    assert sandbox.count("/v1/customers", status=401) == 2


def test_revoked_token_single_reauth(siigo_client, sandbox):
    siigo_client.test_connection()
    sandbox.expire_tokens()
    assert siigo_client.test_connection() == N
    assert sandbox.count("/auth") == 2
    assert siigo_client.stats.auth_requests == 2


# -- paging -----------------------------------------------------------------------------
def test_full_paging_gets_every_customer(siigo_client, sandbox):
    calls = []
    result = siigo_client.fetch_all_customers(progress=lambda *a: calls.append(a))
    assert len(result.customers) == N == result.total_results
    assert _ids(result.customers) == _ids(sandbox.customers)
    assert result.pages == math.ceil(N / 100)
    assert siigo_client.stats.requests == math.ceil(N / 100) + 1
    assert calls == [(1, 100, N), (2, N, N)]
    assert all("created_end" in r.query for r in sandbox.request_log if r.method == "GET")


def test_clamped_page_size(siigo_client, sandbox):
    sandbox.set_options(max_page_size=50)
    result = siigo_client.fetch_all_customers(page_size=100)
    assert len(result.customers) == N and result.pages == 3
    pages = [r.query["page"] for r in sandbox.request_log if r.path == "/v1/customers"]
    assert pages == ["1", "2", "3"]


def test_iter_pages_reports_clamped_size(siigo_client, sandbox):
    pages = list(siigo_client.iter_customer_pages(page_size=3))
    assert [p.page_size for p in pages] == [10] * 12
    assert sum(len(p.results) for p in pages) == N


def test_missing_next_link_continues_by_page_number(siigo_client, sandbox):
    sandbox.set_options(omit_next_on_page=1)
    result = siigo_client.fetch_all_customers(page_size=50)
    assert len(result.customers) == N
    pages = [r.query["page"] for r in sandbox.request_log if r.path == "/v1/customers"]
    assert pages == ["1", "2", "3"]


def test_missing_next_on_last_page_stops(siigo_client, sandbox):
    sandbox.set_options(omit_next_on_page=3)
    result = siigo_client.fetch_all_customers(page_size=50)
    assert len(result.customers) == N and result.pages == 3


def test_empty_last_page_stops(siigo_client, sandbox):
    sandbox.set_options(empty_last_page=True)
    result = siigo_client.fetch_all_customers(page_size=50)
    assert len(result.customers) == N
    pages = [r.query["page"] for r in sandbox.request_log if r.path == "/v1/customers"]
    assert pages == ["1", "2", "3", "4"]


def test_next_pointing_back_never_loops(siigo_client, sandbox):
    sandbox.set_options(next_points_back=2)
    result = siigo_client.fetch_all_customers(page_size=50)
    pages = [r.query["page"] for r in sandbox.request_log if r.path == "/v1/customers"]
    assert sorted(pages) == ["1", "2", "3"]  # each page once
    assert len(result.customers) == N


def test_token_revoked_mid_import(siigo_client, sandbox):
    sandbox.add_fault({"kind": "after_page", "page": 1, "action": "expire_tokens"})
    result = siigo_client.fetch_all_customers(page_size=50)
    assert len(result.customers) == N
    assert sandbox.count("/auth") == 2
    assert sandbox.count("/v1/customers", status=401) == 1


def test_customers_added_mid_import(siigo_client, sandbox):
    before = set(_ids(sandbox.customers))
    sandbox.add_fault({"kind": "after_page", "page": 1, "action": "add_customers",
                       "count": 30})
    result = siigo_client.fetch_all_customers(page_size=50)
    ids = _ids(result.customers)
    assert len(ids) == len(set(ids))  # no duplicates
    assert before <= set(ids)  # nothing that existed at start is lost
    assert len(sandbox.customers) == N + 30


def test_incremental_updated_start(siigo_client, sandbox):
    chosen = _ids(sandbox.customers)[10:13]
    for customer_id in chosen:
        sandbox.update_customer(customer_id, comments="Actualizado en la prueba")
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    result = siigo_client.fetch_all_customers(updated_start=since)
    assert sorted(_ids(result.customers)) == sorted(chosen)
    query = [r.query for r in sandbox.request_log if r.path == "/v1/customers"][0]
    assert query["updated_start"].endswith("Z") and len(query["updated_start"]) == 20


def test_get_customer_and_not_found(siigo_client, sandbox):
    first = sandbox.customers[0]
    assert siigo_client.get_customer(first["id"]) == first
    with pytest.raises(SiigoProtocolError) as info:
        siigo_client.get_customer("00000000-0000-4000-8000-000000000000")
    assert info.value.status == 404 and info.value.code == "not_found"


# -- rate limiting ----------------------------------------------------------------------
def test_429_waits_the_hinted_seconds(siigo_client, siigo_clock, sandbox):
    sandbox.add_fault({"kind": "status", "status": 429, "count": 2, "retry_in": 7,
                       "path": "/v1/customers"})
    assert siigo_client.test_connection() == N
    assert siigo_clock.sleeps == [7, 7]
    assert siigo_client.stats.waited_seconds == 14
    assert siigo_client.stats.retries == 2


def test_429_honours_retry_after_header(siigo_client, siigo_clock, sandbox):
    sandbox.add_fault({"kind": "status", "status": 429, "hint": False, "retry_after": 4,
                       "path": "/v1/customers"})
    assert siigo_client.test_connection() == N
    assert siigo_clock.sleeps == [4]


def test_429_without_hint_backs_off_exponentially(siigo_client, siigo_clock, sandbox):
    sandbox.add_fault({"kind": "status", "status": 429, "hint": False, "count": 3,
                       "path": "/v1/customers"})
    assert siigo_client.test_connection() == N
    assert siigo_clock.sleeps == pytest.approx([0.01, 0.02, 0.04])


def test_429_beyond_wait_cap_is_unavailable(make_siigo_client, siigo_clock, sandbox):
    client = make_siigo_client(max_total_wait=10)
    sandbox.add_fault({"kind": "status", "status": 429, "count": 5, "retry_in": 6,
                       "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError) as info:
        client.test_connection()
    assert siigo_clock.sleeps == [6]
    assert sum(siigo_clock.sleeps) <= 10
    assert sandbox.count("/v1/customers", status=429) == 2
    assert "inténtelo más tarde" in str(info.value)


@pytest.mark.parametrize(
    "message, seconds",
    [
        ("The request limit has been exceeded. Try again in 20 seconds", 20),
        ("too many requests, TRY AGAIN IN 1 SECOND", 1),
        ("Try again in 5s", 5),
        ("try again in: 2.5 seconds", 2.5),
        ("Try again in 1 minute", 60),
        ("no hint here", None),
    ],
)
def test_parse_retry_hint_variants(message, seconds):
    assert parse_retry_hint(message) == seconds


def test_pacing_keeps_rate_below_limit(sandbox):
    clock = FakeClock()
    sent_at: list[float] = []

    class Recording(requests.Session):
        def request(self, *args, **kwargs):
            sent_at.append(clock.now)
            return super().request(*args, **kwargs)

    limit = 5
    client = SiigoClient(base_url=sandbox.base_url, username=sandbox.username,
                         access_key=sandbox.access_key, partner_id="Aliados",
                         session=Recording(), requests_per_minute=limit,
                         sleep=clock.sleep, clock=clock.monotonic)
    for _ in range(12):
        client.test_connection()
    assert len(sent_at) == 13  # one /auth + 12 pages
    for i in range(len(sent_at) - limit):
        assert sent_at[i + limit] - sent_at[i] >= 60.0
    assert clock.sleeps and all(s > 0 for s in clock.sleeps)


# -- transient failures -----------------------------------------------------------------
def test_5xx_retried_then_success(siigo_client, siigo_clock, sandbox):
    for status in (500, 503, 504):
        sandbox.add_fault({"kind": "status", "status": status, "path": "/v1/customers"})
    assert siigo_client.test_connection() == N
    assert siigo_client.stats.retries == 3
    assert siigo_clock.sleeps == pytest.approx([0.01, 0.02, 0.04])
    assert [r.status for r in sandbox.request_log if r.path == "/v1/customers"] == [
        500, 503, 504, 200
    ]


def test_persistent_500_gives_up_after_max_retries(make_siigo_client, sandbox):
    client = make_siigo_client(max_retries=3)
    sandbox.add_fault({"kind": "status", "status": 500, "count": 50, "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError) as info:
        client.test_connection()
    assert info.value.status == 500
    assert sandbox.count("/v1/customers") == 4


def test_dropped_connection_is_retried(siigo_client, sandbox):
    sandbox.add_fault({"kind": "drop", "path": "/v1/customers"})
    assert siigo_client.test_connection() == N
    assert [r.status for r in sandbox.request_log if r.path == "/v1/customers"] == [None, 200]


def test_hang_ends_at_read_timeout(make_siigo_client, sandbox):
    client = make_siigo_client(read_timeout=0.3, max_retries=1)
    sandbox.add_fault({"kind": "hang", "seconds": 2, "count": 2, "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError) as info:
        client.test_connection()
    assert info.value.status is None
    assert "no respondió a tiempo" in str(info.value)
    assert sandbox.count("/v1/customers") == 2


def test_consecutive_failure_bound(make_siigo_client, sandbox):
    client = make_siigo_client(max_retries=10, max_consecutive_failures=3)
    sandbox.add_fault({"kind": "status", "status": 500, "count": 50, "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError):
        client.test_connection()
    assert sandbox.count("/v1/customers") == 3
    with pytest.raises(SiigoUnavailableError):  # the breaker does not send at all
        client.test_connection()
    assert sandbox.count("/v1/customers") == 3


def test_breaker_allows_a_probe_after_cooldown(make_siigo_client, siigo_clock, sandbox):
    client = make_siigo_client(max_retries=10, max_consecutive_failures=2,
                               failure_cooldown=30)
    sandbox.add_fault({"kind": "status", "status": 503, "count": 2, "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError):
        client.test_connection()
    siigo_clock.advance(31)
    assert client.test_connection() == N


# -- secrets ----------------------------------------------------------------------------
def test_no_secrets_in_logs_or_errors(make_siigo_client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_siigo_client(max_retries=1)
    client.fetch_all_customers()
    token = client._token
    assert token
    sandbox.add_fault({"kind": "status", "status": 500, "count": 5, "path": "/v1/customers"})
    errors: list[SiigoError] = []
    with pytest.raises(SiigoUnavailableError) as info:
        client.test_connection()
    errors.append(info.value)
    bad = make_siigo_client(access_key="llave-equivocada-123")
    with pytest.raises(SiigoAuthError) as info:
        bad.test_connection()
    errors.append(info.value)
    assert caplog.records  # one INFO line per request was logged
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors]
    texts += [repr(e) for e in errors] + [repr(client), repr(bad)]
    for secret in (sandbox.access_key, "llave-equivocada-123", token):
        assert all(secret not in text for text in texts)
    http_lines = [r for r in caplog.records if r.name == "core.siigo.client"
                  and r.getMessage().startswith("Siigo ") and " ms)" in r.getMessage()]
    assert len(http_lines) == client.stats.requests + bad.stats.requests

"""The Siigo sandbox itself, driven with raw requests, and the generated data set."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from stdnum.co import nit as co_nit

from core.siigo.dataset import colombian_cities, generate_customers
from core.siigo.sandbox import SandboxServer

PARTNER = "AliadosTests"


def _token(server: SandboxServer) -> str:
    response = requests.post(
        f"{server.base_url}/auth",
        json={"username": server.username, "access_key": server.access_key},
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()["access_token"]


def _headers(server: SandboxServer, bearer: bool = True) -> dict[str, str]:
    token = _token(server)
    return {"Authorization": f"Bearer {token}" if bearer else token, "Partner-Id": PARTNER}


def _get(server, path, headers=None, **params):
    return requests.get(f"{server.base_url}{path}", headers=headers, params=params, timeout=5)


def _assert_envelope(response, status, code):
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["Status"] == status
    error = body["Errors"][0]
    assert set(error) == {"Code", "Message", "Params", "Detail"}
    assert error["Code"] == code
    return body


# -- auth and headers -------------------------------------------------------------------
def test_auth_returns_token_shape(sandbox):
    response = requests.post(
        f"{sandbox.base_url}/auth",
        json={"username": sandbox.username, "access_key": sandbox.access_key}, timeout=5,
    )
    body = response.json()
    assert response.status_code == 200
    assert response.headers["x-krakend"]
    assert body["expires_in"] == 86400 and body["token_type"] == "Bearer"
    assert body["scope"] == "SiigoAPI" and body["access_token"]


def test_bad_credentials_401(sandbox):
    response = requests.post(f"{sandbox.base_url}/auth",
                             json={"username": sandbox.username, "access_key": "no"}, timeout=5)
    _assert_envelope(response, 401, "unauthorized")


def test_token_with_or_without_bearer(sandbox):
    for bearer in (True, False):
        assert _get(sandbox, "/v1/customers", _headers(sandbox, bearer)).status_code == 200


def test_missing_token_401(sandbox):
    _assert_envelope(_get(sandbox, "/v1/customers", {"Partner-Id": PARTNER}), 401,
                     "unauthorized")


def test_missing_partner_id_exact_body(sandbox):
    headers = _headers(sandbox)
    del headers["Partner-Id"]
    body = _assert_envelope(_get(sandbox, "/v1/customers", headers), 400, "header_required")
    assert body["Errors"][0]["Message"] == "The header Partner-Id is required"
    assert body["Errors"][0]["Params"] == ["Partner-Id"]
    assert len(body["Errors"]) == 1 and list(body) == ["Status", "Errors"]


def test_bad_partner_id_format(sandbox):
    headers = _headers(sandbox)
    headers["Partner-Id"] = "no válido!"
    _assert_envelope(_get(sandbox, "/v1/customers", headers), 400, "invalid_partner_id")


# -- list -------------------------------------------------------------------------------
def test_list_envelope_and_links(sandbox):
    headers = _headers(sandbox)
    first = _get(sandbox, "/v1/customers", headers).json()
    assert first["pagination"] == {"page": 1, "page_size": 25, "total_results": 120}
    assert len(first["results"]) == 25
    assert set(first["_links"]) == {"self", "next"}
    assert first["_links"]["next"]["href"].startswith(sandbox.base_url + "/v1/customers?")
    middle = _get(sandbox, "/v1/customers", headers, page=2, page_size=50, limit=7).json()
    assert set(middle["_links"]) == {"self", "next", "previous"}
    assert "limit=7" in middle["_links"]["self"]["href"]  # unknown params echoed
    assert "page=3" in middle["_links"]["next"]["href"]
    last = _get(sandbox, "/v1/customers", headers, page=3, page_size=50).json()
    assert set(last["_links"]) == {"self", "previous"} and len(last["results"]) == 20
    past = _get(sandbox, "/v1/customers", headers, page=9, page_size=50)
    assert past.status_code == 200 and past.json()["results"] == []


def test_pages_are_disjoint_and_newest_first(sandbox):
    headers = _headers(sandbox)
    ids: list[str] = []
    for page in (1, 2, 3):
        ids += [c["id"] for c in _get(sandbox, "/v1/customers", headers, page=page,
                                      page_size=50).json()["results"]]
    assert ids == [c["id"] for c in sandbox.customers]
    assert len(set(ids)) == 120


@pytest.mark.parametrize("asked, used", [(3, 10), (50, 50), (100, 100), (500, 100)])
def test_page_size_clamp(sandbox, asked, used):
    body = _get(sandbox, "/v1/customers", _headers(sandbox), page_size=asked).json()
    assert body["pagination"]["page_size"] == used
    assert f"page_size={used}" in body["_links"]["self"]["href"]


def test_camel_case_page_size_ignored(sandbox):
    body = _get(sandbox, "/v1/customers", _headers(sandbox), pageSize=3).json()
    assert body["pagination"]["page_size"] == 25


def test_filters(sandbox):
    headers = _headers(sandbox)
    branches = _get(sandbox, "/v1/customers", headers, identification="900373115").json()
    assert branches["pagination"]["total_results"] == 2
    assert sorted(c["branch_office"] for c in branches["results"]) == [0, 1]
    one = _get(sandbox, "/v1/customers", headers, identification="900373115",
               branch_office=1).json()
    assert [c["branch_office"] for c in one["results"]] == [1]
    suppliers = _get(sandbox, "/v1/customers", headers, type="Supplier", page_size=100).json()
    assert suppliers["results"] and all(c["type"] == "Supplier" for c in suppliers["results"])
    inactive = _get(sandbox, "/v1/customers", headers, active="false", page_size=100).json()
    assert inactive["results"] and not any(c["active"] for c in inactive["results"])
    companies = _get(sandbox, "/v1/customers", headers, person_type="Company",
                     page_size=100).json()
    assert all(c["person_type"] == "Company" for c in companies["results"])
    recent = _get(sandbox, "/v1/customers", headers, created_start="2025-01-01").json()
    older = _get(sandbox, "/v1/customers", headers, created_end="2024-12-31T23:59:59Z").json()
    assert (recent["pagination"]["total_results"] + older["pagination"]["total_results"]
            == 120)


def test_updated_filter_falls_back_to_created(sandbox):
    headers = _headers(sandbox)
    target = sandbox.customers[0]  # the data set leaves last_updated out of this one
    assert "last_updated" not in target["metadata"]
    created = target["metadata"]["created"][:19] + "Z"
    body = _get(sandbox, "/v1/customers", headers, updated_start=created,
                page_size=100).json()
    assert target["id"] in [c["id"] for c in body["results"]]


# -- single customer and writes ---------------------------------------------------------
def test_get_one_404_and_400(sandbox):
    headers = _headers(sandbox)
    first = sandbox.customers[0]
    assert _get(sandbox, f"/v1/customers/{first['id']}", headers).json() == first
    _assert_envelope(_get(sandbox, f"/v1/customers/{uuid.uuid4()}", headers), 404, "not_found")
    _assert_envelope(_get(sandbox, "/v1/customers/no-es-un-guid", headers), 400, "invalid_type")


def _new_customer(**overrides):
    body = {
        "type": "Supplier",
        "person_type": "Company",
        "id_type": "31",
        "identification": "901234567",
        "name": ["Ferretería El Ñandú S.A.S."],
        "address": {"address": "Cra. 7 # 12 - 30",
                    "city": {"country_code": "Co", "state_code": "05", "city_code": "05001"}},
        "contacts": [{"first_name": "Inés", "last_name": "Peña",
                      "email": "ines.pena@example.co"}],
    }
    body.update(overrides)
    return body


def test_create_update_delete(sandbox):
    headers = _headers(sandbox)
    url = f"{sandbox.base_url}/v1/customers"
    created = requests.post(url, json=_new_customer(), headers=headers, timeout=5)
    assert created.status_code == 201
    out = created.json()
    assert out["id_type"] == {"code": "31", "name": "NIT"}
    assert out["check_digit"] == co_nit.calc_check_digit("901234567")
    assert out["address"]["city"]["city_name"] == "Medellín"
    assert out["fiscal_responsibilities"][0]["code"] == "R-99-PN"
    duplicate = requests.post(url, json=_new_customer(), headers=headers, timeout=5)
    _assert_envelope(duplicate, 400, "already_exists")
    branch = requests.post(url, json=_new_customer(branch_office=1), headers=headers, timeout=5)
    assert branch.status_code == 201
    updated = requests.put(f"{url}/{out['id']}", json=_new_customer(name=["Nuevo Nombre S.A."]),
                           headers=headers, timeout=5)
    assert updated.status_code == 200 and updated.json()["name"] == ["Nuevo Nombre S.A."]
    assert "last_updated" in updated.json()["metadata"]
    deleted = requests.delete(f"{url}/{out['id']}", headers=headers, timeout=5)
    assert deleted.json() == {"id": out["id"], "deleted": True}
    _assert_envelope(_get(sandbox, f"/v1/customers/{out['id']}", headers), 404, "not_found")


def test_create_validation(sandbox):
    headers = _headers(sandbox)
    url = f"{sandbox.base_url}/v1/customers"
    empty = requests.post(url, json={}, headers=headers, timeout=5)
    body = _assert_envelope(empty, 400, "parameter_required")
    assert body["Errors"][0]["Params"] == ["name"]
    person = _new_customer(person_type="Person", id_type="13", identification="52123456")
    _assert_envelope(requests.post(url, json=person, headers=headers, timeout=5), 400,
                     "invalid_array")
    city = _new_customer(address={"address": "x", "city": {"country_code": "Co",
                                                           "state_code": "05",
                                                           "city_code": "99999"}})
    _assert_envelope(requests.post(url, json=city, headers=headers, timeout=5), 400,
                     "invalid_reference")
    email = _new_customer(contacts=[{"first_name": "Ana", "email": "no-es-correo"}])
    _assert_envelope(requests.post(url, json=email, headers=headers, timeout=5), 400,
                     "invalid_email")


# -- rate limit and control endpoints ---------------------------------------------------
def test_rate_limit_429_body():
    with SandboxServer(n_customers=15, requests_per_minute=2) as server:
        headers = _headers(server)
        assert _get(server, "/v1/customers", headers).status_code == 200
        assert _get(server, "/v1/customers", headers).status_code == 200
        limited = _get(server, "/v1/customers", headers)
        body = _assert_envelope(limited, 429, "requests_limit")
        assert re.search(r"Try again in \d+ seconds", body["Errors"][0]["Message"])
        assert "Retry-After" not in limited.headers


def test_rate_limit_retry_after_header_option():
    with SandboxServer(n_customers=15, requests_per_minute=1, retry_after_header=True) as srv:
        headers = _headers(srv)
        _get(srv, "/v1/customers", headers)
        limited = _get(srv, "/v1/customers", headers)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_http_control_endpoints(sandbox):
    base = sandbox.base_url
    headers = _headers(sandbox)
    reply = requests.post(f"{base}/_sandbox/faults", timeout=5, json=[
        {"kind": "status", "status": 503, "count": 1, "path": "/v1/customers"},
        {"kind": "status", "status": 429, "hint": False, "retry_after": 3},
    ])
    assert reply.status_code == 200 and len(reply.json()["faults"]) == 2
    _assert_envelope(_get(sandbox, "/v1/customers", headers), 503, "service_unavailable")
    limited = _get(sandbox, "/v1/customers", headers)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert "Try again" not in limited.json()["Errors"][0]["Message"]
    assert _get(sandbox, "/v1/customers", headers).status_code == 200
    stats = requests.get(f"{base}/_sandbox/stats", timeout=5).json()
    assert stats["paths"]["/v1/customers"] == {"200": 1, "429": 1, "503": 1}
    requests.post(f"{base}/_sandbox/options", json={"max_page_size": 50}, timeout=5)
    assert _get(sandbox, "/v1/customers", headers, page_size=100).json()["pagination"][
        "page_size"] == 50
    requests.post(f"{base}/_sandbox/faults", json={"kind": "expire_tokens"}, timeout=5)
    assert _get(sandbox, "/v1/customers", headers).status_code == 401
    bad = requests.post(f"{base}/_sandbox/faults", json={"kind": "nope"}, timeout=5)
    assert bad.status_code == 400
    requests.post(f"{base}/_sandbox/reset", timeout=5)
    assert requests.get(f"{base}/_sandbox/stats", timeout=5).json()["total"] == 0
    assert sandbox.options["max_page_size"] == 100


def test_drop_and_hang_faults(sandbox):
    headers = _headers(sandbox)
    sandbox.add_fault({"kind": "drop"})
    with pytest.raises(requests.ConnectionError):
        _get(sandbox, "/v1/customers", headers)
    sandbox.add_fault({"kind": "hang", "seconds": 2})
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{sandbox.base_url}/v1/customers", headers=headers, timeout=(2, 0.3))
    assert _get(sandbox, "/v1/customers", headers).status_code == 200


def test_after_page_add_customers(sandbox):
    headers = _headers(sandbox)
    sandbox.add_fault({"kind": "after_page", "page": 1, "action": "add_customers", "count": 5})
    first = _get(sandbox, "/v1/customers", headers).json()
    assert first["pagination"]["total_results"] == 120
    again = _get(sandbox, "/v1/customers", headers).json()
    assert again["pagination"]["total_results"] == 125
    assert again["results"][5]["id"] == first["results"][0]["id"]  # older ones shifted


def test_mutating_helpers(sandbox):
    target = sandbox.customers[3]
    updated = sandbox.update_customer(target["id"], active=False)
    assert updated["active"] is False and updated["metadata"]["last_updated"].endswith("Z")
    sandbox.remove_customer(target["id"])
    assert target["id"] not in [c["id"] for c in sandbox.customers]
    added = sandbox.add_customer(dict(target, id=str(uuid.uuid4())))
    assert len(sandbox.customers) == 120
    assert added["id"] in [c["id"] for c in sandbox.customers]
    with pytest.raises(ValueError):
        sandbox.add_customer(dict(target, id=str(uuid.uuid4())))


# -- data set ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset() -> list[dict]:
    return generate_customers(300, seed=7)


def test_dataset_is_deterministic(dataset):
    assert generate_customers(300, seed=7) == dataset
    assert generate_customers(300, seed=8) != dataset
    assert len(generate_customers(1)) == 1 and generate_customers(0) == []


def test_dataset_nit_check_digits(dataset):
    nits = [c for c in dataset if c["id_type"]["code"] == "31"]
    assert len(nits) > 50
    for customer in nits:
        assert co_nit.is_valid(customer["identification"] + customer["check_digit"])


def test_dataset_one_nit_two_branches(dataset):
    pairs = [(c["identification"], c["branch_office"]) for c in dataset]
    assert len(pairs) == len(set(pairs))
    idents = [c["identification"] for c in dataset]
    twice = {i for i in idents if idents.count(i) > 1}
    assert len(twice) == 1
    assert sorted(c["branch_office"] for c in dataset if c["identification"] in twice) == [0, 1]


def test_dataset_realism(dataset):
    text = repr(dataset)
    assert "ñ" in text and "Ñ" in text and "á" in text and "é" in text
    assert any(c["person_type"] == "Person" and len(c["name"]) == 2 for c in dataset)
    assert any(c["person_type"] == "Company" and len(c["name"]) == 1 for c in dataset)
    codes = {c["id_type"]["code"] for c in dataset}
    assert {"13", "31", "22", "41"} <= codes
    assert {c["type"] for c in dataset} == {"Customer", "Supplier", "Other"}
    inactive = sum(not c["active"] for c in dataset) / len(dataset)
    assert 0.04 < inactive < 0.2
    assert any("commercial_name" not in c for c in dataset)
    assert any("phones" not in c for c in dataset)
    assert any("city" not in c["address"] for c in dataset)
    assert any(c["contacts"] == [] for c in dataset)
    assert any(ct.get("phone") == {} for c in dataset for ct in c["contacts"])
    assert any("last_updated" not in c["metadata"] for c in dataset)
    stamps = [c["metadata"]["created"] for c in dataset]
    assert any(s.endswith("Z") for s in stamps) and any(not s.endswith("Z") for s in stamps)
    fractions = {len(s.rstrip("Z").split(".")[1]) for s in stamps}
    assert fractions == {1, 2, 3}


def test_dataset_cities_and_phones(dataset):
    valid = {(r["StateCode"], r["CityCode"]) for r in colombian_cities()}
    cities = [c["address"]["city"] for c in dataset if "city" in c["address"]]
    assert all((city["state_code"], city["city_code"]) in valid for city in cities)
    assert any(city["city_code"].startswith("0") for city in cities)
    assert all(isinstance(city["state_code"], str) for city in cities)
    assert {city["country_code"] for city in cities} == {"Co", "CO"}
    numbers = [p["number"] for c in dataset for p in c.get("phones", [])]
    assert numbers and all(re.fullmatch(r"3\d{9}|60\d{8}", n) for n in numbers)
    assert any(n.startswith("3") for n in numbers) and any(n.startswith("60") for n in numbers)
    emails = [ct["email"] for c in dataset for ct in c["contacts"] if "email" in ct]
    assert emails and all(re.fullmatch(r"[a-z0-9.]+@([a-z]+\.)*example\.(com|co|net)", e)
                          for e in emails)


def test_dataset_newest_first(dataset):
    from core.siigo.timestamps import parse_timestamp

    created = [parse_timestamp(c["metadata"]["created"]) for c in dataset]
    assert created == sorted(created, reverse=True)
    for c in dataset:
        meta = c["metadata"]
        if "last_updated" in meta:
            assert parse_timestamp(meta["last_updated"]) >= parse_timestamp(meta["created"])


def test_dataset_guids(dataset):
    ids = [c["id"] for c in dataset]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)

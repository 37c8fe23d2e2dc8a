"""The import rides through what the real Siigo API does, on both databases.

Each test drives the real client over HTTP against the sandbox's fault
injection and checks the database afterwards: every tercero exactly once,
nothing lost, nothing half-written.
"""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from core.allies import count_allies, list_allies
from core.db import reading
from core.importer import FULL, apply_import, import_history, preview_import
from core.models import Ally
from core.siigo.dataset import generate_customers
from core.siigo.errors import SiigoUnavailableError
from tests.actors import EDITOR


def import_all(engine, client):
    preview = preview_import(engine, client, mode=FULL, actor=EDITOR)
    return preview, apply_import(engine, preview, actor=EDITOR)


def assert_each_tercero_once(engine, expected_ids):
    with reading(engine) as session:
        stored = session.scalars(select(Ally.siigo_id)).all()
        distinct = session.scalar(select(func.count(func.distinct(Ally.siigo_id))))
    assert len(stored) == distinct == len(expected_ids)
    assert set(stored) == set(expected_ids)


def served_ids(sandbox):
    return [c["id"] for c in sandbox.customers]


def test_token_revoked_mid_import_means_one_new_auth_and_no_gap(engine, sandbox,
                                                                siigo_client):
    sandbox.add_fault({"kind": "after_page", "page": 1, "action": "expire_tokens"})
    preview, run = import_all(engine, siigo_client)
    assert siigo_client.stats.auth_requests == 2
    assert run.status == "exitosa"
    assert_each_tercero_once(engine, served_ids(sandbox))


def test_rate_limit_message_is_obeyed_and_import_completes(engine, sandbox, siigo_client,
                                                           siigo_clock):
    sandbox.add_fault({"kind": "status", "status": 429, "retry_in": 7, "count": 1,
                       "path": "/v1/customers"})
    preview, run = import_all(engine, siigo_client)
    assert 7 in siigo_clock.sleeps
    assert run.retries == 1 and run.requests == preview.requests
    assert_each_tercero_once(engine, served_ids(sandbox))


@pytest.mark.parametrize("status", [500, 503, 504])
def test_transient_server_errors_are_retried(engine, sandbox, siigo_client, status):
    sandbox.add_fault({"kind": "status", "status": status, "count": 2, "path": "/v1/customers"})
    _, run = import_all(engine, siigo_client)
    assert run.retries == 2
    assert_each_tercero_once(engine, served_ids(sandbox))


def test_dropped_connection_is_retried(engine, sandbox, siigo_client):
    sandbox.add_fault({"kind": "drop", "count": 1, "path": "/v1/customers"})
    _, run = import_all(engine, siigo_client)
    assert run.retries == 1
    assert_each_tercero_once(engine, served_ids(sandbox))


def test_server_that_never_answers_ends_at_read_timeout_and_changes_nothing(
        engine, sandbox, make_siigo_client):
    client = make_siigo_client(read_timeout=0.3, max_retries=1)
    import_all(engine, make_siigo_client())
    before = count_allies(engine)
    sandbox.add_fault({"kind": "hang", "seconds": 2, "count": 5, "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError) as caught:
        preview_import(engine, client, mode=FULL, actor=EDITOR)
    assert count_allies(engine) == before
    failed = import_history(engine)[0]
    assert failed.status == "fallida" and failed.error == str(caught.value)
    assert failed.requests >= 2


def test_failed_requests_in_a_row_stay_bounded(engine, sandbox, make_siigo_client):
    client = make_siigo_client(max_retries=10, max_consecutive_failures=4)
    sandbox.add_fault({"kind": "status", "status": 503, "count": 100, "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError):
        preview_import(engine, client, mode=FULL, actor=EDITOR)
    assert sandbox.count(path="/v1/customers", status=503) <= 4
    assert count_allies(engine) == 0


@pytest.mark.parametrize(
    "options",
    [
        {"max_page_size": 50},
        {"omit_next_on_page": 1},
        {"empty_last_page": True},
        {"next_points_back": 1},
    ],
    ids=["clamped-page-size", "missing-next", "empty-last-page", "next-points-back"],
)
def test_pagination_quirks_still_bring_every_tercero_once(engine, sandbox, siigo_client,
                                                          options):
    sandbox.set_options(**options)
    preview, run = import_all(engine, siigo_client)
    assert preview.fetched == len(sandbox.customers)
    assert_each_tercero_once(engine, served_ids(sandbox))
    assert siigo_client.stats.requests <= len(sandbox.customers) // 10 + 5


def test_terceros_created_while_paging_cause_no_duplicates_and_no_loss(engine, sandbox,
                                                                       siigo_client):
    existing = served_ids(sandbox)
    sandbox.add_fault({"kind": "after_page", "page": 1, "action": "add_customers", "count": 7})
    preview, _ = import_all(engine, siigo_client)
    with reading(engine) as session:
        stored = session.scalars(select(Ally.siigo_id)).all()
    assert len(stored) == len(set(stored))
    assert set(existing) <= set(stored)


def _custom(**changes):
    record = copy.deepcopy(generate_customers(1, seed=321)[0])
    record.update(changes)
    return record


def test_data_as_siigo_really_sends_it(engine, sandbox, siigo_client):
    person = _custom(
        id="0f6a5c1e-1111-4a2b-9c3d-000000000001", person_type="Person",
        id_type={"code": "13", "name": "Cédula de ciudadanía"}, identification="52123456",
        name=["Luz Ángela Muñoz"], address={"address": "CL 7A SUR 16 07"},
        phones=[{"indicative": "602", "number": "4857788"}], contacts=[],
        metadata={"created": "2022-12-29T22:38:08.6"},
    )
    company = _custom(
        id="0f6a5c1e-1111-4a2b-9c3d-000000000002", person_type="Company",
        id_type={"code": "31", "name": "NIT"}, identification="900373116", check_digit=None,
        name=["Café de Nariño S.A.S."],
        address={"address": "Cra. 18 #79A - 42", "postal_code": "050001",
                 "city": {"country_code": "Co", "state_code": "05", "city_code": "05001",
                          "city_name": "Medellín", "state_name": "Antioquia"}},
        contacts=[{"first_name": "Compras", "email": "Compras@Cafe-Narino.example",
                   "phone": {}}],
        metadata={"created": "2023-03-17T10:06:48.617Z", "last_updated": "2024-01-02T08:00:00"},
    )
    for key in ("phones", "comments", "commercial_name", "fiscal_responsibilities"):
        company.pop(key, None)
    company.pop("check_digit")
    sandbox.add_customer(person)
    sandbox.add_customer(company)
    preview, _ = import_all(engine, siigo_client)
    assert not [r for r in preview.rejected if r.siigo_id in (person["id"], company["id"])]
    stored = {a.siigo_id: a for a in list_allies(engine)}
    luz = stored[person["id"]]
    assert (luz.first_names, luz.last_names) == ("Luz", "Ángela Muñoz")
    assert luz.phone == "6024857788" and luz.city_code is None and luz.email is None
    assert luz.siigo_created_at.isoformat() == "2022-12-29T22:38:08.600000+00:00"
    cafe = stored[company["id"]]
    assert (cafe.country_code, cafe.state_code, cafe.city_code) == ("CO", "05", "05001")
    assert cafe.check_digit == "0"  # computed: Siigo left it out
    assert cafe.email == "compras@cafe-narino.example"
    assert cafe.siigo_updated_at.isoformat() == "2024-01-02T08:00:00+00:00"

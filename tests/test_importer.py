"""The Siigo import end to end: real client, real HTTP to the sandbox, real databases."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import text

from core.allies import count_allies, create_ally, get_ally, list_allies, update_ally
from core.importer import (
    FULL, INCREMENTAL, ImportApplyError, apply_import, import_history, preview_import,
    rejects_csv, siigo_to_ally_data,
)
from core.locks import ImportBusyError, import_lock
from core.siigo.dataset import generate_customers
from core.siigo.errors import SiigoUnavailableError
from tests.actors import EDITOR


def import_all(engine, client, **kwargs):
    preview = preview_import(engine, client, mode=kwargs.pop("mode", FULL), actor=EDITOR)
    return preview, apply_import(engine, preview, **kwargs, actor=EDITOR)


def test_first_import_brings_every_tercero_and_second_changes_nothing(engine, sandbox,
                                                                      siigo_client):
    served = len(sandbox.customers)
    preview, run = import_all(engine, siigo_client)
    assert preview.fetched == served and preview.rejected == []
    assert (run.created, run.updated, run.status) == (served, 0, "exitosa")
    assert count_allies(engine) == served

    again, second = import_all(engine, siigo_client)
    assert (len(again.new), len(again.changed), again.unchanged) == (0, 0, served)
    assert (second.created, second.updated) == (0, 0)
    assert count_allies(engine) == served
    assert [r.status for r in import_history(engine)] == ["exitosa", "exitosa"]


def test_import_keeps_codes_as_text_and_timestamps_aware(engine, sandbox, siigo_client):
    import_all(engine, siigo_client)
    with_city = [a for a in list_allies(engine) if a.state_code and a.state_code.startswith("0")]
    assert with_city, "the data set should hold cities with a leading zero"
    assert all(len(a.city_code) == 5 for a in with_city)
    stamped = [a for a in list_allies(engine) if a.siigo_created_at]
    assert stamped and all(a.siigo_created_at.tzinfo is not None for a in stamped)


def test_hand_typed_ally_is_linked_not_duplicated(engine, sandbox, siigo_client):
    record = next(c for c in sandbox.customers if c["id_type"]["code"] == "31")
    typed = create_ally(engine, {
        **{k: v for k, v in siigo_to_ally_data(record).items() if k != "email"},
        "identification": f"{record['identification']}",
        "business_name": "Nombre digitado a mano", "first_names": "Nombre", "last_names": "Mano",
        "notes": "cliente desde 2019",
    }, actor=EDITOR)
    _, run = import_all(engine, siigo_client)
    assert count_allies(engine) == len(sandbox.customers)
    assert run.updated == 1
    linked = get_ally(engine, typed.id)
    assert linked.siigo_id == record["id"] and linked.notes == "cliente desde 2019"
    assert linked.origin == "manual"


def test_failure_while_paging_leaves_data_as_it_was(engine, sandbox, siigo_client):
    import_all(engine, siigo_client)
    before = count_allies(engine)
    sandbox.add_customer(copy.deepcopy(generate_customers(1, seed=99)[0]))
    sandbox.add_fault({"kind": "status", "status": 503, "count": 50, "path": "/v1/customers"})
    with pytest.raises(SiigoUnavailableError) as caught:
        preview_import(engine, siigo_client, actor=EDITOR)
    assert "inténtelo más tarde" in str(caught.value).lower()
    assert count_allies(engine) == before
    failed = import_history(engine)[0]
    assert failed.status == "fallida" and failed.error == str(caught.value)


def test_database_failure_during_apply_rolls_everything_back(engine, sandbox, siigo_client):
    preview = preview_import(engine, siigo_client, actor=EDITOR)
    victim = preview.records[-1].values["identification"]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER refuse BEFORE INSERT ON ally WHEN NEW.identification = "
                f"'{victim}' BEGIN SELECT RAISE(ABORT, 'refused by test'); END"))
        else:
            conn.execute(text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.identification = '{victim}' THEN RAISE EXCEPTION 'refused by test'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON ally "
                              "FOR EACH ROW EXECUTE FUNCTION refuse()"))
    try:
        with pytest.raises(ImportApplyError, match="los datos quedaron como estaban"):
            apply_import(engine, preview, actor=EDITOR)
        assert count_allies(engine) == 0
        assert import_history(engine)[0].status == "fallida"
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse" if engine.dialect.name == "sqlite"
                              else "DROP TRIGGER refuse ON ally"))
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP FUNCTION refuse()"))


def _bad(record: dict, **changes) -> dict:
    bad = copy.deepcopy(record)
    bad.update(changes)
    return bad


def test_records_the_app_cannot_accept_are_rejected_and_the_rest_imports(engine, sandbox,
                                                                        siigo_client):
    base = [c for c in sandbox.customers if c["id_type"]["code"] == "31"][:3]
    wrong_dv = _bad(base[0], check_digit=str((int(base[0]["check_digit"]) + 1) % 10))
    unknown_type = _bad(base[1], id_type={"code": "77", "name": "Desconocido"})
    blank_name = _bad(base[2], name=["   "])
    for record in (wrong_dv, unknown_type, blank_name):
        sandbox.update_customer(record["id"], **{k: record[k] for k in
                                                 ("check_digit", "id_type", "name")})
    preview, run = import_all(engine, siigo_client)
    reasons = {r.siigo_id: r.reason for r in preview.rejected}
    assert set(reasons) == {wrong_dv["id"], unknown_type["id"], blank_name["id"]}
    assert "dígito de verificación" in reasons[wrong_dv["id"]]
    assert "Tipo de documento" in reasons[unknown_type["id"]]
    assert "razón social" in reasons[blank_name["id"]]
    assert run.rejected == 3
    assert count_allies(engine) == len(sandbox.customers) - 3
    csv_text = rejects_csv(preview).decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "ID Siigo,Nombre,Identificación,Motivo"
    assert wrong_dv["id"] in csv_text


def test_change_in_siigo_updates_and_keeps_local_notes(engine, sandbox, siigo_client):
    import_all(engine, siigo_client)
    record = next(c for c in sandbox.customers if c["person_type"] == "Company")
    ally = next(a for a in list_allies(engine) if a.siigo_id == record["id"])
    update_ally(engine, ally.id, {"notes": "nota local"}, actor=EDITOR)
    sandbox.update_customer(record["id"], name=["Comercializadora Renovada S.A.S."])
    preview, run = import_all(engine, siigo_client)
    assert [c.siigo_id for c in preview.changed] == [record["id"]]
    assert preview.conflicts == []
    stored = get_ally(engine, ally.id)
    assert stored.name == "Comercializadora Renovada S.A.S." and stored.notes == "nota local"


def test_edited_here_and_changed_in_siigo_is_a_conflict_siigo_wins(engine, sandbox,
                                                                  siigo_client):
    import_all(engine, siigo_client)
    record = next(c for c in sandbox.customers if c["person_type"] == "Company")
    ally = next(a for a in list_allies(engine) if a.siigo_id == record["id"])
    update_ally(engine, ally.id, {"business_name": "Nombre puesto aquí"}, actor=EDITOR)
    sandbox.update_customer(record["id"], name=["Nombre puesto en Siigo S.A.S."])
    preview = preview_import(engine, siigo_client, actor=EDITOR)
    (conflict,) = preview.conflicts
    assert conflict.fields["name"] == ("Nombre puesto aquí", "Nombre puesto en Siigo S.A.S.")
    apply_import(engine, preview, actor=EDITOR)
    assert get_ally(engine, ally.id).name == "Nombre puesto en Siigo S.A.S."


@pytest.mark.parametrize(("action", "status"), [("keep", "activo"), ("deactivate", "inactivo")])
def test_allies_gone_from_siigo_are_listed_and_handled_as_chosen(engine, sandbox, siigo_client,
                                                                 action, status):
    import_all(engine, siigo_client)
    gone = next(c for c in sandbox.customers if c.get("active", True))
    sandbox.remove_customer(gone["id"])
    preview = preview_import(engine, siigo_client, actor=EDITOR)
    assert [name for _, name in preview.missing] == [
        a.name for a in list_allies(engine) if a.siigo_id == gone["id"]]
    run = apply_import(engine, preview, missing_action=action, actor=EDITOR)
    ally = next(a for a in list_allies(engine) if a.siigo_id == gone["id"])
    assert ally.status == status
    assert run.deactivated == (1 if action == "deactivate" else 0)


def test_incremental_sync_asks_only_for_recent_changes(engine, sandbox, siigo_client):
    import_all(engine, siigo_client)
    record = sandbox.customers[5]
    sandbox.update_customer(record["id"], commercial_name="Nuevo Nombre Comercial")
    requests_before = siigo_client.stats.requests
    preview = preview_import(engine, siigo_client, mode=INCREMENTAL, actor=EDITOR)
    assert preview.mode == INCREMENTAL and preview.missing == []
    assert preview.fetched < len(sandbox.customers)
    assert [c.siigo_id for c in preview.changed] == [record["id"]]
    assert siigo_client.stats.requests - requests_before <= 2


def test_incremental_without_a_previous_run_does_a_full_one(engine, sandbox, siigo_client):
    preview = preview_import(engine, siigo_client, mode=INCREMENTAL, actor=EDITOR)
    assert preview.mode == FULL and preview.note


def test_a_second_import_while_one_runs_is_refused(engine, sandbox, siigo_client):
    with import_lock(engine):
        with pytest.raises(ImportBusyError, match="Ya hay una importación"):
            preview_import(engine, siigo_client, actor=EDITOR)


@pytest.mark.parametrize("mode", [FULL, INCREMENTAL])
def test_edit_here_survives_imports_until_siigo_changes_that_tercero(engine, sandbox,
                                                                     siigo_client, mode):
    import_all(engine, siigo_client)
    record = next(c for c in sandbox.customers if c["person_type"] == "Company")
    ally = next(a for a in list_allies(engine) if a.siigo_id == record["id"])
    update_ally(engine, ally.id, {"phone": "3209876543"}, actor=EDITOR)

    preview, run = import_all(engine, siigo_client, mode=mode)
    assert preview.changed == [] and run.updated == 0
    assert get_ally(engine, ally.id).phone == "3209876543"
    if mode == FULL:
        assert preview.kept_local == 1

    sandbox.update_customer(record["id"], commercial_name="Cambio en Siigo")
    preview, _ = import_all(engine, siigo_client, mode=mode)
    assert [c.siigo_id for c in preview.conflicts] == [record["id"]]
    assert get_ally(engine, ally.id).phone != "3209876543"  # Siigo wins once it changed

"""Creating, editing, deleting and listing allies on a real database."""

from __future__ import annotations

import threading
from datetime import UTC

import pytest

from core.allies import (
    AllyFilters, AllyNotFoundError, DuplicateDocumentError, count_allies, create_ally,
    dashboard_stats, delete_allies, get_ally, list_allies, save_grid_edits, update_ally,
    view_rows,
)
from core.validation import AllyValidationError
from tests.actors import EDITOR

COMPANY = {"ally_type": "proveedor", "person_type": "juridica", "id_type": "31",
           "identification": "900123456", "business_name": "Ferretería El Ñandú S.A.S.",
           "city_code": "11001", "email": "compras@ferreteria-nandu.example"}
PERSON = {"ally_type": "cliente", "person_type": "natural", "id_type": "13",
          "identification": "1020304050", "first_names": "María José",
          "last_names": "Pérez Gómez", "phone": "3001234567", "city_code": "05001"}


def test_create_stores_normalised_ally_with_aware_timestamps(engine):
    ally = create_ally(engine, {**COMPANY, "identification": "900.123.456-8"}, actor=EDITOR)
    stored = get_ally(engine, ally.id)
    assert (stored.identification, stored.check_digit) == ("900123456", "8")
    assert stored.origin == "manual" and stored.version == 1
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == UTC.utcoffset(None)


def test_same_document_written_another_way_is_refused_naming_the_ally(engine):
    first = create_ally(engine, COMPANY, actor=EDITOR)
    with pytest.raises(DuplicateDocumentError) as caught:
        create_ally(engine, {**COMPANY, "identification": "900.123.456-8",
                             "business_name": "Otra empresa"}, actor=EDITOR)
    assert caught.value.errors["identification"] == (
        f"Ya existe un aliado con este documento y sucursal: Ferretería El Ñandú S.A.S. "
        f"(id {first.id}). Edítelo en lugar de crear otro."
    )
    assert count_allies(engine) == 1


def test_another_branch_of_the_same_nit_is_a_new_ally(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    branch = {**COMPANY, "branch_office": 1, "business_name": "Ñandú Sucursal Norte"}
    create_ally(engine, branch, actor=EDITOR)
    assert count_allies(engine) == 2


def test_invalid_create_stores_nothing(engine):
    with pytest.raises(AllyValidationError):
        create_ally(engine, {**PERSON, "email": "sin arroba"}, actor=EDITOR)
    assert count_allies(engine) == 0


def test_update_saves_only_what_changed_and_bumps_version(engine):
    ally = create_ally(engine, PERSON, actor=EDITOR)
    updated, changed = update_ally(engine, ally.id, {"phone": "+57 310 555 0000", "notes": ""},
                                   actor=EDITOR)
    assert changed == ["phone"]
    assert updated.phone == "3105550000" and updated.version == 2
    _, nothing = update_ally(engine, ally.id, {"phone": "3105550000"}, actor=EDITOR)
    assert nothing == [] and get_ally(engine, ally.id).version == 2


def test_update_to_an_existing_document_is_refused(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    other = create_ally(engine, PERSON, actor=EDITOR)
    with pytest.raises(DuplicateDocumentError):
        update_ally(engine, other.id, {"person_type": "juridica", "id_type": "31",
                                       "identification": "900123456", "business_name": "X"},
                    actor=EDITOR)
    assert get_ally(engine, other.id).id_type == "13"


def test_update_of_a_deleted_ally_says_so(engine):
    ally = create_ally(engine, PERSON, actor=EDITOR)
    delete_allies(engine, [ally.id], actor=EDITOR)
    with pytest.raises(AllyNotFoundError, match="ya no existe"):
        update_ally(engine, ally.id, {"phone": "3001112233"}, actor=EDITOR)


def test_grid_edits_save_changed_rows_and_refuse_bad_ones(engine):
    company = create_ally(engine, COMPANY, actor=EDITOR)
    person = create_ally(engine, PERSON, actor=EDITOR)
    shown = view_rows(engine)
    edited = [dict(row) for row in shown]
    for row in edited:
        if row["id"] == company.id:
            row["status"] = "inactivo"
        else:
            row["email"] = "no es un correo"
    result = save_grid_edits(engine, shown, edited, actor=EDITOR)
    assert result.saved == [company.id]
    assert result.refused == [
        "María José Pérez Gómez: Correo. El correo no es válido: revise que tenga la forma "
        "nombre@dominio.co, sin espacios."
    ]
    assert get_ally(engine, company.id).status == "inactivo"
    assert get_ally(engine, person.id).email is None


def test_filtered_grid_never_touches_hidden_rows(engine):
    company = create_ally(engine, COMPANY, actor=EDITOR)
    person = create_ally(engine, PERSON, actor=EDITOR)
    shown = view_rows(engine, AllyFilters(ally_type="cliente"))
    assert [r["id"] for r in shown] == [person.id]
    edited = [dict(shown[0], phone="3119998877")]
    save_grid_edits(engine, shown, edited, actor=EDITOR)
    hidden = get_ally(engine, company.id)
    assert hidden.version == 1 and hidden.status == "activo"
    assert count_allies(engine) == 2


def test_grid_name_edit_of_a_person_keeps_surnames(engine):
    person = create_ally(engine, PERSON, actor=EDITOR)
    shown = view_rows(engine)
    save_grid_edits(engine, shown, [dict(shown[0], name="Ana María Pérez Gómez")], actor=EDITOR)
    stored = get_ally(engine, person.id)
    assert (stored.first_names, stored.last_names) == ("Ana María", "Pérez Gómez")


def test_delete_several_returns_how_many(engine):
    ids = [create_ally(engine, data, actor=EDITOR).id for data in (COMPANY, PERSON)]
    assert delete_allies(engine, ids + [999_999], actor=EDITOR) == 2
    assert count_allies(engine) == 0


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (AllyFilters(search="nandu"), ["Ferretería El Ñandú S.A.S."]),
        (AllyFilters(search="MEDELLIN"), ["María José Pérez Gómez"]),
        (AllyFilters(search="900123456-8"), ["Ferretería El Ñandú S.A.S."]),
        (AllyFilters(search="300123"), ["María José Pérez Gómez"]),
        (AllyFilters(search="100%_"), []),
        (AllyFilters(search="'; DROP TABLE ally; --"), []),
        (AllyFilters(ally_type="proveedor"), ["Ferretería El Ñandú S.A.S."]),
        (AllyFilters(city_code="05001", status="activo"), ["María José Pérez Gómez"]),
        (AllyFilters(origin="siigo"), []),
        (AllyFilters(), ["Ferretería El Ñandú S.A.S.", "María José Pérez Gómez"]),
    ],
)
def test_filters_run_in_sql(engine, filters, expected):
    create_ally(engine, COMPANY, actor=EDITOR)
    create_ally(engine, PERSON, actor=EDITOR)
    assert [a.name for a in list_allies(engine, filters)] == expected
    assert count_allies(engine, filters) == len(expected)


def test_view_rows_show_nit_with_check_digit(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    (row,) = view_rows(engine)
    assert row["document"] == "900123456-8" and row["city_name"] == "Bogotá"


def test_dashboard_stats_count_by_type_status_city_and_origin(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    create_ally(engine, {**PERSON, "status": "inactivo"}, actor=EDITOR)
    stats = dashboard_stats(engine)
    assert stats["total"] == 2
    assert stats["by_type"] == {"cliente": 1, "proveedor": 1}
    assert stats["by_status"] == {"activo": 1, "inactivo": 1}
    assert stats["by_origin"] == {"manual": 2}
    assert sorted(stats["top_cities"]) == [("Bogotá", 1), ("Medellín", 1)]
    assert sum(stats["per_month"].values()) == 2


def test_concurrent_creates_of_the_same_document_store_one(engine):
    outcomes: list[str] = []

    def worker():
        try:
            create_ally(engine, COMPANY, actor=EDITOR)
            outcomes.append("ok")
        except DuplicateDocumentError:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate"] * 3 + ["ok"]
    assert count_allies(engine) == 1


def test_new_per_month_counts_imported_allies_by_their_siigo_creation(engine, sandbox,
                                                                      siigo_client):
    from core.importer import FULL, apply_import, preview_import

    preview = preview_import(engine, siigo_client, mode=FULL, actor=EDITOR)
    apply_import(engine, preview, actor=EDITOR)
    per_month = dashboard_stats(engine)["per_month"]
    assert sum(per_month.values()) == len(sandbox.customers)
    assert len(per_month) > 12  # the data set spreads creations over years


def test_view_rows_limit_keeps_the_first_rows_in_order(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    create_ally(engine, PERSON, actor=EDITOR)
    assert [r["name"] for r in view_rows(engine, limit=1)] == ["Ferretería El Ñandú S.A.S."]


def test_view_is_ordered_ignoring_case_and_accents(engine):
    names = ["ANDRÉS CORTÉS S.A.S.", "Agropecuaria Andina", "Ángel Tienda", "ana distribuciones"]
    for n, name in enumerate(names):
        create_ally(engine, {**COMPANY, "identification": str(900_000_100 + n),
                             "business_name": name}, actor=EDITOR)
    assert [r["name"] for r in view_rows(engine)] == [
        "Agropecuaria Andina", "ana distribuciones", "ANDRÉS CORTÉS S.A.S.", "Ángel Tienda"]

"""Exports read back with openpyxl and csv, as a spreadsheet user would open them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest

from core.allies import AllyFilters, create_ally, update_ally
from core.export import export_csv, export_filename, export_xlsx, to_bogota, write_xlsx
from tests.actors import EDITOR

COMPANY = {"ally_type": "proveedor", "person_type": "juridica", "id_type": "31",
           "identification": "900123456", "business_name": "Ferretería El Ñandú S.A.S.",
           "city_code": "05001", "postal_code": "050001", "phone": "6044441234"}
PERSON = {"ally_type": "cliente", "person_type": "natural", "id_type": "41",
          "identification": "00012345", "first_names": "Zoë", "last_names": "Núñez"}


def sheet_of(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


def rows_by_header(sheet) -> list[dict]:
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, row)) for row in sheet.iter_rows(min_row=2)]


def test_xlsx_has_spanish_headers_frozen_row_and_autofilter(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    sheet = sheet_of(export_xlsx(engine))
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["ID", "Nombre / razón social", "Tipo", "Tipo de persona",
                          "Tipo de documento", "Identificación"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}2"


def test_xlsx_keeps_codes_and_leading_zeros_as_text(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    create_ally(engine, PERSON, actor=EDITOR)
    sheet = sheet_of(export_xlsx(engine))
    rows = {r["Nombre / razón social"].value: r for r in rows_by_header(sheet)}
    company = rows["Ferretería El Ñandú S.A.S."]
    assert company["Identificación"].value == "900123456-8"
    assert company["Código ciudad"].value == "05001" and company["Código ciudad"].data_type == "s"
    assert company["Código departamento"].value == "05"
    assert company["Código postal"].value == "050001"
    assert company["Teléfono"].value == "6044441234" and company["Teléfono"].data_type == "s"
    assert rows["Zoë Núñez"]["Identificación"].value == "00012345"


@pytest.mark.parametrize("text", ["=1+1", "+57 300", "-2+3", "@SUM(A1)", "=HYPERLINK(\"x\")"])
def test_xlsx_never_writes_a_formula(engine, text):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    update_ally(engine, ally.id, {"notes": text, "commercial_name": text}, actor=EDITOR)
    (row,) = rows_by_header(sheet_of(export_xlsx(engine)))
    assert row["Notas"].value == text and row["Notas"].data_type == "s"
    assert row["Nombre comercial"].data_type == "s"


def test_control_characters_are_dropped_from_the_file_only():
    rows = [{"id": 1, "name": "Tab\there", "notes": "bell\x07and\x0bvertical\x1f"}]
    data = write_xlsx(rows, {"id": "ID", "name": "Nombre", "notes": "Notas"})
    (row,) = rows_by_header(sheet_of(data))
    assert row["Notas"].value == "bellandvertical"
    assert rows[0]["notes"] == "bell\x07and\x0bvertical\x1f"


def test_times_land_in_bogota_whether_aware_or_naive():
    aware = datetime(2026, 1, 15, 17, 30, tzinfo=UTC)
    naive = datetime(2026, 1, 15, 17, 30)
    rows = [{"id": 1, "created_at": aware}, {"id": 2, "created_at": naive}]
    data = write_xlsx(rows, {"id": "ID", "created_at": "Creado"})
    values = [r["Creado"].value for r in rows_by_header(sheet_of(data))]
    assert values == [datetime(2026, 1, 15, 12, 30)] * 2
    assert to_bogota(aware) == datetime(2026, 1, 15, 12, 30)


def test_export_is_exactly_the_filtered_view(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    create_ally(engine, PERSON, actor=EDITOR)
    only_clients = rows_by_header(sheet_of(export_xlsx(engine, AllyFilters(ally_type="cliente"))))
    assert [r["Nombre / razón social"].value for r in only_clients] == ["Zoë Núñez"]


def test_csv_has_bom_accents_and_neutralised_formulas(engine):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    update_ally(engine, ally.id, {"notes": "=cmd|' /C calc'!A0"}, actor=EDITOR)
    data = export_csv(engine)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["Nombre / razón social"] == "Ferretería El Ñandú S.A.S."
    assert rows[0]["Notas"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["Código ciudad"] == "05001"


def test_empty_export_is_a_valid_workbook(engine):
    sheet = sheet_of(export_xlsx(engine))
    assert sheet.max_row == 1


def test_export_filename_uses_bogota_time():
    name = export_filename("xlsx", now=datetime(2026, 1, 1, 3, 0, tzinfo=UTC))
    assert name == "aliados_2025-12-31_2200.xlsx"


def test_export_filename_says_what_was_filtered_with_accents_and_enie():
    from core.catalogs import colombian_cities

    penol = next(c for c in colombian_cities().values() if c.name == "El Peñol")
    filters = AllyFilters(ally_type="proveedor", status="activo", city_code=penol.code,
                          search="Café / Ñandú")
    name = export_filename("csv", filters, now=datetime(2026, 3, 1, 15, 0, tzinfo=UTC))
    assert name == "aliados_proveedores_activos_el-peñol_café-ñandú_2026-03-01_1000.csv"


def test_export_can_be_narrowed_to_the_rows_a_grid_still_shows(engine):
    company = create_ally(engine, COMPANY, actor=EDITOR)
    person = create_ally(engine, PERSON, actor=EDITOR)
    rows = rows_by_header(sheet_of(export_xlsx(engine, ids=[person.id, company.id])))
    assert [r["ID"].value for r in rows] == [person.id, company.id]
    only = list(csv.DictReader(io.StringIO(export_csv(engine, ids=[company.id])
                                           .decode("utf-8-sig"))))
    assert [r["ID"] for r in only] == [str(company.id)]
    assert rows_by_header(sheet_of(export_xlsx(engine, AllyFilters(ally_type="cliente"),
                                               ids=[company.id]))) == []

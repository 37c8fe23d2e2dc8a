"""Exports of the filtered view: Excel (.xlsx) and CSV.

Excel files are written with xlsxwriter with every text cell written as text:
nothing that starts with ``=``, ``+``, ``-`` or ``@`` ever becomes a formula,
and identification numbers, phones and codes keep their leading zeros.
Characters that an .xlsx cannot hold (control characters) are dropped from
the file only; the database keeps what it has. Times are shown in
America/Bogota.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.allies import AllyFilters, apply_filters
from core.catalogs import (
    ALLY_TYPE_LABELS, DOCUMENT_TYPES, NIT, ORIGIN_LABELS, PERSON_TYPE_LABELS, STATUS_LABELS,
    colombian_cities,
)
from core.db import reading
from core.models import Ally

BOGOTA = ZoneInfo("America/Bogota")

EXPORT_COLUMNS: dict[str, str] = {
    "id": "ID",
    "name": "Nombre / razón social",
    "ally_type": "Tipo",
    "person_type": "Tipo de persona",
    "id_type": "Tipo de documento",
    "document": "Identificación",
    "branch_office": "Sucursal",
    "commercial_name": "Nombre comercial",
    "phone": "Teléfono",
    "phone_extension": "Extensión",
    "email": "Correo",
    "address": "Dirección",
    "city_name": "Ciudad",
    "state_name": "Departamento",
    "city_code": "Código ciudad",
    "state_code": "Código departamento",
    "postal_code": "Código postal",
    "status": "Estado",
    "origin": "Origen",
    "notes": "Notas",
    "created_at": "Creado",
    "updated_at": "Actualizado",
}
NUMBER_COLUMNS = {"id", "branch_office"}
TIME_COLUMNS = {"created_at", "updated_at"}
_WIDTHS = {"name": 36, "email": 30, "address": 32, "notes": 40, "document": 16}

# Characters XML 1.0 cannot carry, hence an .xlsx cannot either.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_PLURALS = {"cliente": "clientes", "proveedor": "proveedores", "otro": "otros",
            "activo": "activos", "inactivo": "inactivos"}


def _slug(text: str) -> str:
    """Letters (accents and ñ kept), digits and dashes: safe in a file name."""
    words = re.findall(r"[^\W_]+", text.lower())
    return "-".join(words)


def export_filename(
    extension: str, filters: AllyFilters | None = None, *, now: datetime | None = None
) -> str:
    """``aliados_proveedores_el-peñol_2026-12-03_1530.xlsx``: what was exported, and when."""
    parts = ["aliados"]
    if filters is not None:
        parts += [_PLURALS[v] for v in (filters.ally_type, filters.status) if v in _PLURALS]
        city = colombian_cities().get(filters.city_code or "")
        if city is not None:
            parts.append(_slug(city.name))
        if filters.search and _slug(filters.search):
            parts.append(_slug(filters.search)[:30])
    stamp = (now or datetime.now(BOGOTA)).astimezone(BOGOTA).strftime("%Y-%m-%d_%H%M")
    return f"{'_'.join(parts)}_{stamp}.{extension}"


def to_bogota(value: datetime | None) -> datetime | None:
    """A naive local time in Bogotá, the way a spreadsheet shows it; naive input is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(BOGOTA).replace(tzinfo=None)


def export_rows(
    engine: Engine, filters: AllyFilters | None = None, *, ids: list[int] | None = None
) -> Iterator[dict[str, Any]]:
    """The allies of the filtered view, with Spanish labels, in view order.

    ``ids`` narrows it further to the rows a grid still shows after its own
    column filters; they come back in the order given.
    """
    stmt = apply_filters(select(Ally), filters or AllyFilters()).order_by(Ally.sort_name, Ally.id)
    if ids is not None:
        stmt = stmt.where(Ally.id.in_(ids))
    with reading(engine) as session:
        allies = session.scalars(stmt).all()
    if ids is not None:
        position = {ally_id: n for n, ally_id in enumerate(ids)}
        allies = sorted(allies, key=lambda a: position[a.id])
    for ally in allies:
        document = ally.identification
        if ally.id_type == NIT and ally.check_digit is not None:
            document = f"{ally.identification}-{ally.check_digit}"
        doc_type = DOCUMENT_TYPES.get(ally.id_type)
        yield {
            "id": ally.id,
            "name": ally.name,
            "ally_type": ALLY_TYPE_LABELS.get(ally.ally_type, ally.ally_type),
            "person_type": PERSON_TYPE_LABELS.get(ally.person_type, ally.person_type),
            "id_type": doc_type.name if doc_type else ally.id_type,
            "document": document,
            "branch_office": ally.branch_office,
            "commercial_name": ally.commercial_name,
            "phone": ally.phone,
            "phone_extension": ally.phone_extension,
            "email": ally.email,
            "address": ally.address,
            "city_name": ally.city_name,
            "state_name": ally.state_name,
            "city_code": ally.city_code,
            "state_code": ally.state_code,
            "postal_code": ally.postal_code,
            "status": STATUS_LABELS.get(ally.status, ally.status),
            "origin": ORIGIN_LABELS.get(ally.origin, ally.origin),
            "notes": ally.notes,
            "created_at": ally.created_at,
            "updated_at": ally.updated_at,
        }


def write_xlsx(rows: Iterable[dict[str, Any]], columns: dict[str, str] = EXPORT_COLUMNS) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "in_memory": True,
        },
    )
    sheet = workbook.add_worksheet("Aliados")
    header = workbook.add_format({"bold": True, "bg_color": "#E8F1EE", "border": 1})
    text = workbook.add_format({"num_format": "@"})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    keys = list(columns)
    for col, key in enumerate(keys):
        sheet.write_string(0, col, columns[key], header)
        sheet.set_column(col, col, _WIDTHS.get(key, 14 if key not in TIME_COLUMNS else 17))
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, key in enumerate(keys):
            value = row.get(key)
            if value is None or value == "":
                continue
            if key in TIME_COLUMNS:
                sheet.write_datetime(count, col, to_bogota(value), when)
            elif key in NUMBER_COLUMNS:
                sheet.write_number(count, col, value)
            else:
                sheet.write_string(count, col, _XML_ILLEGAL.sub("", str(value)), text)
    sheet.autofilter(0, 0, max(count, 1), len(keys) - 1)
    workbook.close()
    return buffer.getvalue()


def _csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key in TIME_COLUMNS:
        return to_bogota(value).strftime("%Y-%m-%d %H:%M")
    text = str(value)
    # A spreadsheet opening the CSV would run "=..." as a formula; a leading
    # apostrophe keeps it text. Numbers such as "+573001234567" are left alone.
    if text.startswith(_FORMULA_START) and not re.fullmatch(r"[+-]?\d+", text):
        return "'" + text
    return text


def write_csv(rows: Iterable[dict[str, Any]], columns: dict[str, str] = EXPORT_COLUMNS) -> bytes:
    """UTF-8 with a BOM so Excel shows the accents."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns.values())
    for row in rows:
        writer.writerow([_csv_cell(key, row.get(key)) for key in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_xlsx(
    engine: Engine, filters: AllyFilters | None = None, *, ids: list[int] | None = None
) -> bytes:
    return write_xlsx(export_rows(engine, filters, ids=ids))


def export_csv(
    engine: Engine, filters: AllyFilters | None = None, *, ids: list[int] | None = None
) -> bytes:
    return write_csv(export_rows(engine, filters, ids=ids))

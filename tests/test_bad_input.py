"""Bad input everywhere it can enter: the form, the grid, the import and the CLI.

Each case says what must happen: a Spanish message naming the field, or a
documented normalisation (see core/validation.py). Never a crash, never a
silent change.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from core.allies import (
    AllyValidationError, DuplicateDocumentError, count_allies, create_ally, get_ally,
    list_allies, save_grid_edits, view_rows,
)
from core.importer import FULL, apply_import, preview_import
from core.siigo.dataset import generate_customers
from tests.actors import EDITOR

ROOT = Path(__file__).resolve().parent.parent
BASE = {"ally_type": "cliente", "person_type": "juridica", "id_type": "31",
        "identification": "900123456", "business_name": "Base S.A.S."}
HTML = "<img src=x onerror=alert(1)>"

# (case, field, typed value, expected stored value or None, expected error fragment or None)
CASES = [
    ("blank name", "business_name", "   \t ", None, "Escriba la razón social"),
    ("10,000 characters", "business_name", "A" * 10_000, None, "Admite hasta 300 caracteres"),
    ("emoji", "business_name", "Café ☕ Ñandú S.A.S.", "Café ☕ Ñandú S.A.S.", None),
    ("combining accent", "business_name", "Jose\u0301 y Cía", "José y Cía", None),
    ("right-to-left", "business_name", "شركة النخيل", "شركة النخيل", None),
    ("html and script", "business_name", HTML, HTML, None),
    ("quotes and sql", "business_name", "O'Brien \"Hnos\"; DROP TABLE ally; --",
     "O'Brien \"Hnos\"; DROP TABLE ally; --", None),
    ("line breaks in a name", "business_name", "Primera\nSegunda", "Primera Segunda", None),
    ("nit wrong check digit", "identification", "900.123.456-7", None, "es 8, no 7"),
    ("nit with dots and dv", "identification", "900.123.456-8", "900123456", None),
    ("phone +57 and spaces", "phone", "+57 300 123 4567", "3001234567", None),
    ("phone with extension", "phone", "601 234 5678 ext 45", "6012345678", None),
    ("old 7-digit landline", "phone", "234 5678", None, "anteponga 60"),
    ("phone letters", "phone", "tres cero cero", None, "No parece un número"),
    ("email capitals and spaces", "email", "  Ventas@Ejemplo.CO ", "ventas@ejemplo.co", None),
    ("email international domain", "email", "pedidos@ñandú.co", "pedidos@ñandú.co", None),
    ("email with a space", "email", "ventas @ejemplo.co", None, "El correo no es válido"),
    ("huge notes", "notes", "x" * 10_000, None, "Admite hasta 5.000 caracteres"),
]


@pytest.mark.parametrize(("case", "field", "value", "stored", "error"), CASES,
                         ids=[c[0] for c in CASES])
def test_form_input(engine, case, field, value, stored, error):
    data = {**BASE, field: value}
    if error:
        with pytest.raises(AllyValidationError) as caught:
            create_ally(engine, data, actor=EDITOR)
        assert any(error in message for message in caught.value.errors.values())
        assert count_allies(engine) == 0
        return
    ally = create_ally(engine, data, actor=EDITOR)
    assert getattr(get_ally(engine, ally.id), field) == stored


GRID_CASES = [c for c in CASES if c[1] in ("business_name", "phone", "email")]


@pytest.mark.parametrize(("case", "field", "value", "stored", "error"), GRID_CASES,
                         ids=[c[0] for c in GRID_CASES])
def test_grid_input(engine, case, field, value, stored, error):
    ally = create_ally(engine, BASE, actor=EDITOR)
    shown = view_rows(engine)
    column = "name" if field == "business_name" else field
    result = save_grid_edits(engine, shown, [dict(shown[0], **{column: value})], actor=EDITOR)
    after = get_ally(engine, ally.id)
    if error:
        assert result.saved == [] and len(result.refused) == 1
        assert result.refused[0].startswith("Base S.A.S.: ") and error in result.refused[0]
        assert after.version == 1
    else:
        assert result.saved == [ally.id] and getattr(after, field) == stored


def test_same_document_written_two_ways_is_the_same_ally(engine):
    create_ally(engine, {**BASE, "identification": "900.123.456-8"}, actor=EDITOR)
    with pytest.raises(DuplicateDocumentError):
        create_ally(engine, {**BASE, "identification": "900123456"}, actor=EDITOR)


def test_leading_zeros_of_a_passport_are_kept(engine):
    ally = create_ally(engine, {**BASE, "person_type": "natural", "id_type": "41",
                                "identification": "000123", "first_names": "Ana",
                                "last_names": "Ríos"}, actor=EDITOR)
    assert get_ally(engine, ally.id).identification == "000123"


def test_import_input_from_siigo(engine, sandbox, siigo_client):
    template = generate_customers(1, seed=404)[0]
    weird = [
        {"name": [HTML], "identification": "901000001", "person_type": "Company",
         "id_type": {"code": "31", "name": "NIT"}, "check_digit": None,
         "metadata": {"created": "2024-05-01T10:00:00-05:00"}},
        {"name": ["شركة النخيل"], "identification": "901000002", "person_type": "Company",
         "id_type": {"code": "31", "name": "NIT"}, "check_digit": None},
        {"name": ["x" * 10_000], "identification": "901000003", "person_type": "Company",
         "id_type": {"code": "31", "name": "NIT"}, "check_digit": None},
    ]
    ids = []
    for n, changes in enumerate(weird):
        record = copy.deepcopy(template)
        record.update(changes, id=f"0f6a5c1e-2222-4a2b-9c3d-00000000000{n}")
        if record.get("check_digit") is None:
            record.pop("check_digit")
        sandbox.add_customer(record)
        ids.append(record["id"])
    preview = preview_import(engine, siigo_client, mode=FULL, actor=EDITOR)
    apply_import(engine, preview, actor=EDITOR)
    stored = {a.siigo_id: a for a in list_allies(engine)}
    assert stored[ids[0]].name == HTML
    assert stored[ids[0]].siigo_created_at.isoformat() == "2024-05-01T15:00:00+00:00"
    assert stored[ids[1]].name == "شركة النخيل"
    (too_long,) = [r for r in preview.rejected if r.siigo_id == ids[2]]
    assert "Admite hasta 300 caracteres" in too_long.reason
    assert ids[2] not in stored


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["export", "--format", "pdf", "--out", "x"], "«pdf» no es válido"),
        (["export", "--format", "csv"], "faltan argumentos: --out"),
        (["sandbox", "--port", "ochenta"], "--port debe ser un número entero"),
        (["export", "--format", "csv", "--out", "-", "--type", "socio"], "«socio» no es válido"),
    ],
)
def test_cli_usage_errors_are_spanish(args, fragment, tmp_path):
    result = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin",
                                 "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert result.returncode == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_cli_search_with_sql_looking_text_is_just_text(tmp_path):
    out = tmp_path / "busqueda.csv"
    result = subprocess.run(
        [sys.executable, "-m", "core", "export", "--format", "csv", "--out", str(out),
         "--search", "'; DROP TABLE ally; --"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"},
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8-sig").count("\n") == 1  # the header only

"""Roles and people at once in headless Chromium: two editors on one ally, a lector, HTML names.

Each browser context is its own cookie jar, hence its own Streamlit session and person.
"""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from core.allies import create_ally, get_ally
from core.db import make_engine
from core.permissions import Actor
from tests.test_browser import cell, current_grid
from tests.ui_helpers import (
    CHROMIUM,
    chromium,
    create_accounts,
    log_in,
    nav_titles,
    new_page,
    open_page,
    running_app,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium no está instalado"),
]
SEEDER = Actor("editor", "editor", "Editor de Pruebas")
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
COMPANY = {
    "ally_type": "proveedor", "person_type": "juridica", "id_type": "31",
    "identification": "900123456", "business_name": "Ferretería El Ñandú S.A.S.",
    "city_code": "11001", "email": "compras@ferreteria-nandu.example", "phone": "6013456789",
}
HOSTILE = {
    "ally_type": "cliente", "person_type": "juridica", "id_type": "31",
    "identification": "860000111", "business_name": HOSTILE_NAME,
}


@pytest.fixture
def app(tmp_path):
    """The app on a database with the invented accounts and two allies; yields (base, engine)."""
    url = f"sqlite:///{tmp_path / 'roles.sqlite'}"
    create_accounts(url)
    engine = make_engine(url)
    create_ally(engine, COMPANY, actor=SEEDER)
    create_ally(engine, HOSTILE, actor=SEEDER)
    try:
        with running_app(url, {}) as base:
            yield base, engine
    finally:
        engine.dispose()


def field(page, label: str):
    return page.get_by_role("textbox", name=label, exact=True)


def choose_ally_to_edit(page, base: str, name: str) -> None:
    open_page(page, base, "Editar aliado")
    page.get_by_text("Elija el aliado que quiere editar").wait_for()
    page.locator("[data-testid='stSelectbox'] input").fill(name[:12])
    page.get_by_role("option", name=name, exact=False).first.click()
    page.get_by_role("button", name="Guardar cambios").wait_for()


def test_two_editors_on_one_ally_the_second_save_is_refused_naming_the_first(app):
    base, engine = app
    ally_id = next(a.id for a in [get_ally(engine, 1), get_ally(engine, 2)]
                   if a.name == COMPANY["business_name"])
    with chromium() as browser:
        first, second = new_page(browser), new_page(browser)
        log_in(first, base, "editor")
        log_in(second, base, "otra.editora")
        for page in (first, second):
            choose_ally_to_edit(page, base, COMPANY["business_name"])

        field(first, "Teléfono").fill("3209876543")
        first.get_by_role("button", name="Guardar cambios").click()
        first.get_by_text("Se guardaron los cambios de", exact=False).wait_for()
        assert get_ally(engine, ally_id).phone == "3209876543"

        field(second, "Correo").fill("pedidos@ferreteria-nandu.example")
        second.get_by_role("button", name="Guardar cambios").click()
        refusal = second.get_by_text("Otra persona guardó cambios en", exact=False)
        refusal.wait_for()
        message = refusal.inner_text()
        assert "Editor de Pruebas" in message and "Teléfono" in message
        assert "3209876543" in message

        stored = get_ally(engine, ally_id)
        assert stored.phone == "3209876543"
        assert stored.email == COMPANY["email"]  # the second change was not written
        assert stored.version == 2

        # Recargar shows the first person's change and drops the draft.
        second.get_by_role("button", name="Recargar").click()
        second.get_by_text("Se recargó el aliado", exact=False).wait_for()
        # The inputs may repaint a moment after the message: expect() waits for them.
        expect(field(second, "Teléfono")).to_have_value("3209876543")
        expect(field(second, "Correo")).to_have_value(COMPANY["email"])


def test_a_lector_finds_no_way_to_edit(app):
    base, engine = app
    with chromium() as browser:
        page = new_page(browser)
        # A bookmark of a page the role does not have leads to the Panel after signing in.
        log_in(page, base, "lectora", path="/crear_aliado")
        page.get_by_role("heading", name="Panel de aliados").wait_for()
        page.get_by_text(
            "Su rol (Lector) no permite abrir «Crear aliado»; se le mostró el Panel."
        ).wait_for()
        assert nav_titles(page) == ["Panel", "Aliados", "Historial"]
        open_page(page, base, "Aliados")
        with page.expect_download() as download:
            page.get_by_role("button", name="Descargar CSV").click()
        # The name core gives (export_filename) arrives intact.
        assert re.fullmatch(r"aliados_\d{4}-\d{2}-\d{2}_\d{4}\.csv",
                            download.value.suggested_filename)
        grid = current_grid(page, 0)
        target = cell(grid, 0, "name")
        before = target.inner_text()
        target.dblclick()
        page.keyboard.type("cambio")
        page.keyboard.press("Enter")
        assert grid.locator(".ag-cell-inline-editing").count() == 0
        assert target.inner_text() == before
        assert grid.locator(".ag-cell[col-id='ag-Grid-SelectionColumn']").count() == 0
        assert grid.locator(".ag-selection-checkbox, .ag-checkbox-input").count() == 0
        for label in ("Editar", "Eliminar"):
            assert page.get_by_role("button", name=label, exact=True).count() == 0
        assert {a.name for a in (get_ally(engine, 1), get_ally(engine, 2))} == {
            COMPANY["business_name"], HOSTILE_NAME,
        }

        # A filtered export is named after its filter; the ñ survives the download.
        search = page.get_by_label("Buscar")
        search.fill("ñandú")
        search.press("Enter")
        page.get_by_text("1 aliado", exact=False).first.wait_for()
        with page.expect_download() as filtered:
            page.get_by_role("button", name="Descargar Excel").click()
        assert re.fullmatch(r"aliados_ñandú_\d{4}-\d{2}-\d{2}_\d{4}\.xlsx",
                            filtered.value.suggested_filename)


def test_html_in_a_name_shows_as_plain_text_everywhere(app):
    base, _engine = app
    dialogs: list[str] = []
    with chromium() as browser:
        page = new_page(browser)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, base, "editor")

        open_page(page, base, "Aliados")
        grid = current_grid(page, 0)
        names = grid.locator(".ag-center-cols-container .ag-cell[col-id='name']")
        assert HOSTILE_NAME in names.all_inner_texts()
        assert grid.locator("img").count() == 0

        choose_ally_to_edit(page, base, HOSTILE_NAME)
        page.get_by_role("heading", name=HOSTILE_NAME, exact=True).wait_for()
        expect(field(page, "Razón social")).to_have_value(HOSTILE_NAME)

        open_page(page, base, "Historial")
        page.get_by_text("cambios", exact=False).first.wait_for()
        assert page.locator("img[src='x']").count() == 0
    assert dialogs == []

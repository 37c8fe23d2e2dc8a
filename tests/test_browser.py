"""The real app in headless Chromium: sign in, import from the sandbox, edit cells in the grid."""

from __future__ import annotations

import csv
import io
import shutil
import time

import pytest
from playwright.sync_api import expect

from core.allies import AllyNotFoundError, create_ally, get_ally
from core.db import make_engine
from core.permissions import Actor
from tests.ui_helpers import (
    CHROMIUM,
    browser_page,
    create_accounts,
    import_from_sandbox,
    log_in,
    nav_titles,
    open_page,
    running_app,
    siigo_env,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium no está instalado"),
]
GRID = "iframe[title*='st_aggrid']"
SAVE_WAIT_SECONDS = 30
# What an editor's sidebar offers.
NAV_TITLES = [
    "Panel", "Aliados", "Crear aliado", "Editar aliado", "Historial", "Importar desde Siigo",
]


def wait_until(check, what: str):
    """Poll ``check`` until it returns something truthy (the app saves asynchronously)."""
    deadline = time.monotonic() + SAVE_WAIT_SECONDS
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"never happened: {what}"
            return value
        time.sleep(0.2)


def current_grid(page, version: int):
    """The grid rendered after ``version`` saves (the page bumps its key on each save).

    A replaced grid lingers on the page while the rerun that replaces it runs, so
    the test picks the grid by its key instead of taking any grid iframe.
    """
    grid = page.frame_locator(f"[class*='st-key-aliados_grid_{version}_'] {GRID}")
    grid.locator(".ag-row").first.wait_for()
    return grid


def exists(engine, ally_id: int) -> bool:
    try:
        get_ally(engine, ally_id)
    except AllyNotFoundError:
        return False
    return True


def cell(grid, row_index: int, column: str):
    return grid.locator(
        f".ag-center-cols-container .ag-row[row-index='{row_index}'] .ag-cell[col-id='{column}']"
    )


def edit_cell(grid, row_index: int, column: str, text: str) -> None:
    cell(grid, row_index, column).dblclick()
    editor = grid.locator(".ag-cell-inline-editing input")
    editor.fill(text)
    editor.press("Enter")


def row_id(grid, row_index: int) -> int:
    return int(cell(grid, row_index, "id").inner_text().strip())


def test_import_then_edit_phone_and_name_in_the_grid(tmp_path, sandbox):
    url = f"sqlite:///{tmp_path / 'browser.sqlite'}"
    create_accounts(url)
    engine = make_engine(url)
    try:
        with running_app(url, siigo_env(sandbox.base_url)) as base, browser_page() as page:
            # A deep link as the first visit after start must get the login page, with
            # no automatic list of pages/ (helpers included). This very first visit
            # goes through the main script, so it lands on the Panel.
            log_in(page, base, "editor", path="/aliados")
            page.get_by_role("heading", name="Panel de aliados").wait_for()
            assert nav_titles(page) == NAV_TITLES
            page.get_by_text("Editor de Pruebas").wait_for()

            import_from_sandbox(page, base)

            open_page(page, base, "Aliados")
            page.get_by_text(
                "Los cambios a aliados de Siigo se conservan hasta que el tercero cambie en "
                "Siigo; entonces se aplica lo de Siigo (vea Importar)."
            ).wait_for()
            grid = current_grid(page, 0)
            assert grid.locator(".ag-center-cols-container .ag-row").count() > 1

            first = row_id(grid, 0)
            edit_cell(grid, 0, "phone", "320 987 6543")
            wait_until(lambda: get_ally(engine, first).phone == "3209876543", "phone saved")
            page.get_by_text("Se guardaron los cambios de 1 aliado.").wait_for()

            # The grid reloads from the database and shows the stored (normalised) value.
            grid = current_grid(page, 1)
            expect(cell(grid, 0, "phone")).to_have_text("3209876543")

            # An invalid e-mail is refused with the Spanish reason; the stored one stays.
            other = row_id(grid, 2)
            before = get_ally(engine, other).email
            edit_cell(grid, 2, "email", "correo sin arroba")
            page.get_by_text("El correo no es válido", exact=False).wait_for()
            assert get_ally(engine, other).email == before
            grid = current_grid(page, 2)
            assert row_id(grid, 2) == other
            expect(cell(grid, 2, "email")).to_have_text(before or "")

            # A name typed in the grid is saved too.
            second = row_id(grid, 1)
            edit_cell(grid, 1, "name", "Comercializadora Río Claro S.A.S.")
            wait_until(
                lambda: get_ally(engine, second).name == "Comercializadora Río Claro S.A.S.",
                "name saved",
            )

            # Selecting one row offers the full form for it.
            grid = current_grid(page, 3)
            chosen = row_id(grid, 0)
            cell(grid, 0, "ag-Grid-SelectionColumn").locator("input").click()
            page.get_by_role("button", name="Editar", exact=True).click()
            page.get_by_role("heading", name="Editar aliado").wait_for()
            page.get_by_text(f"ID {chosen} ·").wait_for()

            # Deleting asks first, naming how many, then removes them. A bookmark of
            # the grid opens it right after signing in, in a new session (grid version 0).
            log_in(page, base, "editor", path="/aliados")
            page.get_by_role("heading", name="Aliados", exact=True).wait_for()
            grid = current_grid(page, 0)

            # An ally from Siigo: the dialog warns that a full import brings it back
            # and offers to mark it inactive instead.
            kept = row_id(grid, 3)
            cell(grid, 3, "ag-Grid-SelectionColumn").locator("input").click()
            page.get_by_role("button", name="Eliminar", exact=True).click()
            page.get_by_text("viene de Siigo: una próxima importación completa lo volverá",
                             exact=False).wait_for()
            page.get_by_role("button", name="Marcar como inactivo", exact=True).click()
            page.get_by_text("Se marcó 1 aliado como inactivo.").wait_for()
            assert get_ally(engine, kept).status == "inactivo"

            grid = current_grid(page, 1)
            doomed = [row_id(grid, 0), row_id(grid, 1)]
            for index in (0, 1):
                cell(grid, index, "ag-Grid-SelectionColumn").locator("input").click()
            page.get_by_role("button", name="Eliminar", exact=True).click()
            page.get_by_text("¿Eliminar los 2 aliados seleccionados?").wait_for()
            page.get_by_text("puede restaurarlos desde el Historial", exact=False).wait_for()
            page.get_by_text("Los 2 vienen de Siigo", exact=False).wait_for()
            page.get_by_role("button", name="Sí, eliminar").click()
            page.get_by_text("Se eliminaron 2 aliados.").wait_for()
            assert all(not exists(engine, ally_id) for ally_id in doomed)
    finally:
        engine.dispose()


# Invented people in three cities: (city code, first name, surname), with accents and
# lower-case initials so the grid's sort has to ignore both.
PEOPLE = (
    ("76001", "Óscar", "Quintero"), ("11001", "Ángela", "Ardila"),
    ("76001", "álvaro", "Zapata"), ("05001", "zoila", "Restrepo"),
    ("76001", "Beatriz", "Mosquera"), ("11001", "carlos", "Londoño"),
)
# Sorted by name as a person reads it (case and accents aside).
BY_NAME = [
    "álvaro Zapata", "Ángela Ardila", "Beatriz Mosquera", "carlos Londoño",
    "Óscar Quintero", "zoila Restrepo",
]


def csv_ids(download) -> list[int]:
    with open(download.path(), encoding="utf-8-sig", newline="") as handle:
        return [int(row["ID"]) for row in csv.DictReader(io.StringIO(handle.read()))]


def shown_column(grid, column: str) -> list[str]:
    """The cells of ``column`` from top to bottom, read in one go.

    Rows are positioned, not ordered, in the DOM, and a row a filter hides stays
    there (with its old row-index) until AG Grid's animation ends.
    """
    cells = grid.locator(".ag-center-cols-container .ag-row").evaluate_all(
        """(rows, column) => rows.map(row => [
            Number(row.getAttribute('row-index')),
            row.querySelector(`.ag-cell[col-id='${column}']`)?.innerText ?? '',
        ])""",
        column,
    )
    indexes = [index for index, _text in cells]
    if len(set(indexes)) != len(indexes):
        return []  # some rows are still leaving
    return [text for _index, text in sorted(cells)]


def test_the_grid_sorts_and_filters_and_the_download_follows_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'grid_filter.sqlite'}"
    create_accounts(url)
    engine = make_engine(url)
    editor = Actor("editor", "editor", "Editor de Pruebas")
    allies = [
        create_ally(engine, {
            "ally_type": "cliente", "person_type": "natural", "id_type": "13",
            "identification": str(1020304050 + n), "first_names": first,
            "last_names": surname, "city_code": city,
        }, actor=editor)
        for n, (city, first, surname) in enumerate(PEOPLE)
    ]
    ids_by_name = {a.name: a.id for a in allies}
    in_cali = [ids_by_name[name] for name in BY_NAME
               if next(a for a in allies if a.name == name).city_code == "76001"]
    try:
        with running_app(url, {}) as base, browser_page() as page:
            log_in(page, base, "editor")
            open_page(page, base, "Aliados")
            page.get_by_text("6 aliados", exact=True).wait_for()
            grid = current_grid(page, 0)

            # Sorting by name ignores case and accents (accentedSort).
            grid.locator(".ag-header-cell[col-id='name'] .ag-header-cell-label").click()
            wait_until(lambda: shown_column(grid, "name") == BY_NAME, "sorted by name")

            # AG Grid's own filter on the city column: "contains Cali".
            grid.locator(
                ".ag-header-cell[col-id='city_name'] .ag-header-cell-filter-button"
            ).click()
            grid.locator(".ag-filter input[type='text']").first.fill("Cali")
            page.get_by_text("3 de 6 aliados con el filtro de la tabla").wait_for()
            # Rows the filter hides leave the DOM once AG Grid's row animation ends.
            wait_until(lambda: len(shown_column(grid, "id")) == len(in_cali), "rows hidden")
            assert [int(text) for text in shown_column(grid, "id")] == in_cali

            # The download holds exactly the rows shown, in the order shown.
            with page.expect_download() as download:
                page.get_by_role("button", name="Descargar CSV").click()
            assert csv_ids(download.value) == in_cali

            # An edit in the filtered grid is saved once, with the singular message.
            first = row_id(grid, 0)
            edit_cell(grid, 0, "phone", "315 555 0101")
            wait_until(lambda: get_ally(engine, first).phone == "3155550101", "phone saved")
            page.get_by_text("Se guardaron los cambios de 1 aliado.", exact=True).wait_for()
            assert get_ally(engine, first).version == 2
    finally:
        engine.dispose()

"""Aliados: filters, the editable grid, edit/delete of selected rows and the exports."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pandas as pd
import streamlit as st
from st_aggrid import AgGrid, DataReturnMode, GridOptionsBuilder

from core.allies import (
    GRID_EDITABLE,
    VIEW_COLUMNS,
    AllyFilters,
    city_options,
    count_allies,
    delete_allies,
    save_grid_edits,
    view_rows,
)
from core.catalogs import ALLY_TYPE_LABELS, ORIGIN_LABELS, STATUS_LABELS
from core.export import export_csv, export_filename, export_xlsx
from core.permissions import PermissionDeniedError
from pages.common import (
    EDIT_ALLY_KEY,
    allowed,
    count_text,
    current_actor,
    first_step_links,
    flash,
    format_int,
    get_engine,
    label_for,
    md_escape,
    require_navigation,
    require_permission,
    show_flashes,
)

# Not widget keys: they survive while the page is not rendered.
FILTERS_KEY = "_aliados_filters"
GRID_VERSION_KEY = "_aliados_grid_version"
SNAPSHOT_KEY = "_aliados_grid_snapshot"
# The grid gets what a person can page through; SQL filters narrow the rest.
MAX_GRID_ROWS = 5_000
FILTER_FIELDS = ("search", "ally_type", "status", "city_code", "origin")
# AG Grid's own texts (pagination, column filters) in Spanish.
GRID_LOCALE = {
    "page": "Página", "of": "de", "to": "a", "more": "más", "next": "Siguiente",
    "previous": "Anterior", "first": "Primera", "last": "Última",
    "pageSizeSelectorLabel": "Filas por página:", "noRowsToShow": "No hay filas para mostrar",
    "loadingOoo": "Cargando…", "filterOoo": "Filtrar…", "searchOoo": "Buscar…",
    "equals": "Igual a", "notEqual": "Distinto de", "contains": "Contiene",
    "notContains": "No contiene", "startsWith": "Empieza por", "endsWith": "Termina en",
    "blank": "Vacío", "notBlank": "No vacío", "lessThan": "Menor que",
    "greaterThan": "Mayor que", "lessThanOrEqual": "Menor o igual que",
    "greaterThanOrEqual": "Mayor o igual que", "inRange": "Entre", "andCondition": "Y",
    "orCondition": "O", "applyFilter": "Aplicar", "resetFilter": "Restablecer",
    "clearFilter": "Limpiar", "cancelFilter": "Cancelar", "selectAll": "Seleccionar todo",
    "sortAscending": "Orden ascendente", "sortDescending": "Orden descendente",
}


# How a quick edit of an ally from Siigo meets the next import (core.importer).
SIIGO_EDIT_NOTE = (
    "Los cambios a aliados de Siigo se conservan hasta que el tercero cambie en Siigo; "
    "entonces se aplica lo de Siigo (vea Importar)."
)
# Narrowest width of each grid column, in pixels (the others get 110).
MIN_WIDTHS = {"id": 80, "name": 260, "document": 140, "email": 170, "status": 100}


def _bump_grid() -> None:
    st.session_state[GRID_VERSION_KEY] = st.session_state.get(GRID_VERSION_KEY, 0) + 1


def _filter_widgets(engine) -> AllyFilters:
    saved: dict = st.session_state.setdefault(FILTERS_KEY, dict.fromkeys(FILTER_FIELDS))
    cities = dict(city_options(engine))
    if saved.get("city_code") not in cities:
        saved["city_code"] = None
    for name in FILTER_FIELDS:
        # Re-seed each widget from the stored filters after a visit to another page.
        if f"filtro_{name}" not in st.session_state:
            st.session_state[f"filtro_{name}"] = saved.get(name) or (
                "" if name == "search" else None
            )

    c1, c2, c3, c4, c5 = st.columns([3, 1, 1, 2, 1])
    c1.text_input(
        "Buscar", key="filtro_search", placeholder="Nombre, documento, correo, teléfono o ciudad",
    )
    c2.selectbox(
        "Tipo", [None, *ALLY_TYPE_LABELS], key="filtro_ally_type", placeholder="Todos",
        format_func=lambda v: label_for(ALLY_TYPE_LABELS, v),
    )
    c3.selectbox(
        "Estado", [None, *STATUS_LABELS], key="filtro_status", placeholder="Todos",
        format_func=lambda v: label_for(STATUS_LABELS, v),
    )
    c4.selectbox(
        "Ciudad", [None, *cities], key="filtro_city_code", placeholder="Todas",
        format_func=lambda v: "Todas" if v is None else cities.get(v, v),
    )
    c5.selectbox(
        "Origen", [None, *ORIGIN_LABELS], key="filtro_origin", placeholder="Todos",
        format_func=lambda v: label_for(ORIGIN_LABELS, v),
    )
    for name in FILTER_FIELDS:
        saved[name] = st.session_state[f"filtro_{name}"] or None
    return AllyFilters(**{name: saved[name] for name in FILTER_FIELDS})


def _grid_options(frame: pd.DataFrame, *, editable: bool, selectable: bool) -> dict:
    """Cells are plain text (no cell renderers, no JsCode): a name with HTML shows as typed."""
    builder = GridOptionsBuilder.from_dataframe(frame)
    builder.configure_default_column(
        filter=True, sortable=True, resizable=True, editable=False,
    )
    for field, header in VIEW_COLUMNS.items():
        # fitGridWidth shares the width out but never below these, so headers and most
        # names read whole; a narrow window scrolls sideways instead of cutting them.
        builder.configure_column(
            field, header, editable=editable and field in GRID_EDITABLE,
            minWidth=MIN_WIDTHS.get(field, 110),
        )
    builder.configure_column(
        "id", "ID", width=90, minWidth=MIN_WIDTHS["id"], maxWidth=120,
        filter="agNumberColumnFilter",
    )
    builder.configure_column(
        "name", VIEW_COLUMNS["name"], editable=editable and "name" in GRID_EDITABLE,
        minWidth=MIN_WIDTHS["name"], flex=2,
    )
    for field, labels in (("ally_type", ALLY_TYPE_LABELS), ("status", STATUS_LABELS)):
        # refData shows the Spanish label while the cell keeps the stored code.
        builder.configure_column(
            field, VIEW_COLUMNS[field], editable=editable, refData=labels,
            cellEditor="agSelectCellEditor", cellEditorParams={"values": list(labels)},
        )
    builder.configure_column("origin", VIEW_COLUMNS["origin"], refData=ORIGIN_LABELS)
    if selectable:
        builder.configure_grid_options(
            rowSelection={
                "mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
                "enableClickSelection": False,
            },
            # The checkbox column needs no filter or sort of its own.
            selectionColumnDef={
                "filter": False, "sortable": False, "resizable": False, "width": 50,
                "minWidth": 50, "maxWidth": 50, "suppressHeaderMenuButton": True,
            },
        )
    builder.configure_grid_options(
        pagination=True, paginationPageSize=50, paginationPageSizeSelector=[25, 50, 100, 500],
        stopEditingWhenCellsLoseFocus=True, singleClickEdit=False, localeText=GRID_LOCALE,
        # Sorting compares with the locale: "álvaro" sits by "Alvaro", not after "Zapata".
        accentedSort=True,
    )
    return builder.build()


def _siigo_warning(selected: list[dict]) -> str | None:
    """Why deleting allies that came from Siigo does not last, and what to do instead."""
    siigo = [row for row in selected if row.get("origin") == "siigo"]
    if not siigo:
        return None
    n, one = len(siigo), len(siigo) == 1
    if len(selected) == 1:
        who = f"«{md_escape(siigo[0]['name'])}» viene de Siigo"
    elif n == len(selected):
        who = f"Los {format_int(n)} vienen de Siigo"
    else:
        who = f"{format_int(n)} de los {format_int(len(selected))} " + (
            "viene de Siigo" if one else "vienen de Siigo"
        )
    it = "lo" if one else "los"
    return (
        f"{who}: una próxima importación completa {it} volverá a traer, salvo que "
        f"{it} elimine o {it} inactive también en Siigo. Si solo dejó de trabajar con "
        f"{'ese tercero' if one else 'esos terceros'}, mejor márque{it} como "
        f"inactivo{'' if one else 's'} en lugar de eliminar{it}."
    )


def _deactivate(selected: list[dict]) -> None:
    """Mark the selected allies inactive (the grid's own save, with their versions)."""
    active = [row for row in selected if row.get("status") != "inactivo"]
    edited = [{**row, "status": "inactivo"} for row in active]
    result = save_grid_edits(get_engine(), active, edited, actor=current_actor())
    if result.saved:
        verb = "Se marcó" if len(result.saved) == 1 else "Se marcaron"
        flash("success", f"{verb} {count_text(len(result.saved), 'aliado')} como inactivo"
              f"{'' if len(result.saved) == 1 else 's'}.")
    elif not result.refused:
        flash("info", "Los aliados seleccionados ya estaban inactivos.")
    for message in result.refused:
        flash("error", f"No se guardó: {message}")


@st.dialog("Eliminar aliados")
def _confirm_delete(selected: list[dict]) -> None:
    if len(selected) == 1:
        undo = "Si se equivoca, puede restaurarlo desde el Historial."
        st.write(f"¿Eliminar a **{md_escape(selected[0]['name'])}**? {undo}")
    else:
        undo = "Si se equivoca, puede restaurarlos desde el Historial."
        st.write(f"¿Eliminar los **{format_int(len(selected))}** aliados seleccionados? {undo}")
        st.caption(md_escape(", ".join(row["name"] for row in selected[:10])) + (
            "…" if len(selected) > 10 else ""
        ))
    warning = _siigo_warning(selected)
    if warning:
        st.warning(warning, icon=":material/sync:")
    c1, c2, c3 = st.columns(3)
    if c1.button("Sí, eliminar", type="primary", key="aliados_delete_confirm"):
        ids = [row["id"] for row in selected]
        try:
            deleted = delete_allies(get_engine(), ids, actor=current_actor())
        except PermissionDeniedError as exc:
            flash("error", str(exc))
        else:
            verb = "Se eliminó" if deleted == 1 else "Se eliminaron"
            flash("success", f"{verb} {count_text(deleted, 'aliado')}.")
        _bump_grid()
        st.rerun()
    if warning and allowed("edit") and c2.button(
        "Marcar como inactivos" if len(selected) > 1 else "Marcar como inactivo",
        key="aliados_delete_deactivate",
    ):
        _deactivate(selected)
        _bump_grid()
        st.rerun()
    if c3.button("Cancelar", key="aliados_delete_cancel"):
        st.rerun()


def _grid_view(response, *, all_rows_sent: bool) -> tuple[list[int] | None, bool]:
    """What the grid shows: (ids of its rows in its order, or None; column filter on?).

    The ids come while a column filter is on, or while the grid is sorted by a
    column and holds every row of the view (then a download keeps that order).
    None means the grid shows the view as core sorts it, and the exports need
    no ids; so does a grid that has not reported anything yet.
    """
    if not isinstance(response, dict):
        return None, False
    state = response.get("gridState") or {}
    filtered = bool((state.get("filter") or {}).get("filterModel"))
    sorted_ = bool((state.get("sort") or {}).get("sortModel"))
    if not filtered and not (sorted_ and all_rows_sent):
        return None, False
    ids_by_node = {
        node.get("id"): (node.get("data") or {}).get("id") for node in response.get("nodes", [])
    }
    shown = (ids_by_node.get(node_id) for node_id in response.get("rowIdsAfterSortAndFilter", []))
    return [int(ally_id) for ally_id in shown if ally_id is not None], filtered


def _count_line(total: int, filters: AllyFilters, grid_ids: list[int] | None,
                grid_filtered: bool) -> str:
    """ "75 aliados", or "4 de 75 aliados con el filtro de la tabla" as the grid shows it."""
    if not grid_filtered or grid_ids is None:
        suffix = "" if filters.is_empty() else " con estos filtros"
        return f"**{count_text(total, 'aliado')}**{suffix}"
    also = "" if filters.is_empty() else " y estos filtros"
    return (
        f"**{format_int(len(grid_ids))} de {count_text(total, 'aliado')}** "
        f"con el filtro de la tabla{also}"
    )


def _records(frame: pd.DataFrame | None) -> list[dict]:
    if frame is None or len(frame) == 0:
        return []
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


require_navigation()
require_permission("browse")
st.title("Aliados")
show_flashes()
engine = get_engine()
can_edit, can_delete = allowed("edit"), allowed("delete")
filters = _filter_widgets(engine)

# The grid keeps the rows it was first sent until the filters change or a save
# happens; edits are compared against exactly those rows.
filter_hash = hashlib.sha1(json.dumps(asdict(filters), sort_keys=True).encode()).hexdigest()
grid_key = f"aliados_grid_{st.session_state.get(GRID_VERSION_KEY, 0)}_{filter_hash[:10]}"
snapshot = st.session_state.get(SNAPSHOT_KEY)
if snapshot is None or snapshot[0] != grid_key:
    snapshot = (
        grid_key, view_rows(engine, filters, limit=MAX_GRID_ROWS), count_allies(engine, filters)
    )
    st.session_state[SNAPSHOT_KEY] = snapshot
_key, rows, total = snapshot

# The count is written once the grid has said which rows its column filters leave.
head, reload_col = st.columns([5, 1])
if reload_col.button("Recargar", key="aliados_reload", help="Vuelve a leer la base de datos."):
    _bump_grid()
    st.rerun()

if not rows:
    head.markdown(_count_line(total, filters, None, False))
    if filters.is_empty():
        st.info("Todavía no hay aliados.")
        first_step_links()
    else:
        st.info("Ningún aliado cumple estos filtros.")
    st.stop()

if total > len(rows):
    st.warning(
        f"Se muestran los primeros {format_int(len(rows))} de {format_int(total)}: "
        "use los filtros para encontrar el resto. Las descargas incluyen todos, salvo "
        "si filtra dentro de la tabla: entonces llevan lo que la tabla muestra."
    )

frame = pd.DataFrame(rows, columns=list(VIEW_COLUMNS))
if can_edit:
    st.caption("Doble clic en nombre, tipo, teléfono, correo o estado para editar; Enter guarda.")
    if any(row["origin"] == "siigo" for row in rows):
        st.caption(SIIGO_EDIT_NOTE)
else:
    st.caption("Su rol permite consultar y descargar los aliados, no modificarlos.")
grid = AgGrid(
    frame,
    gridOptions=_grid_options(frame, editable=can_edit, selectable=can_edit or can_delete),
    height=520,
    # The grid reports the rows its own column filters and sorting leave, for the
    # count and the downloads; edits are still compared against ``rows``.
    data_return_mode=DataReturnMode.FILTERED_AND_SORTED,
    update_on=["filterChanged", "sortChanged"]
    + (["cellValueChanged"] if can_edit else [])
    + (["selectionChanged"] if can_edit or can_delete else []),
    allow_unsafe_jscode=False,
    key=grid_key,
    theme="streamlit",
    show_toolbar=False,
)

grid_ids, grid_filtered = _grid_view(grid.grid_response, all_rows_sent=total == len(rows))
head.markdown(_count_line(total, filters, grid_ids, grid_filtered))

edited = _records(grid.data) if can_edit and grid.grid_response else []
if edited:
    result = save_grid_edits(engine, rows, edited, actor=current_actor())
    if result.saved or result.refused:
        if result.saved:
            saved = count_text(len(result.saved), "aliado")
            flash("success", f"Se guardaron los cambios de {saved}.")
        for message in result.refused:
            flash("error", f"No se guardó: {message}")
        _bump_grid()
        st.rerun()

selected = _records(grid.selected_rows) if can_edit or can_delete else []
chosen = [(int(r["id"]), str(r["name"])) for r in selected]
if grid_filtered and grid_ids is not None:
    # A row the column filter hides stays selected in AG Grid; act only on what shows.
    visible = set(grid_ids)
    chosen = [(ally_id, name) for ally_id, name in chosen if ally_id in visible]
c1, c2, c3, c4 = st.columns(4)
if can_edit and c1.button(
    "Editar", key="aliados_edit", disabled=len(chosen) != 1,
    help="Seleccione una sola fila para editarla en el formulario completo.",
):
    st.session_state[EDIT_ALLY_KEY] = chosen[0][0]
    st.switch_page("pages/editar_aliado.py")
if can_delete and c2.button(
    "Eliminar", key="aliados_delete", disabled=not chosen, help="Seleccione una o varias filas.",
):
    by_id = {row["id"]: row for row in rows}
    _confirm_delete([by_id[ally_id] for ally_id, _name in chosen if ally_id in by_id])
c3.download_button(
    "Descargar Excel", data=lambda: export_xlsx(engine, filters, ids=grid_ids),
    file_name=export_filename("xlsx", filters), on_click="ignore", key="aliados_xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
c4.download_button(
    "Descargar CSV", data=lambda: export_csv(engine, filters, ids=grid_ids),
    file_name=export_filename("csv", filters), on_click="ignore", key="aliados_csv",
    mime="text/csv",
)

"""Editar aliado: the form prefilled from the stored ally; saves only what changed.

The form keeps the version of the ally it was filled from and saves with it, so a
save made meanwhile by someone else is never overwritten: core refuses it with
StaleVersionError, whose message says what the other person changed.
"""

import streamlit as st

from core.allies import (
    AllyNotFoundError,
    AllyValidationError,
    StaleVersionError,
    ally_form_values,
    get_ally,
    list_allies,
    update_ally,
)
from core.catalogs import ORIGIN_LABELS
from core.history import list_history
from core.permissions import PermissionDeniedError
from core.validation import FIELD_LABELS
from pages import ally_form
from pages.common import (
    EDIT_ALLY_KEY,
    allowed,
    current_actor,
    flash,
    get_engine,
    md_escape,
    require_navigation,
    require_permission,
    show_flashes,
)
from pages.history_view import show_history

VERSION_KEY = "_edit_form_version"
# ally id -> (version, form values) as loaded when the form was filled.
LOADED_KEY = "_edit_loaded"
# ally id -> the Spanish message of a refused (stale) save.
STALE_KEY = "_edit_stale"
HISTORY_SHOWN = 50


def _prefix(ally_id: int) -> str:
    return f"editar_{ally_id}_v{st.session_state.get(VERSION_KEY, 0)}_"


def _new_form() -> None:
    """New widget keys, so the form is filled again from the stored ally."""
    st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1


def _selected_id() -> int | None:
    """The ally to edit: from the grid page, else from ``?id=`` in the address."""
    raw = st.query_params.get("id")
    if raw is not None:
        try:
            st.session_state[EDIT_ALLY_KEY] = int(raw)
        except ValueError:
            st.warning(f"El parámetro id={raw!r} no es un número de aliado.")
    return st.session_state.get(EDIT_ALLY_KEY)


def _loaded(ally) -> tuple[int, dict]:
    """The version and values the form was filled from (taken again for a fresh form)."""
    loaded: dict = st.session_state.setdefault(LOADED_KEY, {})
    fresh_form = ally_form.field_key(_prefix(ally.id), "ally_type") not in st.session_state
    if fresh_form or ally.id not in loaded:
        loaded[ally.id] = (ally.version, ally_form_values(ally))
    return loaded[ally.id]


def _save(ally_id: int, version: int, initial: dict) -> None:
    prefix = _prefix(ally_id)
    changes = ally_form.changed_values(ally_form.collect(prefix, initial), initial)
    if not changes:
        flash("info", "No hay cambios que guardar.")
        return
    try:
        ally, changed = update_ally(
            get_engine(), ally_id, changes, actor=current_actor(), expected_version=version,
        )
    except AllyValidationError as exc:
        ally_form.set_errors(prefix, exc.errors)
        return
    except StaleVersionError as exc:
        st.session_state.setdefault(STALE_KEY, {})[ally_id] = str(exc)
        return
    except (AllyNotFoundError, PermissionDeniedError) as exc:
        flash("error", str(exc))
        return
    ally_form.reset(prefix)
    st.session_state.get(LOADED_KEY, {}).pop(ally_id, None)
    st.session_state.get(STALE_KEY, {}).pop(ally_id, None)
    _new_form()
    if changed:
        names = ", ".join(FIELD_LABELS.get(name, name) for name in changed)
        flash("toast", f"Aliado guardado: {md_escape(ally.name)}")
        flash("success", f"Se guardaron los cambios de «{md_escape(ally.name)}» en: {names}.")
    else:
        flash("info", "No hay cambios que guardar: los valores ya eran esos.")


def _reload(ally_id: int) -> None:
    """Drop the draft and the stale version; the form shows the ally as stored now."""
    ally_form.reset(_prefix(ally_id))
    st.session_state.get(LOADED_KEY, {}).pop(ally_id, None)
    st.session_state.get(STALE_KEY, {}).pop(ally_id, None)
    _new_form()
    flash("info", "Se recargó el aliado con los datos guardados ahora.")


require_navigation()
require_permission("edit")
st.title("Editar aliado")
show_flashes()
engine = get_engine()
ally_id = _selected_id()

ally = None
if ally_id is not None:
    try:
        ally = get_ally(engine, int(ally_id))
    except AllyNotFoundError as exc:
        st.warning(str(exc))
        st.session_state.pop(EDIT_ALLY_KEY, None)

if ally is None:
    allies = list_allies(engine)
    if not allies:
        st.info("No hay aliados para editar.")
        if allowed("create"):
            st.page_link(
                "pages/crear_aliado.py", label="Crear un aliado", icon=":material/person_add:"
            )
        st.stop()
    choice = st.selectbox(
        "Elija el aliado que quiere editar",
        [a.id for a in allies],
        index=None,
        format_func={a.id: f"{a.name} · {a.identification}" for a in allies}.get,
        placeholder="Escriba para buscar por nombre o documento",
        key="editar_choice",
    )
    if choice is None:
        st.stop()
    st.session_state[EDIT_ALLY_KEY] = choice
    st.rerun()

version, initial = _loaded(ally)
top, change = st.columns([4, 1])
top.subheader(md_escape(ally.name), anchor=False)
top.caption(f"ID {ally.id} · Origen: {ORIGIN_LABELS.get(ally.origin, ally.origin)}")
if change.button("Editar otro aliado", key="editar_other"):
    st.session_state.pop(EDIT_ALLY_KEY, None)
    st.query_params.clear()
    st.rerun()
if ally.origin == "siigo":
    st.info(
        "Este aliado viene de Siigo: lo que cambie aquí se conserva hasta que el tercero "
        "cambie en Siigo; entonces se aplica lo de Siigo en los datos que Siigo administra. "
        "Las notas se conservan siempre."
    )

stale = st.session_state.get(STALE_KEY, {}).get(ally.id)
if stale:
    st.error(stale)
    st.button(
        "Recargar", key=f"editar_reload_{ally.id}", type="primary", on_click=_reload,
        args=(ally.id,), help="Descarta lo que escribió y muestra el aliado como está guardado.",
    )

ally_form.render(
    _prefix(ally.id), initial, submit_label="Guardar cambios",
    on_submit=lambda: _save(ally.id, version, initial),
)

st.divider()
st.subheader("Historial de este aliado", anchor=False)
entries = list_history(engine, ally_id=ally.id, limit=HISTORY_SHOWN)
if entries:
    show_history(entries, key=f"editar_history_{ally.id}")
else:
    st.caption("Sin cambios registrados.")

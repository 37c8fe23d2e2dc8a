"""Editar aliado: the form prefilled from the stored ally; saves only what changed."""

import streamlit as st

from core.allies import (
    AllyNotFoundError,
    AllyValidationError,
    ally_form_values,
    get_ally,
    list_allies,
    update_ally,
)
from core.validation import FIELD_LABELS
from pages import ally_form
from pages.common import (
    EDIT_ALLY_KEY, current_actor, flash, get_engine, require_navigation, show_flashes,
)

VERSION_KEY = "_edit_form_version"


def _prefix(ally_id: int) -> str:
    return f"editar_{ally_id}_v{st.session_state.get(VERSION_KEY, 0)}_"


def _selected_id() -> int | None:
    """The ally to edit: from the grid page, else from ``?id=`` in the address."""
    raw = st.query_params.get("id")
    if raw is not None:
        try:
            st.session_state[EDIT_ALLY_KEY] = int(raw)
        except ValueError:
            st.warning(f"El parámetro id={raw!r} no es un número de aliado.")
    return st.session_state.get(EDIT_ALLY_KEY)


def _save(ally_id: int, initial: dict) -> None:
    prefix = _prefix(ally_id)
    changes = ally_form.changed_values(ally_form.collect(prefix, initial), initial)
    if not changes:
        flash("info", "No hay cambios que guardar.")
        return
    try:
        ally, changed = update_ally(get_engine(), ally_id, changes, actor=current_actor())
    except AllyValidationError as exc:
        ally_form.set_errors(prefix, exc.errors)
        return
    except AllyNotFoundError as exc:
        flash("error", str(exc))
        return
    ally_form.reset(prefix)
    # New widget keys: the form shows the values as core stored them.
    st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1
    if changed:
        names = ", ".join(FIELD_LABELS.get(name, name) for name in changed)
        flash("toast", f"Aliado guardado: {ally.name}")
        flash("success", f"Se guardaron los cambios de «{ally.name}» en: {names}.")
    else:
        flash("info", "No hay cambios que guardar: los valores ya eran esos.")


require_navigation()
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
        st.info("No hay aliados para editar. Cree uno o impórtelos desde Siigo.")
        st.page_link("pages/crear_aliado.py", label="Crear un aliado", icon=":material/person_add:")
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

top, change = st.columns([4, 1])
top.subheader(ally.name)
top.caption(f"ID {ally.id} · origen {ally.origin} · versión {ally.version}")
if change.button("Editar otro aliado", key="editar_other"):
    st.session_state.pop(EDIT_ALLY_KEY, None)
    st.query_params.clear()
    st.rerun()
if ally.origin == "siigo":
    st.info(
        "Este aliado viene de Siigo: la próxima importación volverá a poner los datos que "
        "administra Siigo. Las notas se conservan."
    )

initial = ally_form_values(ally)
ally_form.render(
    _prefix(ally.id), initial, submit_label="Guardar cambios",
    on_submit=lambda: _save(ally.id, initial),
)

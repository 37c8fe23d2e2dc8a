"""Crear aliado: the empty form; saving calls core.allies.create_ally."""

import streamlit as st

from core.allies import AllyValidationError, create_ally
from core.permissions import PermissionDeniedError
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

PREFIX = "crear_"
LAST_CREATED_KEY = "_last_created_ally"


def _create() -> None:
    data = ally_form.collect(PREFIX, ally_form.BLANK)
    try:
        ally = create_ally(get_engine(), data, actor=current_actor())
    except AllyValidationError as exc:
        ally_form.set_errors(PREFIX, exc.errors)
        return
    except PermissionDeniedError as exc:
        flash("error", str(exc))
        return
    ally_form.reset(PREFIX)
    st.session_state[LAST_CREATED_KEY] = (ally.id, ally.name)
    flash("toast", f"Aliado creado: {md_escape(ally.name)}")


require_navigation()
require_permission("create")
st.title("Crear aliado")
show_flashes()

last = st.session_state.get(LAST_CREATED_KEY)
if last:
    ally_id, name = last
    st.success(
        f"Se guardó «{md_escape(name)}». Ya aparece en el panel y en la lista de aliados."
    )
    c1, c2 = st.columns(2)
    c1.page_link("pages/aliados.py", label="Ver la lista de aliados", icon=":material/groups:")
    if allowed("edit") and c2.button("Editar este aliado", key="crear_edit_last"):
        st.session_state[EDIT_ALLY_KEY] = ally_id
        st.session_state.pop(LAST_CREATED_KEY, None)
        st.switch_page("pages/editar_aliado.py")

ally_form.render(PREFIX, ally_form.BLANK, submit_label="Crear aliado", on_submit=_create)

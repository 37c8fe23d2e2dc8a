"""Historial: who changed which ally, when and how; deleted allies can be restored."""

import streamlit as st

from core.history import ACTION_LABELS, RestoreError, history_users, list_history, restore_deleted
from core.permissions import PermissionDeniedError
from pages.common import (
    allowed,
    count_text,
    current_actor,
    flash,
    format_datetime,
    get_engine,
    label_for,
    md_escape,
    require_navigation,
    require_permission,
    show_flashes,
)
from pages.history_view import show_history

RESTORE_SHOWN = 20


def _restore(entry_id: int) -> None:
    try:
        ally = restore_deleted(get_engine(), entry_id, actor=current_actor())
    except (RestoreError, PermissionDeniedError) as exc:
        flash("error", str(exc))
        return
    flash("success", f"Se restauró «{ally.name}» con su id {ally.id}, tal como estaba.")


require_navigation()
require_permission("browse")
st.title("Historial")
show_flashes()
engine = get_engine()

users = history_users(engine)
c1, c2, c3, c4, c5 = st.columns([2, 2, 1, 1, 3])
username = c1.selectbox(
    "Usuario", [None, *users], key="historial_user", placeholder="Todos",
    format_func=lambda v: "Todos" if v is None else v,
)
action = c2.selectbox(
    "Acción", [None, *ACTION_LABELS], key="historial_action", placeholder="Todas",
    format_func=lambda v: "Todas" if v is None else label_for(ACTION_LABELS, v),
)
date_from = c3.date_input("Desde", value=None, key="historial_from", format="DD/MM/YYYY")
date_to = c4.date_input("Hasta", value=None, key="historial_to", format="DD/MM/YYYY")
search = c5.text_input("Aliado", key="historial_search", placeholder="Parte del nombre")

if date_from and date_to and date_from > date_to:
    st.warning("La fecha «Desde» es posterior a «Hasta»: no puede haber resultados.")

entries = list_history(
    engine, username=username, action=action, date_from=date_from, date_to=date_to,
    search=search.strip() or None,
)
if not entries:
    st.info("No hay cambios registrados con estos filtros.")
    st.stop()

st.markdown(f"**{count_text(len(entries), 'cambio')}**, del más reciente al más antiguo.")
show_history(entries, key="historial_table")

restorable = [e for e in entries if e.restorable]
if restorable and allowed("restore"):
    st.subheader("Restaurar aliados eliminados")
    st.caption("Vuelve a poner el aliado tal como estaba, con su mismo id.")
    for entry in restorable[:RESTORE_SHOWN]:
        text_col, button_col = st.columns([5, 1])
        text_col.markdown(
            f"{format_datetime(entry.at)} · **{md_escape(entry.ally_name)}** "
            f"(id {entry.ally_id}) · eliminado por {md_escape(entry.user_label)}"
        )
        button_col.button(
            "Restaurar", key=f"historial_restore_{entry.id}", on_click=_restore,
            args=(entry.id,),
        )
    if len(restorable) > RESTORE_SHOWN:
        st.caption(
            f"Se muestran {RESTORE_SHOWN} de {len(restorable)}: use los filtros para ver el resto."
        )

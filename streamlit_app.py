"""Entry point: `streamlit run streamlit_app.py` opens the Aliados dashboard.

Until someone signs in, the navigation holds only the login page; afterwards it
holds the pages the person's role may use (core.permissions.can).
"""

import streamlit as st

from core.permissions import ROLE_LABELS, can
from pages.common import (
    MAIN_RAN_KEY, get_settings, md_escape, refresh_session, sign_out,
)

st.set_page_config(page_title="Aliados", page_icon=":material/handshake:", layout="wide")


def _log_out() -> None:
    sign_out("Cerró la sesión. Hasta pronto.")
    if get_settings().AUTH_MODE == "oidc":
        st.logout()


def _pages(actor) -> dict[str, list]:
    allies = [
        st.Page("pages/panel.py", title="Panel", icon=":material/dashboard:", default=True),
        st.Page("pages/aliados.py", title="Aliados", icon=":material/groups:"),
    ]
    if can(actor, "create"):
        allies.append(
            st.Page("pages/crear_aliado.py", title="Crear aliado", icon=":material/person_add:")
        )
    if can(actor, "edit"):
        allies.append(
            st.Page("pages/editar_aliado.py", title="Editar aliado", icon=":material/edit:")
        )
    allies.append(st.Page("pages/historial.py", title="Historial", icon=":material/history:"))
    sections = {"Aliados": allies}
    if can(actor, "import"):
        sections["Integración"] = [
            st.Page(
                "pages/importar_siigo.py", title="Importar desde Siigo", icon=":material/sync:",
            ),
        ]
    admin = []
    if can(actor, "manage_users"):
        admin.append(st.Page("pages/usuarios.py", title="Usuarios", icon=":material/group:"))
    if can(actor, "settings"):
        admin.append(
            st.Page("pages/configuracion.py", title="Configuración", icon=":material/settings:")
        )
    if admin:
        sections["Administración"] = admin
    return sections


# The address of every page (from its file name), for the signed-out aliases below.
PAGE_PATHS = (
    "panel", "aliados", "crear_aliado", "editar_aliado", "historial", "importar_siigo",
    "usuarios", "configuracion",
)


def _login_pages() -> list:
    """Only the login page, also under the address of each page (hidden).

    So a bookmark or a reload of ``/aliados`` shows the login form instead of
    Streamlit's English "Page not found", and after signing in the person lands
    on the page asked for (a page has the same id as its address), if the role
    has it; otherwise on the Panel.
    """
    login = "pages/login.py"
    return [
        st.Page(login, title="Iniciar sesión", icon=":material/login:", default=True),
        *(st.Page(login, title="Iniciar sesión", url_path=path, visibility="hidden")
          for path in PAGE_PATHS),
    ]


actor = refresh_session()
if actor is None:
    navigation = st.navigation(_login_pages())
else:
    navigation = st.navigation(_pages(actor))
    with st.sidebar:
        role = ROLE_LABELS.get(actor.role, actor.role)
        st.markdown(f"**{md_escape(actor.label)}**  \n{role} · usuario {md_escape(actor.username)}")
        st.button("Cerrar sesión", key="logout", icon=":material/logout:", on_click=_log_out)
# Marks that this session runs under st.navigation (see pages.common.require_navigation).
st.session_state["_navigation_ready"] = True
st.session_state[MAIN_RAN_KEY] = True  # this run already checked the session
navigation.run()

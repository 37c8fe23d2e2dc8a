"""Entry point: `streamlit run streamlit_app.py` opens the Aliados dashboard.

Until someone signs in, the navigation holds only the login page; afterwards it
holds the pages the person's role may use (core.permissions.can).
"""

import streamlit as st

from core.permissions import ROLE_LABELS, can
from pages.common import (
    ASKED_PAGE_KEY, MAIN_RAN_KEY, flash, get_settings, md_escape, refresh_session, sign_out,
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


# The address of every page (from its file name) and its title, for the signed-out
# aliases below and for saying which page a role lacks.
PAGE_TITLES = {
    "panel": "Panel", "aliados": "Aliados", "crear_aliado": "Crear aliado",
    "editar_aliado": "Editar aliado", "historial": "Historial",
    "importar_siigo": "Importar desde Siigo", "usuarios": "Usuarios",
    "configuracion": "Configuración",
}
PAGE_PATHS = tuple(PAGE_TITLES)
# The page the last run showed.
SHOWN_PAGE_KEY = "_shown_page"


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


def _path(page) -> str:
    return page.url_path or "panel"  # the default page answers at the root


def _explain_fallback(actor, sections: dict[str, list], shown: str) -> None:
    """Say why the Panel shows when the page asked for (or open until now) is not the role's.

    That happens after signing in through a bookmark of such a page, and when a
    role changes while its page is open; Streamlit then runs the default page.
    """
    asked = st.session_state.pop(ASKED_PAGE_KEY, None) or st.session_state.get(SHOWN_PAGE_KEY)
    allowed_paths = {_path(page) for pages in sections.values() for page in pages}
    if shown == "panel" and asked and asked not in allowed_paths and asked in PAGE_TITLES:
        role = ROLE_LABELS.get(actor.role, actor.role)
        flash(
            "info",
            f"Su rol ({role}) no permite abrir «{PAGE_TITLES[asked]}»; se le mostró el Panel.",
        )


actor = refresh_session()
if actor is None:
    navigation = st.navigation(_login_pages())
    if _path(navigation) != "panel" or ASKED_PAGE_KEY not in st.session_state:
        # The root keeps what a page run without navigation asked for (see
        # pages.common.require_navigation).
        st.session_state[ASKED_PAGE_KEY] = _path(navigation)
else:
    sections = _pages(actor)
    navigation = st.navigation(sections)
    _explain_fallback(actor, sections, _path(navigation))
    st.session_state[SHOWN_PAGE_KEY] = _path(navigation)
    with st.sidebar:
        role = ROLE_LABELS.get(actor.role, actor.role)
        st.markdown(f"**{md_escape(actor.label)}**  \n{role} · usuario {md_escape(actor.username)}")
        st.button("Cerrar sesión", key="logout", icon=":material/logout:", on_click=_log_out)
# Marks that this session runs under st.navigation (see pages.common.require_navigation).
st.session_state["_navigation_ready"] = True
st.session_state[MAIN_RAN_KEY] = True  # this run already checked the session
navigation.run()

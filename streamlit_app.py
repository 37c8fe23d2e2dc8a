"""Entry point: `streamlit run streamlit_app.py` opens the Aliados dashboard."""

import streamlit as st

st.set_page_config(page_title="Aliados", page_icon=":material/handshake:", layout="wide")

pages = {
    "Aliados": [
        st.Page("pages/panel.py", title="Panel", icon=":material/dashboard:", default=True),
        st.Page("pages/aliados.py", title="Aliados", icon=":material/groups:"),
        st.Page("pages/crear_aliado.py", title="Crear aliado", icon=":material/person_add:"),
        st.Page("pages/editar_aliado.py", title="Editar aliado", icon=":material/edit:"),
    ],
    "Integración": [
        st.Page("pages/importar_siigo.py", title="Importar desde Siigo", icon=":material/sync:"),
        st.Page("pages/configuracion.py", title="Configuración", icon=":material/settings:"),
    ],
}

navigation = st.navigation(pages)
# Marks that this session runs under st.navigation (see pages.common.require_navigation).
st.session_state["_navigation_ready"] = True
navigation.run()

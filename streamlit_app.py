"""Entry point: `streamlit run streamlit_app.py` opens the Aliados dashboard."""

import streamlit as st

st.set_page_config(page_title="Aliados", page_icon="🤝", layout="wide")

pages = {
    "Aliados": [
        st.Page("pages/panel.py", title="Panel", icon="📊", default=True),
        st.Page("pages/aliados.py", title="Aliados", icon="📇"),
        st.Page("pages/crear_aliado.py", title="Crear aliado", icon="➕"),
        st.Page("pages/editar_aliado.py", title="Editar aliado", icon="✏️"),
    ],
    "Integración": [
        st.Page("pages/importar_siigo.py", title="Importar desde Siigo", icon="🔄"),
        st.Page("pages/configuracion.py", title="Configuración", icon="⚙️"),
    ],
}

st.navigation(pages).run()

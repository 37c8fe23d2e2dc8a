"""Configuración: where each setting comes from, the database in use, the Siigo sandbox."""

import pandas as pd
import streamlit as st

from core.settings import describe_sources
from pages.common import (
    describe_database, get_settings, require_navigation, require_permission,
)

require_navigation()
require_permission("settings")
st.title("Configuración")
st.write(
    "Cada valor sale de una variable de entorno o, si no está, de `.streamlit/secrets.toml`; "
    "el entorno tiene prioridad. Las claves se muestran ocultas."
)
st.dataframe(
    pd.DataFrame(
        [(s.name, s.value, s.origin) for s in describe_sources()],
        columns=["Parámetro", "Valor", "Origen"],
    ),
    hide_index=True,
)

st.subheader("Base de datos")
st.write(describe_database(get_settings().DATABASE_URL))

st.subheader("Probar con el sandbox de Siigo")
st.write(
    "El proyecto trae un servidor local que imita la API de Siigo con terceros inventados. "
    "Arránquelo en otra terminal:"
)
st.code("python -m core sandbox --port 8765", language="bash")
st.write(
    "y apunte la aplicación a él con estas variables (use el usuario y la clave que el sandbox "
    "muestra al arrancar):"
)
st.code(
    "export SIIGO_BASE_URL=http://127.0.0.1:8765\n"
    "export SIIGO_USERNAME=sandbox@example.com\n"
    "export SIIGO_ACCESS_KEY=sandbox-key\n"
    "streamlit run streamlit_app.py",
    language="bash",
)

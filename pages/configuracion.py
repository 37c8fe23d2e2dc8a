"""Configuración: where each setting comes from, the database in use, the Siigo sandbox."""

from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from core.settings import Settings, describe_sources
from pages.common import (
    describe_database, get_settings, require_navigation, require_permission,
)

# The sandbox's own invented credentials (core.siigo.sandbox), public on purpose.
SANDBOX_COMMAND = "python -m core sandbox --port 8765"
SANDBOX_URL = "http://127.0.0.1:8765"
SANDBOX_USERNAME = "sandbox@example.com"
SANDBOX_ACCESS_KEY = "sandbox-key"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_PARTNER_ID = Settings.model_fields["SIIGO_PARTNER_ID"].default

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
settings = get_settings()
host = urlsplit(settings.SIIGO_BASE_URL or "").hostname
if host in LOCAL_HOSTS:
    st.info(
        f"SIIGO_BASE_URL ya apunta a {settings.SIIGO_BASE_URL}: la aplicación usa un "
        "sandbox local, no el Siigo real."
    )
st.write(
    "El proyecto trae un servidor local que imita la API de Siigo con terceros inventados. "
    "Arránquelo en otra terminal:"
)
st.code(SANDBOX_COMMAND, language="bash")
st.write(
    "Al arrancar muestra la dirección, el usuario y la clave. Después arranque la aplicación "
    "con estas variables:"
)
st.code(
    f"export SIIGO_BASE_URL={SANDBOX_URL}\n"
    f"export SIIGO_USERNAME={SANDBOX_USERNAME}\n"
    f"export SIIGO_ACCESS_KEY={SANDBOX_ACCESS_KEY}\n"
    "streamlit run streamlit_app.py",
    language="bash",
)
st.caption(
    "El sandbox acepta cualquier Partner-Id válido (de 3 a 100 letras o dígitos): el valor "
    f"por defecto de SIIGO_PARTNER_ID, {DEFAULT_PARTNER_ID}, sirve."
)

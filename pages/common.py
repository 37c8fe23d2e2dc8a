"""Bridge between the pages and ``core``: cached settings and engine, small display helpers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import streamlit as st
from sqlalchemy.engine import Engine, make_url

from core.db import make_engine
from core.permissions import Actor
from core.settings import Settings, load_settings

# Session-state key holding the signed-in Actor.
ACTOR_KEY = "actor"
# Session-state key shared by the grid page and the edit page.
EDIT_ALLY_KEY = "edit_ally_id"
# Messages to show once on the next run (after a callback or st.rerun()).
FLASH_KEY = "_flash_messages"


def require_navigation() -> None:
    """Send the session through streamlit_app.py if a page was run without it.

    Streamlit 1.67 runs a file of ``pages/`` directly, with the old automatic page
    list in the sidebar, when the first visit after the server starts is a deep link
    (``/aliados``) and ``st.navigation`` has not run in the process yet.
    """
    if not st.session_state.get("_navigation_ready"):
        st.switch_page("streamlit_app.py")


def current_actor() -> Actor | None:
    """The signed-in person; core refuses every write when this is None."""
    return st.session_state.get(ACTOR_KEY)


def get_settings() -> Settings:
    """Fresh settings on every run: they are cheap and may change between runs."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    """The engine of the configured database, one per DATABASE_URL."""
    return _engine_for(get_settings().DATABASE_URL)


def describe_database(url: str) -> str:
    """Dialect and location of a database URL, never its password."""
    parsed = make_url(url)
    dialect = parsed.get_backend_name()
    if dialect == "sqlite":
        return f"SQLite, archivo {parsed.database or '(en memoria)'}"
    host = parsed.host or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{dialect}, servidor {host}{port}, base de datos {parsed.database or '(sin nombre)'}"


def flash(kind: str, text: str) -> None:
    """Queue a message (success, error, info, warning, toast) for the next run."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, text))


def show_flashes() -> None:
    for kind, text in st.session_state.pop(FLASH_KEY, []):
        if kind == "toast":
            st.toast(text, icon=":material/check_circle:")
        else:
            getattr(st, kind)(text)


def label_for(labels: Mapping[str, str], value: Any) -> str:
    if value is None:
        return "Todos"
    return labels.get(value, str(value))


def format_datetime(value: datetime | None) -> str:
    """A timestamp in local time of the server, to the minute."""
    if value is None:
        return "—"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def format_int(value: int) -> str:
    """Thousands with dots, as written in Colombia (12.345)."""
    return f"{value:,}".replace(",", ".")

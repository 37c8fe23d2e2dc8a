"""Bridge between the pages and ``core``: cached settings and engine, small display helpers."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy.engine import Engine, make_url

from core import accounts
from core.allies import LABELS as VALUE_LABELS
from core.catalogs import PERSON_TYPE_LABELS
from core.db import make_engine
from core.permissions import Actor, PermissionDeniedError, can
from core.settings import Settings, SettingsError, load_settings
from core.validation import FIELD_LABELS

# Session-state key holding the signed-in Actor.
ACTOR_KEY = "actor"
# When the signed-in person last did something (UTC), for the idle expiry.
LAST_ACTIVITY_KEY = "_last_activity"
# Session-state key shared by the grid page and the edit page.
EDIT_ALLY_KEY = "edit_ally_id"
# Messages to show once on the next run (after a callback or st.rerun()).
FLASH_KEY = "_flash_messages"


# Set by streamlit_app.py on each run, taken by the page that the run shows.
MAIN_RAN_KEY = "_main_script_ran"
# The address of the page asked for before signing in (streamlit_app.py says so
# when the role does not have it).
ASKED_PAGE_KEY = "_asked_page"


def require_navigation(*, signed_in: bool = True) -> None:
    """Send the session through streamlit_app.py if a page was run without it.

    Streamlit 1.67 runs a file of ``pages/`` directly, with the old automatic page
    list in the sidebar, when the first visit after the server starts is a deep link
    (``/aliados``) and ``st.navigation`` has not run in the process yet; AppTest
    does the same on every run after ``switch_page``. Such a run still checks the
    session (idle time, account still active) and, for ``signed_in`` pages, sends
    whoever is not signed in to the login page.
    """
    ran_main = st.session_state.pop(MAIN_RAN_KEY, False)
    if not st.session_state.get("_navigation_ready"):
        # Remember which page the link asked for (its file name is its address).
        caller = inspect.currentframe().f_back
        page_file = caller.f_globals.get("__file__") if caller else None
        if page_file:
            st.session_state[ASKED_PAGE_KEY] = Path(page_file).stem
        st.switch_page("streamlit_app.py")
    if not ran_main:
        refresh_session()
    if signed_in and current_actor() is None:
        st.switch_page("streamlit_app.py")


def current_actor() -> Actor | None:
    """The signed-in person; core refuses every write when this is None."""
    return st.session_state.get(ACTOR_KEY)


def sign_in(actor: Actor) -> None:
    st.session_state[ACTOR_KEY] = actor
    st.session_state[LAST_ACTIVITY_KEY] = datetime.now(UTC)


def sign_out(message: str | None = None) -> None:
    """Forget the person and everything this session kept (drafts, previews, filters)."""
    st.session_state.clear()
    if message:
        flash("info", message)


def refresh_session() -> Actor | None:
    """The signed-in Actor as the user table says now, or None (then the login page shows).

    Signs out after ``SESSION_IDLE_MINUTES`` without activity, and when the account
    was deactivated or removed; a changed role takes effect on this run.
    """
    actor = current_actor()
    if actor is None:
        return None
    settings = get_settings()
    now = datetime.now(UTC)
    last = st.session_state.get(LAST_ACTIVITY_KEY) or now
    if accounts.session_expired(last, now, settings.SESSION_IDLE_MINUTES):
        sign_out(
            "Su sesión se cerró por inactividad: pasaron más de "
            f"{settings.SESSION_IDLE_MINUTES} minutos sin uso. Inicie sesión de nuevo."
        )
        return None
    fresh = accounts.current_actor(get_engine(), actor.username)
    if fresh is None:
        sign_out(
            "Su cuenta ya no está activa y la sesión se cerró. "
            "Si cree que es un error, hable con un administrador."
        )
        return None
    st.session_state[ACTOR_KEY] = fresh
    st.session_state[LAST_ACTIVITY_KEY] = now
    return fresh


def allowed(action: str) -> bool:
    return can(current_actor(), action)


def require_permission(action: str) -> None:
    """Stop the page with the Spanish reason unless the signed-in person may ``action``."""
    actor = current_actor()
    if not can(actor, action):
        st.error(str(PermissionDeniedError(actor, action)))
        st.stop()


def get_settings() -> Settings:
    """Fresh settings on every run; a wrong one stops the page with core's Spanish reason."""
    try:
        return load_settings()
    except SettingsError as exc:
        st.error(f"{exc} Corríjalo y recargue la página.")
        st.stop()


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


BOGOTA = ZoneInfo("America/Bogota")


def format_datetime(value: datetime | None) -> str:
    """A timestamp in Bogotá time, to the minute (naive values are UTC)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M")


def format_int(value: int) -> str:
    """Thousands with dots, as written in Colombia (12.345)."""
    return f"{value:,}".replace(",", ".")


def count_text(value: int, singular: str, plural: str | None = None) -> str:
    """ "1 aliado", "2 aliados", "1.500 peticiones": the number and the word that agrees."""
    word = singular if value == 1 else (plural or f"{singular}s")
    return f"{format_int(value)} {word}"


# What Streamlit's Markdown would turn into formatting, HTML or math inside a sentence.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|<>~$])")


def md_escape(text: Any) -> str:
    """Text to put inside st.markdown/st.caption that shows exactly as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def remaining_text(elapsed_seconds: float, done: int, total: int) -> str:
    """Estimated time left from the time so far and the share done, in Spanish."""
    if total <= 0 or done <= 0 or elapsed_seconds <= 0:
        return "calculando el tiempo restante…"
    if done >= total:
        return "terminando…"
    left = elapsed_seconds * (total - done) / done
    if left < 60:
        return f"faltan unos {max(1, math.ceil(left))} s"
    return f"faltan unos {math.ceil(left / 60)} min"


# Derived or internal columns that mean nothing to a person reading the history.
HIDDEN_FIELDS = {"search_text", "siigo_fingerprint", "last_synced_at"}
_VALUE_LABELS = {**VALUE_LABELS, "person_type": PERSON_TYPE_LABELS}


def show_value(field: str, value: Any) -> str:
    if value in (None, "", []):
        return "(vacío)"
    if isinstance(value, bool):
        return "Sí" if value else "No"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    labels = _VALUE_LABELS.get(field)
    if labels and value in labels:
        return labels[value]
    return str(value)


def describe_changes(changes: Mapping[str, Any]) -> str:
    """ "Campo: antes → después" for each changed field, separated by "; "."""
    parts = []
    for field, pair in changes.items():
        if field in HIDDEN_FIELDS:
            continue
        old, new = pair
        label = FIELD_LABELS.get(field, field)
        parts.append(f"{label}: {show_value(field, old)} → {show_value(field, new)}")
    return "; ".join(parts)


def first_step_links() -> None:
    """Links to the two ways of getting allies in, for the role that may use them."""
    if allowed("create"):
        st.page_link(
            "pages/crear_aliado.py", label="Crear un aliado", icon=":material/person_add:"
        )
    if allowed("import"):
        st.page_link(
            "pages/importar_siigo.py", label="Importar desde Siigo", icon=":material/sync:"
        )

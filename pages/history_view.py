"""The history table, shared by the Historial page and the edit page (not a page)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.common import describe_changes, format_datetime

COLUMNS = ["Fecha (Bogotá)", "Usuario", "Acción", "Aliado", "Cambios"]


def history_frame(entries) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Fecha (Bogotá)": format_datetime(e.at),
                "Usuario": e.user_label if e.user_label == e.username
                else f"{e.user_label} ({e.username})",
                "Acción": e.action_label,
                "Aliado": e.ally_name,
                "Cambios": describe_changes(e.changes),
            }
            for e in entries
        ],
        columns=COLUMNS,
    )


def show_history(entries, *, key: str) -> None:
    """A read-only table; the cells are plain text, never HTML."""
    st.dataframe(history_frame(entries), hide_index=True, key=key)

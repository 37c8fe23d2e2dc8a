"""Importar desde Siigo: test the connection, preview an import, confirm it, see the history."""

from __future__ import annotations

import math
import time

import pandas as pd
import streamlit as st

from core.importer import (
    CONFLICT_RULE,
    FULL,
    INCREMENTAL,
    ImportApplyError,
    apply_import,
    build_client,
    import_history,
    last_run,
    last_successful_run,
    preview_import,
    rejects_csv,
)
from core.locks import ImportBusyError
from core.permissions import PermissionDeniedError
from core.siigo.errors import SiigoError
from core.validation import FIELD_LABELS
from pages.common import (
    allowed,
    count_text,
    current_actor,
    flash,
    format_datetime,
    format_int,
    get_engine,
    get_settings,
    remaining_text,
    require_navigation,
    require_permission,
    show_flashes,
    show_value,
)

PREVIEW_KEY = "_siigo_preview"
MODE_KEY = "siigo_mode"
EXAMPLES = 20
MODE_LABELS = {FULL: "Importación completa", INCREMENTAL: "Solo lo cambiado (incremental)"}
MISSING_LABELS = {
    "keep": "Dejarlos como están",
    "deactivate": "Marcarlos como inactivos",
}


def _started_by(run) -> str:
    if run.trigger == "programado":
        return "tarea programada"
    return run.started_by or "—"


def run_counts(run, *, deactivated: bool = False) -> str:
    """ "1 nuevo, 2 actualizados, 0 sin cambios, 1 rechazado": each word agrees with its number."""
    parts = [
        count_text(run.created, "nuevo"), count_text(run.updated, "actualizado"),
        f"{format_int(run.unchanged)} sin cambios", count_text(run.rejected, "rechazado"),
    ]
    if deactivated:
        parts.append(count_text(run.deactivated, "marcado inactivo", "marcados inactivos"))
    return ", ".join(parts)


def _run_line(run) -> str:
    when = f"{format_datetime(run.started_at)} · {run.mode} · {_started_by(run)}"
    if run.status == "exitosa":
        return f"{when} · exitosa: {run_counts(run)}."
    return f"{when} · {run.status}: {run.error or 'sin detalle'}"


def progress_text(pages: int, fetched: int, total: int, elapsed_seconds: float) -> str:
    """What the progress bar says while the terceros arrive, with the time left."""
    if total <= 0:
        return f"Leídos: {count_text(pages, 'página')}, {count_text(fetched, 'tercero')}…"
    per_page = fetched / pages if pages and fetched else 0
    total_pages = max(pages, math.ceil(total / per_page)) if per_page else pages
    return (
        f"Página {pages} de {total_pages}: leídos {format_int(fetched)} de "
        f"{format_int(total)} terceros · {remaining_text(elapsed_seconds, fetched, total)}"
    )


def _changes_table(changes, *, with_fields: bool) -> pd.DataFrame:
    rows = []
    for change in changes[:EXAMPLES]:
        row = {
            "ID Siigo": change.siigo_id, "Nombre": change.name,
            "Identificación": change.document,
        }
        if with_fields:
            row["Cambios"] = "; ".join(
                f"{FIELD_LABELS.get(f, f)}: {_show(old)} → {_show(new)}"
                for f, (old, new) in change.fields.items()
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _show(value) -> str:
    return "(vacío)" if value in (None, "") else str(value)


def _conflicts_table(conflicts) -> pd.DataFrame:
    """One row per field that changed both here and in Siigo, with both values."""
    rows = []
    for change in conflicts[:EXAMPLES]:
        for field, (here, siigo) in change.fields.items():
            rows.append({
                "ID Siigo": change.siigo_id, "Nombre": change.name,
                "Campo": FIELD_LABELS.get(field, field),
                "Valor en Aliados": show_value(field, here),
                "Valor en Siigo": show_value(field, siigo),
            })
    return pd.DataFrame(
        rows, columns=["ID Siigo", "Nombre", "Campo", "Valor en Aliados", "Valor en Siigo"],
    )


def _run_preview(mode: str) -> None:
    settings = get_settings()
    bar = st.progress(0.0, text="Conectando con Siigo…")
    started = time.monotonic()

    def progress(pages: int, fetched: int, total: int) -> None:
        share = min(fetched / total, 1.0) if total else 0.0
        bar.progress(share, text=progress_text(pages, fetched, total, time.monotonic() - started))

    try:
        preview = preview_import(
            get_engine(), build_client(settings), mode=mode, progress=progress,
            actor=current_actor(),
        )
    except (SiigoError, ImportBusyError, PermissionDeniedError) as exc:
        bar.empty()
        st.session_state.pop(PREVIEW_KEY, None)
        st.error(str(exc))
        return
    bar.progress(1.0, text="Lectura terminada.")
    st.session_state[PREVIEW_KEY] = preview


def _show_preview(preview) -> None:
    st.subheader("Vista previa")
    if preview.note:
        st.info(preview.note)
    st.caption(
        f"Modo: {preview.mode}. Leídos: {count_text(preview.fetched, 'tercero')}, con "
        f"{count_text(preview.requests, 'petición', 'peticiones')} y "
        f"{count_text(preview.retries, 'reintento')}."
    )
    cols = st.columns(6)
    cols[0].metric("Nuevos", format_int(len(preview.new)))
    cols[1].metric("Con cambios", format_int(len(preview.changed)))
    cols[2].metric("Sin cambios", format_int(preview.unchanged))
    cols[3].metric("Rechazados", format_int(len(preview.rejected)))
    cols[4].metric("Ya no están en Siigo", format_int(len(preview.missing)))
    cols[5].metric("Conflictos", format_int(len(preview.conflicts)))
    st.info(f"Regla de conflictos: {CONFLICT_RULE}")

    if preview.new:
        with st.expander(f"Nuevos (primeros {min(EXAMPLES, len(preview.new))})"):
            st.dataframe(_changes_table(preview.new, with_fields=False), hide_index=True)
    if preview.changed:
        with st.expander(f"Con cambios (primeros {min(EXAMPLES, len(preview.changed))})"):
            st.dataframe(_changes_table(preview.changed, with_fields=True), hide_index=True)
    if preview.conflicts:
        with st.expander(
            f"Conflictos: cambiaron aquí y en Siigo ({len(preview.conflicts)})", expanded=True,
        ):
            st.warning(f"Al confirmar se aplica esta regla: {CONFLICT_RULE}")
            st.dataframe(_conflicts_table(preview.conflicts), hide_index=True)
    if preview.rejected:
        with st.expander(f"Rechazados ({len(preview.rejected)})", expanded=True):
            st.dataframe(
                pd.DataFrame(
                    [
                        (r.siigo_id, r.name, r.document, r.reason)
                        for r in preview.rejected[:EXAMPLES]
                    ],
                    columns=["ID Siigo", "Nombre", "Identificación", "Motivo"],
                ),
                hide_index=True,
            )
            st.download_button(
                "Descargar rechazados (CSV)", data=rejects_csv(preview),
                file_name="rechazados_siigo.csv", mime="text/csv", on_click="ignore",
                key="siigo_rejects_csv",
            )
    missing_action = "keep"
    if preview.missing:
        with st.expander(f"Ya no están en Siigo ({len(preview.missing)})", expanded=True):
            st.dataframe(
                pd.DataFrame(preview.missing[:EXAMPLES], columns=["ID", "Nombre"]),
                hide_index=True,
            )
        missing_action = st.radio(
            "¿Qué hacer con los aliados que ya no están en Siigo?", list(MISSING_LABELS),
            format_func=MISSING_LABELS.get, key="siigo_missing_action", horizontal=True,
        )

    c1, c2 = st.columns(2)
    if c1.button("Confirmar importación", type="primary", key="siigo_confirm"):
        try:
            run = apply_import(
                get_engine(), preview, missing_action=missing_action, actor=current_actor(),
            )
        except (ImportApplyError, ImportBusyError, PermissionDeniedError) as exc:
            st.error(str(exc))
            return
        st.session_state.pop(PREVIEW_KEY, None)
        st.session_state.pop(MODE_KEY, None)  # the next one defaults to incremental
        flash(
            "success",
            f"Importación aplicada: {run_counts(run, deactivated=True)}.",
        )
        flash("toast", "Importación desde Siigo terminada")
        st.rerun()
    if c2.button("Descartar vista previa", key="siigo_discard"):
        st.session_state.pop(PREVIEW_KEY, None)
        st.rerun()


require_navigation()
require_permission("import")
st.title("Importar desde Siigo")
show_flashes()
settings = get_settings()
engine = get_engine()

if settings.siigo_configured:
    st.success(
        f"Integración configurada: {settings.SIIGO_BASE_URL} como {settings.SIIGO_USERNAME}."
    )
else:
    st.warning(
        "La integración con Siigo no está configurada: defina SIIGO_USERNAME y "
        "SIIGO_ACCESS_KEY (variables de entorno o .streamlit/secrets.toml)."
    )
    if allowed("settings"):
        st.page_link(
            "pages/configuracion.py", label="Ver la configuración", icon=":material/settings:"
        )

previous = last_run(engine)
st.caption("Última importación: " + (_run_line(previous) if previous else "ninguna todavía."))

if st.button("Probar conexión", key="siigo_test", disabled=not settings.siigo_configured):
    try:
        with st.spinner("Conectando con Siigo…"):
            total = build_client(settings).test_connection()
    except SiigoError as exc:
        st.error(str(exc))
    else:
        st.success(f"Conexión correcta: Siigo tiene {format_int(total)} terceros.")

st.divider()
# The first import reads everything; once one has worked, only what changed is enough.
mode = st.radio(
    "Tipo de importación", [INCREMENTAL, FULL], format_func=MODE_LABELS.get,
    index=1 if last_successful_run(engine) is None else 0,
    key=MODE_KEY, horizontal=True,
    help="La completa lee todos los terceros y detecta los que ya no están en Siigo.",
)
if st.button("Importar desde Siigo", key="siigo_import", disabled=not settings.siigo_configured):
    _run_preview(mode)

preview = st.session_state.get(PREVIEW_KEY)
if preview is not None:
    _show_preview(preview)

st.divider()
st.subheader("Historial de importaciones")
history = import_history(engine)
if not history:
    st.caption("Todavía no se ha hecho ninguna importación.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Inicio": format_datetime(r.started_at), "Modo": r.mode, "Origen": r.trigger,
                    "Iniciada por": _started_by(r), "Resultado": r.status,
                    "Leídos": r.fetched, "Nuevos": r.created,
                    "Actualizados": r.updated, "Sin cambios": r.unchanged,
                    "Rechazados": r.rejected, "Inactivados": r.deactivated,
                    "Peticiones": r.requests, "Reintentos": r.retries,
                    "Duración (s)": round(r.duration_seconds or 0, 1), "Error": r.error or "",
                }
                for r in history
            ]
        ),
        hide_index=True,
    )

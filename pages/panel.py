"""Panel: headline figures and charts of the allies."""

import pandas as pd
import streamlit as st

from core.allies import dashboard_stats
from core.catalogs import ALLY_TYPE_LABELS, ORIGIN_LABELS, STATUS_LABELS
from pages.common import (
    allowed, first_step_links, format_int, get_engine, require_navigation, show_flashes,
)


def _series(counts: dict, labels: dict, name: str) -> pd.DataFrame:
    """A one-column frame indexed by Spanish labels, in the order of ``labels``."""
    keys = list(labels) + [k for k in counts if k not in labels]
    return pd.DataFrame(
        {name: [counts.get(k, 0) for k in keys]},
        index=pd.Index([labels.get(k, k) for k in keys], name="Categoría"),
    )


require_navigation()
st.title("Panel de aliados")
show_flashes()
stats = dashboard_stats(get_engine())

if stats["total"] == 0:
    if allowed("create"):
        st.info(
            "Todavía no hay aliados. Empiece por crear un aliado a mano o por importar "
            "los terceros desde Siigo."
        )
        first_step_links()
    else:
        st.info("Todavía no hay aliados: aparecerán aquí cuando un editor los cree o importe.")
    st.stop()

by_type, by_status = stats["by_type"], stats["by_status"]
cols = st.columns(5)
cols[0].metric("Total de aliados", format_int(stats["total"]))
cols[1].metric("Clientes", format_int(by_type.get("cliente", 0)))
cols[2].metric("Proveedores", format_int(by_type.get("proveedor", 0)))
cols[3].metric("Activos", format_int(by_status.get("activo", 0)))
cols[4].metric("Inactivos", format_int(by_status.get("inactivo", 0)))

left, right = st.columns(2)
with left:
    st.subheader("Por tipo")
    st.bar_chart(_series(by_type, ALLY_TYPE_LABELS, "Aliados"), horizontal=True, sort=False)
    st.subheader("Por estado")
    st.bar_chart(_series(by_status, STATUS_LABELS, "Aliados"), horizontal=True, sort=False)
    st.subheader("Por origen")
    origin = _series(stats["by_origin"], ORIGIN_LABELS, "Aliados")
    st.bar_chart(origin, horizontal=True, sort=False)
with right:
    st.subheader("Ciudades con más aliados")
    if stats["top_cities"]:
        cities = pd.DataFrame(stats["top_cities"], columns=["Ciudad", "Aliados"])
        st.bar_chart(cities, x="Ciudad", y="Aliados", horizontal=True, sort="-Aliados")
    else:
        st.caption("Ningún aliado tiene ciudad registrada todavía.")
    st.subheader("Aliados nuevos por mes")
    months = pd.DataFrame(
        {"Mes": list(stats["per_month"]), "Aliados nuevos": list(stats["per_month"].values())}
    )
    st.bar_chart(months, x="Mes", y="Aliados nuevos", height=300)

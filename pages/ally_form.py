"""The ally form, shared by the create and edit pages.

Plain widgets (not ``st.form``) so the NIT check digit is shown as the number
is typed. Saving happens in the button callback, before the script reruns, so
the widgets can be reset after a successful save.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from core.catalogs import (
    ALLY_TYPE_LABELS,
    DOCUMENT_TYPES,
    FISCAL_RESPONSIBILITIES,
    NIT,
    PERSON_TYPE_LABELS,
    STATUS_LABELS,
    colombian_cities,
)
from core.allies import FORM_FIELDS
from core.validation import FIELD_LABELS, nit_check_digit, normalize_identification

# What a new ally starts with.
BLANK: dict[str, Any] = {
    "ally_type": "cliente", "person_type": "juridica", "id_type": NIT, "identification": "",
    "check_digit": None, "branch_office": 0, "first_names": "", "last_names": "",
    "business_name": "", "commercial_name": "", "phone": "", "phone_extension": "",
    "email": "", "address": "", "city_code": None, "postal_code": "", "status": "activo",
    "notes": "", "fiscal_responsibilities": [], "vat_responsible": False,
}
NO_CITY_LABEL = "— Sin ciudad —"


def _errors_key(prefix: str) -> str:
    return f"{prefix}errors"


def field_key(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def seed(prefix: str, initial: Mapping[str, Any]) -> None:
    """Give each widget its starting value unless the person already typed one."""
    for name in FORM_FIELDS:
        key = field_key(prefix, name)
        if key not in st.session_state:
            value = initial.get(name)
            if value is None and name not in ("city_code", "check_digit"):
                value = BLANK[name]
            st.session_state[key] = value


def reset(prefix: str) -> None:
    """Forget what was typed (call from a callback, before the widgets exist)."""
    for name in FORM_FIELDS:
        st.session_state.pop(field_key(prefix, name), None)
    st.session_state.pop(_errors_key(prefix), None)


def set_errors(prefix: str, errors: Mapping[str, str]) -> None:
    st.session_state[_errors_key(prefix)] = dict(errors)


def collect(prefix: str, initial: Mapping[str, Any]) -> dict[str, Any]:
    """The values typed in the form, as ``create_ally`` / ``update_ally`` take them."""
    state = st.session_state
    data = {name: state.get(field_key(prefix, name), initial.get(name)) for name in FORM_FIELDS}
    # The DV of a NIT is always computed by core; other types keep what they had.
    data["check_digit"] = None if data["id_type"] == NIT else initial.get("check_digit")
    return data


def _comparable(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return sorted(value)
    if isinstance(value, str):
        return value.strip()
    return value


def changed_values(data: Mapping[str, Any], initial: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields the person touched, so untouched Siigo data is not re-validated."""
    changes = {
        k: v for k, v in data.items()
        if k != "check_digit" and _comparable(v) != _comparable(initial.get(k))
    }
    if {"id_type", "identification"} & set(changes):
        # A new document gets its DV recomputed instead of keeping the old one.
        changes["check_digit"] = data.get("check_digit")
    return changes


def _document_label(code: str) -> str:
    return f"{code} - {DOCUMENT_TYPES[code].name}"


def _city_label(code: str | None) -> str:
    if code is None:
        return NO_CITY_LABEL
    city = colombian_cities().get(code)
    return city.label if city else code


def shown_check_digit(id_type: str, raw: str) -> str:
    """The DV of the NIT typed so far, or "" while the number is not valid yet."""
    if id_type != NIT or not raw:
        return ""
    try:
        number, _written = normalize_identification(NIT, raw)
    except ValueError:
        return ""
    return nit_check_digit(number)


def render(
    prefix: str,
    initial: Mapping[str, Any],
    *,
    submit_label: str,
    on_submit: Callable[[], None],
) -> None:
    """Lay out the form; ``on_submit`` runs as the button callback."""
    seed(prefix, initial)
    errors: dict[str, str] = st.session_state.get(_errors_key(prefix), {})
    key = lambda name: field_key(prefix, name)  # noqa: E731

    if errors:
        st.error("Revise los campos marcados: el aliado no se guardó.")
    shown: set[str] = set()

    def _show_error(*names: str) -> None:
        for name in names:
            shown.add(name)
            if name in errors:
                st.error(errors[name], icon=":material/error:")

    c1, c2, c3 = st.columns(3)
    with c1:
        st.selectbox(
            "Tipo de aliado", list(ALLY_TYPE_LABELS), key=key("ally_type"),
            format_func=ALLY_TYPE_LABELS.get,
        )
        _show_error("ally_type")
    with c2:
        st.radio(
            "Tipo de persona", list(PERSON_TYPE_LABELS), key=key("person_type"),
            format_func=PERSON_TYPE_LABELS.get, horizontal=True,
        )
        _show_error("person_type")
    with c3:
        st.selectbox(
            "Estado", list(STATUS_LABELS), key=key("status"), format_func=STATUS_LABELS.get,
        )
        _show_error("status")

    st.subheader("Identificación")
    c1, c2, c3, c4 = st.columns([3, 3, 1, 1])
    with c1:
        st.selectbox(
            "Tipo de documento", list(DOCUMENT_TYPES), key=key("id_type"),
            format_func=_document_label,
        )
        _show_error("id_type")
    with c2:
        st.text_input(
            "Número de documento", key=key("identification"),
            help="Puede escribir puntos; para un NIT, el dígito de verificación se calcula solo.",
        )
        _show_error("identification")
    id_type = st.session_state[key("id_type")]
    with c3:
        if id_type == NIT:
            dv = shown_check_digit(id_type, st.session_state[key("identification")])
            st.text_input(
                "DV", value=dv, disabled=True,
                help="Dígito de verificación calculado a partir del NIT.",
            )
        _show_error("check_digit")
    with c4:
        st.number_input(
            "Sucursal", min_value=0, max_value=999, step=1, key=key("branch_office"),
            help="0 si el tercero no tiene sucursales.",
        )
        _show_error("branch_office")

    st.subheader("Nombre")
    if st.session_state[key("person_type")] == "natural":
        c1, c2 = st.columns(2)
        with c1:
            st.text_input("Nombres", key=key("first_names"))
            _show_error("first_names")
        with c2:
            st.text_input("Apellidos", key=key("last_names"))
            _show_error("last_names")
    else:
        st.text_input("Razón social", key=key("business_name"))
        _show_error("business_name")
    st.text_input("Nombre comercial", key=key("commercial_name"))
    _show_error("commercial_name")

    st.subheader("Contacto y ubicación")
    c1, c2, c3 = st.columns([3, 1, 4])
    with c1:
        st.text_input(
            "Teléfono", key=key("phone"),
            help="Celular de 10 dígitos (3xx) o fijo de 10 dígitos (60x); puede anteponer +57.",
        )
        _show_error("phone")
    with c2:
        st.text_input("Extensión", key=key("phone_extension"))
        _show_error("phone_extension")
    with c3:
        st.text_input("Correo", key=key("email"), placeholder="nombre@empresa.co")
        _show_error("email")
    st.text_input("Dirección", key=key("address"))
    _show_error("address")
    c1, c2 = st.columns([3, 1])
    with c1:
        st.selectbox(
            "Ciudad", [None, *colombian_cities()], key=key("city_code"),
            format_func=_city_label, placeholder=NO_CITY_LABEL,
            help="Escriba para buscar entre los municipios de Colombia.",
        )
        _show_error("city_code")
    with c2:
        st.text_input("Código postal", key=key("postal_code"))
        _show_error("postal_code")

    with st.expander("Datos tributarios"):
        st.multiselect(
            "Responsabilidades fiscales", list(FISCAL_RESPONSIBILITIES),
            key=key("fiscal_responsibilities"),
            format_func=lambda code: f"{code} - {FISCAL_RESPONSIBILITIES[code]}",
        )
        _show_error("fiscal_responsibilities")
        st.checkbox("Responsable de IVA", key=key("vat_responsible"))

    st.text_area("Notas", key=key("notes"), help="Solo en Aliados: una importación no las cambia.")
    _show_error("notes")

    for name, message in errors.items():
        if name not in shown:
            st.error(f"{FIELD_LABELS.get(name, name)}: {message}", icon=":material/error:")
    st.button(submit_label, type="primary", key=key("submit"), on_click=on_submit)

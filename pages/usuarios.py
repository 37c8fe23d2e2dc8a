"""Usuarios (administrador): accounts, roles, locks and passwords, all through core.accounts."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.accounts import (
    FIELD_LABELS,
    AccountError,
    UserNotFoundError,
    activate_user,
    create_user,
    deactivate_user,
    list_users,
    set_password,
    set_role,
    unlock_user,
)
from core.permissions import ROLE_LABELS, ROLES, PermissionDeniedError
from pages.common import (
    current_actor,
    flash,
    format_datetime,
    get_engine,
    require_navigation,
    require_permission,
    show_flashes,
)

NEW_PREFIX = "usuarios_new_"
NEW_ERRORS_KEY = "_usuarios_new_errors"
MANAGE_ERRORS_KEY = "_usuarios_manage_errors"


def _messages(exc: Exception) -> dict[str, str]:
    if isinstance(exc, AccountError):
        return dict(exc.errors)
    return {"": str(exc)}


def _create() -> None:
    state = st.session_state
    try:
        user = create_user(
            get_engine(), username=state.get(f"{NEW_PREFIX}username", ""),
            password=state.get(f"{NEW_PREFIX}password", ""),
            role=state.get(f"{NEW_PREFIX}role", "lector"),
            display_name=state.get(f"{NEW_PREFIX}display_name", ""), actor=current_actor(),
        )
    except (AccountError, PermissionDeniedError) as exc:
        state[NEW_ERRORS_KEY] = _messages(exc)
        state[f"{NEW_PREFIX}password"] = ""
        return
    state.pop(NEW_ERRORS_KEY, None)
    for name in ("username", "display_name", "password"):
        state[f"{NEW_PREFIX}{name}"] = ""
    flash("success", f"Se creó el usuario «{user.username}» con rol {user.role_label}.")


def _act(action: Callable[[], object], done: str) -> None:
    """Run one change on an account; errors stay on screen until the next change."""
    try:
        action()
    except (AccountError, PermissionDeniedError, UserNotFoundError) as exc:
        st.session_state[MANAGE_ERRORS_KEY] = _messages(exc)
        return
    st.session_state.pop(MANAGE_ERRORS_KEY, None)
    flash("success", done)


def _show_errors(errors: dict[str, str]) -> None:
    for field, message in errors.items():
        label = FIELD_LABELS.get(field)
        st.error(f"{label}: {message}" if label else message)


def _users_table(users) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Usuario": u.username, "Nombre": u.display_name, "Rol": u.role_label,
                "Estado": "Activa" if u.active else "Desactivada",
                "Bloqueada": (
                    f"Sí, hasta {format_datetime(u.locked_until)}" if u.is_locked() else "No"
                ),
                "Intentos fallidos": u.failed_attempts,
                "Contraseña": "Sí" if u.has_password else "No (solo proveedor de identidad)",
                "Último ingreso": format_datetime(u.last_login_at),
                "Creada": format_datetime(u.created_at),
            }
            for u in users
        ]
    )


def _create_form() -> None:
    st.subheader("Crear usuario")
    with st.form("usuarios_new_form", enter_to_submit=False):
        c1, c2, c3 = st.columns(3)
        c1.text_input(
            "Usuario", key=f"{NEW_PREFIX}username",
            help="Letras sin tildes, números, punto, guion, guion bajo o @ (3 a 50).",
        )
        c2.text_input("Nombre", key=f"{NEW_PREFIX}display_name")
        c3.selectbox("Rol", list(ROLES), key=f"{NEW_PREFIX}role", format_func=ROLE_LABELS.get)
        st.text_input(
            "Contraseña inicial", key=f"{NEW_PREFIX}password", type="password",
            autocomplete="new-password", help="Al menos 10 caracteres.",
        )
        st.form_submit_button("Crear usuario", type="primary", key="usuarios_create",
                              on_click=_create)
    _show_errors(st.session_state.get(NEW_ERRORS_KEY, {}))


def _manage(users) -> None:
    st.subheader("Cambiar un usuario")
    by_name = {u.username: u for u in users}
    chosen = st.selectbox(
        "Usuario", list(by_name), key="usuarios_chosen", index=None,
        placeholder="Elija el usuario",
        format_func=lambda n: f"{n} · {by_name[n].display_name}" if by_name[n].display_name
        else n,
    )
    _show_errors(st.session_state.get(MANAGE_ERRORS_KEY, {}))
    if chosen is None:
        return
    user = by_name[chosen]
    engine, actor = get_engine(), current_actor()
    c1, c2, c3 = st.columns(3)
    with c1:
        role = st.selectbox(
            "Rol", list(ROLES), index=ROLES.index(user.role), key=f"usuarios_role_{chosen}",
            format_func=ROLE_LABELS.get,
        )
        st.button(
            "Cambiar rol", key="usuarios_set_role", disabled=role == user.role,
            on_click=_act, args=(
                lambda: set_role(engine, chosen, role, actor=actor),
                f"«{chosen}» ahora tiene el rol {ROLE_LABELS[role]}.",
            ),
        )
    with c2:
        st.text_input(
            "Nueva contraseña", key=f"usuarios_password_{chosen}", type="password",
            autocomplete="new-password",
        )
        st.button(
            "Poner la nueva contraseña", key="usuarios_set_password",
            on_click=lambda: _act(
                lambda: set_password(
                    engine, chosen, st.session_state.get(f"usuarios_password_{chosen}", ""),
                    actor=actor,
                ),
                f"Se cambió la contraseña de «{chosen}»; también quedó desbloqueada.",
            ),
        )
    with c3:
        st.write(" ")
        st.button(
            "Desbloquear", key="usuarios_unlock", disabled=not user.is_locked(),
            on_click=_act, args=(
                lambda: unlock_user(engine, chosen, actor=actor),
                f"Se desbloqueó la cuenta «{chosen}».",
            ),
        )
        if user.active:
            st.button(
                "Desactivar", key="usuarios_deactivate", on_click=_act, args=(
                    lambda: deactivate_user(engine, chosen, actor=actor),
                    f"Se desactivó la cuenta «{chosen}»: ya no puede entrar.",
                ),
            )
        else:
            st.button(
                "Reactivar", key="usuarios_activate", on_click=_act, args=(
                    lambda: activate_user(engine, chosen, actor=actor),
                    f"Se reactivó la cuenta «{chosen}».",
                ),
            )


require_navigation()
require_permission("manage_users")
st.title("Usuarios")
show_flashes()
all_users = list_users(get_engine(), actor=current_actor())
st.dataframe(_users_table(all_users), hide_index=True, key="usuarios_table")
_create_form()
_manage(all_users)

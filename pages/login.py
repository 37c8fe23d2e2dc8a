"""Iniciar sesión: the only page of the app until someone signs in."""

import streamlit as st

from core.accounts import (
    NO_ACCESS_MESSAGE,
    LoginError,
    actor_for_identity,
    authenticate,
    count_users,
)
from pages.common import (
    current_actor, get_engine, get_settings, require_navigation, show_flashes, sign_in,
)

USERNAME_KEY = "login_username"
PASSWORD_KEY = "login_password"
ERROR_KEY = "_login_error"
BOOTSTRAP_COMMAND = "python -m core create-user --username admin --role administrador"


def _sign_in() -> None:
    """Form callback: check the password before the script reruns."""
    username = st.session_state.get(USERNAME_KEY, "")
    password = st.session_state.get(PASSWORD_KEY, "")
    st.session_state[PASSWORD_KEY] = ""  # never kept, not even after a failure
    try:
        actor = authenticate(get_engine(), username, password)
    except LoginError as exc:
        st.session_state[ERROR_KEY] = str(exc)
        return
    st.session_state.pop(ERROR_KEY, None)
    sign_in(actor)


def _password_form() -> None:
    # No "Press Enter to submit form" hint (English, and Streamlit's own): the button submits.
    with st.form("login_form", enter_to_submit=False):
        st.text_input("Usuario", key=USERNAME_KEY, autocomplete="username")
        st.text_input(
            "Contraseña", key=PASSWORD_KEY, type="password", autocomplete="current-password",
        )
        st.form_submit_button(
            "Iniciar sesión", type="primary", key="login_submit", on_click=_sign_in,
        )
    if message := st.session_state.get(ERROR_KEY):
        st.error(message)


def _user_is_logged_in() -> bool:
    """Whether the identity provider has signed this browser in (False without [auth])."""
    return bool(st.user.get("is_logged_in"))


def _identity_provider() -> None:
    """AUTH_MODE=oidc: the provider proves who the person is; the role comes from core."""
    if not _user_is_logged_in():
        st.write("Inicie sesión con la cuenta de su empresa.")
        if st.button("Iniciar sesión", type="primary", key="login_oidc"):
            st.login()
        return
    email = str(st.user.get("email") or "")
    name = str(st.user.get("name") or "")
    st.write(f"Identificado como {email or name}.")
    if st.button("Continuar", type="primary", key="login_oidc_continue"):
        actor = actor_for_identity(get_engine(), email_or_username=email, display_name=name)
        if actor is None:
            st.session_state[ERROR_KEY] = NO_ACCESS_MESSAGE
        else:
            st.session_state.pop(ERROR_KEY, None)
            sign_in(actor)
        st.rerun()
    if message := st.session_state.get(ERROR_KEY):
        st.error(message)
        if st.button("Cerrar sesión en el proveedor", key="login_oidc_logout"):
            st.session_state.pop(ERROR_KEY, None)
            st.logout()


require_navigation(signed_in=False)
if current_actor() is not None:  # just signed in: the pages of the role take over
    st.switch_page("streamlit_app.py")
st.title("Iniciar sesión")
st.caption("Aliados: clientes y proveedores.")
show_flashes()

if count_users(get_engine()) == 0:
    st.warning(
        "Todavía no hay usuarios. Para crear el primer administrador, ejecute en el servidor "
        "el comando siguiente (le pedirá la contraseña) y luego vuelva a esta página:"
    )
    st.code(BOOTSTRAP_COMMAND, language="bash")
    if st.button("Ya lo creé", key="login_bootstrap_done"):
        st.rerun()
    st.stop()

if get_settings().AUTH_MODE == "oidc":
    _identity_provider()
else:
    _password_form()

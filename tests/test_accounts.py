"""Accounts and sign-in rules, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from core import accounts
from core.accounts import (
    LOCK_MINUTES, MAX_FAILED_ATTEMPTS, WRONG_CREDENTIALS, AccountError, LoginError,
    actor_for_identity, authenticate, create_user, current_actor, deactivate_user, list_users,
    session_expired, set_password, set_role, unlock_user,
)
from core.db import make_engine, reading, transaction
from core.models import User
from core.permissions import Actor, PermissionDeniedError

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "Orquidea-Azul-42"
T0 = datetime(2025, 3, 4, 14, 0, tzinfo=UTC)


@pytest.fixture
def admin(engine) -> Actor:
    create_user(engine, username="Ana.Admin", password=ADMIN_PASSWORD, role="administrador",
                display_name="Ana Prueba", actor=None)
    return authenticate(engine, "ana.admin", ADMIN_PASSWORD)


def add_user(engine, admin, username, role="editor", password="Guayaba-Rosada-7"):
    return create_user(engine, username=username, password=password, role=role, actor=admin)


def stored(engine, username) -> User:
    with reading(engine) as session:
        return session.scalars(select(User).where(User.username == username)).one()


# --- creating users and hashing -------------------------------------------------------------

def test_password_is_kept_only_as_argon2_hash(engine, admin):
    user = stored(engine, "ana.admin")
    assert user.password_hash.startswith("$argon2id$")
    assert ADMIN_PASSWORD not in user.password_hash
    assert user.display_name == "Ana Prueba" and user.role == "administrador"
    assert admin == Actor("ana.admin", "administrador", "Ana Prueba")

    with pytest.raises(LoginError) as caught:
        authenticate(engine, "ana.admin", ADMIN_PASSWORD + "x")
    assert str(caught.value) == WRONG_CREDENTIALS


def test_username_is_stored_lower_case_and_sign_in_ignores_case(engine, admin):
    assert stored(engine, "ana.admin").username == "ana.admin"
    assert authenticate(engine, "  ANA.ADMIN ", ADMIN_PASSWORD).username == "ana.admin"


@pytest.mark.parametrize(
    ("username", "password", "role", "field", "fragment"),
    [
        ("ab", "Guayaba-Rosada-7", "editor", "username", "de 3 a 50"),
        ("josé", "Guayaba-Rosada-7", "editor", "username", "sin tildes"),
        ("con espacio", "Guayaba-Rosada-7", "editor", "username", "de 3 a 50"),
        ("x" * 51, "Guayaba-Rosada-7", "editor", "username", "de 3 a 50"),
        ("ana.admin", "Guayaba-Rosada-7", "editor", "username", "Ya existe el usuario «ana.admin»"),
        ("luis", "Guayaba-Rosada-7", "jefe", "role", "Lector, Editor o Administrador"),
        ("luis", "corta1!", "editor", "password", "al menos 10"),
        ("luis", "aaaaaaaaaaaa", "editor", "password", "No repita"),
        ("luis.perez.q", "Luis.Perez.Q", "editor", "password", "igual al nombre de usuario"),
        ("luis", "", "editor", "password", "Escriba una contraseña"),
    ],
)
def test_create_user_says_what_to_fix(engine, admin, username, password, role, field, fragment):
    with pytest.raises(AccountError) as caught:
        add_user(engine, admin, username, role=role, password=password)
    assert fragment in caught.value.errors[field]
    assert password not in str(caught.value) or not password


def test_duplicate_username_differs_only_in_case(engine, admin):
    with pytest.raises(AccountError) as caught:
        add_user(engine, admin, "ANA.Admin")
    assert caught.value.errors == {
        "username": "Ya existe el usuario «ana.admin»; elija otro nombre."
    }


def test_several_errors_at_once(engine, admin):
    with pytest.raises(AccountError) as caught:
        add_user(engine, admin, "a", role="nadie", password="corta")
    assert set(caught.value.errors) == {"username", "role", "password"}


# --- bootstrap and role checks -----------------------------------------------------------

def test_first_user_needs_no_actor_but_must_be_administrador(engine):
    with pytest.raises(AccountError) as caught:
        create_user(engine, username="primero", password="Maracuya-Dulce-3", role="editor",
                    actor=None)
    assert caught.value.errors == {"role": "El primer usuario debe ser administrador."}
    assert accounts.count_users(engine) == 0

    create_user(engine, username="primero", password="Maracuya-Dulce-3", role="administrador",
                actor=None)
    assert accounts.count_users(engine) == 1


def test_once_a_user_exists_no_actor_is_refused(engine, admin):
    with pytest.raises(PermissionDeniedError) as caught:
        create_user(engine, username="segundo", password="Maracuya-Dulce-3",
                    role="administrador", actor=None)
    assert "Inicie sesión" in str(caught.value)
    assert accounts.count_users(engine) == 1


@pytest.mark.parametrize("role", ["lector", "editor"])
def test_lector_and_editor_cannot_manage_users(engine, admin, role):
    add_user(engine, admin, "otra.persona", role=role)
    someone = authenticate(engine, "otra.persona", "Guayaba-Rosada-7")
    assert someone.role == role
    calls = [
        lambda: add_user(engine, someone, "tercero"),
        lambda: list_users(engine, actor=someone),
        lambda: set_role(engine, "otra.persona", "administrador", actor=someone),
        lambda: set_password(engine, "ana.admin", "Nueva-Clave-123", actor=someone),
        lambda: unlock_user(engine, "ana.admin", actor=someone),
        lambda: deactivate_user(engine, "ana.admin", actor=someone),
    ]
    for call in calls:
        with pytest.raises(PermissionDeniedError) as caught:
            call()
        assert "no permite administrar usuarios" in str(caught.value)
    assert stored(engine, "otra.persona").role == role
    assert accounts.count_users(engine) == 2


def test_administrador_manages_users(engine, admin):
    add_user(engine, admin, "beto", role="lector")
    assert set_role(engine, "beto", "editor", actor=admin).role == "editor"
    set_password(engine, "beto", "Mango-Biche-2024", actor=admin)
    assert authenticate(engine, "beto", "Mango-Biche-2024").role == "editor"
    with pytest.raises(LoginError):
        authenticate(engine, "beto", "Guayaba-Rosada-7")
    rows = list_users(engine, actor=admin)
    assert [(r.username, r.role, r.has_password) for r in rows] == [
        ("ana.admin", "administrador", True), ("beto", "editor", True),
    ]
    assert not hasattr(rows[0], "password_hash")
    with pytest.raises(accounts.UserNotFoundError):
        set_role(engine, "nadie", "editor", actor=admin)


def test_last_active_administrador_cannot_be_removed(engine, admin):
    with pytest.raises(AccountError) as caught:
        set_role(engine, "ana.admin", "editor", actor=admin)
    assert "último administrador activo" in caught.value.errors["role"]
    with pytest.raises(AccountError):
        deactivate_user(engine, "ana.admin", actor=admin)
    assert stored(engine, "ana.admin").role == "administrador"
    assert stored(engine, "ana.admin").active

    # With a second administrador, the first may step down; then the second is the last.
    add_user(engine, admin, "carla", role="administrador")
    set_role(engine, "ana.admin", "editor", actor=admin)
    carla = authenticate(engine, "carla", "Guayaba-Rosada-7")
    with pytest.raises(AccountError):
        deactivate_user(engine, "carla", actor=carla)
    # An inactive administrador does not count as the one that remains.
    set_role(engine, "ana.admin", "administrador", actor=carla)
    deactivate_user(engine, "ana.admin", actor=carla)
    with pytest.raises(AccountError):
        set_role(engine, "carla", "lector", actor=carla)


def test_password_policy_on_set_password(engine, admin):
    with pytest.raises(AccountError) as caught:
        set_password(engine, "ana.admin", "ana.admin", actor=admin)
    assert "password" in caught.value.errors
    assert authenticate(engine, "ana.admin", ADMIN_PASSWORD)


# --- signing in ------------------------------------------------------------------------------

def test_unknown_user_gets_the_same_message_as_a_wrong_password(engine, admin):
    with pytest.raises(LoginError) as unknown:
        authenticate(engine, "no.existe", ADMIN_PASSWORD)
    with pytest.raises(LoginError) as wrong:
        authenticate(engine, "ana.admin", "Incorrecta-123")
    assert str(unknown.value) == str(wrong.value) == "Usuario o contraseña incorrectos."
    with pytest.raises(LoginError) as empty:
        authenticate(engine, "", "")
    assert str(empty.value) == WRONG_CREDENTIALS


def test_lockout_after_five_failures_and_unlock_after_fifteen_minutes(engine, admin):
    for attempt in range(1, MAX_FAILED_ATTEMPTS):
        with pytest.raises(LoginError) as caught:
            authenticate(engine, "ana.admin", f"Mala-Clave-{attempt:03}", now=T0)
        assert str(caught.value) == WRONG_CREDENTIALS
    assert stored(engine, "ana.admin").failed_attempts == MAX_FAILED_ATTEMPTS - 1

    with pytest.raises(LoginError) as caught:
        authenticate(engine, "ana.admin", "Mala-Clave-005", now=T0)
    assert str(caught.value) == (
        "La cuenta está bloqueada por intentos fallidos; vuelva a intentarlo en 15 minutos "
        "o pida a un administrador que la desbloquee."
    )
    assert stored(engine, "ana.admin").locked_until == T0 + timedelta(minutes=LOCK_MINUTES)

    # The right password during the lock is still refused.
    with pytest.raises(LoginError) as caught:
        authenticate(engine, "ana.admin", ADMIN_PASSWORD, now=T0 + timedelta(minutes=14))
    assert "en 1 minuto o pida" in str(caught.value)
    with pytest.raises(LoginError) as caught:
        authenticate(engine, "ana.admin", ADMIN_PASSWORD,
                     now=T0 + timedelta(minutes=14, seconds=59))
    assert "bloqueada" in str(caught.value)

    after = T0 + timedelta(minutes=LOCK_MINUTES)
    assert authenticate(engine, "ana.admin", ADMIN_PASSWORD, now=after).username == "ana.admin"
    user = stored(engine, "ana.admin")
    assert (user.failed_attempts, user.locked_until, user.last_login_at) == (0, None, after)


def test_failures_after_a_lock_ran_out_start_a_fresh_count(engine, admin):
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(LoginError):
            authenticate(engine, "ana.admin", "Mala-Clave-000", now=T0)
    later = T0 + timedelta(minutes=LOCK_MINUTES + 1)
    with pytest.raises(LoginError) as caught:
        authenticate(engine, "ana.admin", "Mala-Clave-000", now=later)
    assert str(caught.value) == WRONG_CREDENTIALS
    assert stored(engine, "ana.admin").failed_attempts == 1


def test_success_resets_the_failure_count(engine, admin):
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        with pytest.raises(LoginError):
            authenticate(engine, "ana.admin", "Mala-Clave-000", now=T0)
    authenticate(engine, "ana.admin", ADMIN_PASSWORD, now=T0)
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        with pytest.raises(LoginError) as caught:
            authenticate(engine, "ana.admin", "Mala-Clave-000", now=T0)
        assert str(caught.value) == WRONG_CREDENTIALS


def test_parallel_guesses_cannot_get_past_the_limit(engine, admin, monkeypatch):
    real_hash = stored(engine, "ana.admin").password_hash
    checked: list[str] = []
    original = accounts._verify

    def counting_verify(stored_hash, password):
        if stored_hash == real_hash:
            checked.append(password)
        return original(stored_hash, password)

    monkeypatch.setattr(accounts, "_verify", counting_verify)
    guesses = 12
    start = threading.Barrier(guesses)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        start.wait()
        try:
            authenticate(engine, "ana.admin", f"Adivinanza-{n:04}", now=T0)
        except LoginError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert len(outcomes) == guesses
    assert len(checked) <= MAX_FAILED_ATTEMPTS  # never more guesses than allowed
    assert stored(engine, "ana.admin").locked_until == T0 + timedelta(minutes=LOCK_MINUTES)
    with pytest.raises(LoginError, match="bloqueada"):
        authenticate(engine, "ana.admin", ADMIN_PASSWORD, now=T0)


def test_an_attempt_left_hanging_at_the_limit_locks_the_account(engine, admin):
    # As if the process checking the fifth attempt had died before writing its outcome.
    with transaction(engine) as session:
        session.execute(update(User).where(User.username == "ana.admin")
                        .values(failed_attempts=MAX_FAILED_ATTEMPTS))
    with pytest.raises(LoginError, match="bloqueada"):
        authenticate(engine, "ana.admin", ADMIN_PASSWORD, now=T0)
    assert stored(engine, "ana.admin").locked_until == T0 + timedelta(minutes=LOCK_MINUTES)


def test_administrador_unlocks_a_locked_account(engine, admin):
    add_user(engine, admin, "dora")
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(LoginError):
            authenticate(engine, "dora", "Mala-Clave-000", now=T0)
    assert [u.is_locked(T0) for u in list_users(engine, actor=admin)] == [False, True]
    unlock_user(engine, "dora", actor=admin)
    assert authenticate(engine, "dora", "Guayaba-Rosada-7", now=T0).username == "dora"


def test_inactive_user_is_refused_with_a_clear_message(engine, admin):
    add_user(engine, admin, "eva")
    deactivate_user(engine, "eva", actor=admin)
    with pytest.raises(LoginError) as caught:
        authenticate(engine, "eva", "Guayaba-Rosada-7")
    assert str(caught.value) == (
        "La cuenta está desactivada. Pida a un administrador que la reactive."
    )
    # Only whoever knows the password learns that the account exists.
    with pytest.raises(LoginError) as caught:
        authenticate(engine, "eva", "Mala-Clave-000")
    assert str(caught.value) == WRONG_CREDENTIALS
    assert current_actor(engine, "eva") is None
    accounts.activate_user(engine, "eva", actor=admin)
    assert authenticate(engine, "eva", "Guayaba-Rosada-7").role == "editor"


def test_identity_provider_only_account_cannot_use_a_password(engine, admin):
    create_user(engine, username="fer@example.com", password=None, role="lector", actor=admin)
    assert stored(engine, "fer@example.com").password_hash is None
    with pytest.raises(LoginError) as caught:
        authenticate(engine, "fer@example.com", "")
    assert str(caught.value) == WRONG_CREDENTIALS


def test_old_hash_parameters_are_upgraded_on_sign_in(engine, admin):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(ADMIN_PASSWORD)
    with transaction(engine) as session:
        session.execute(update(User).where(User.username == "ana.admin")
                        .values(password_hash=weak))
    authenticate(engine, "ana.admin", ADMIN_PASSWORD)
    upgraded = stored(engine, "ana.admin").password_hash
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    assert authenticate(engine, "ana.admin", ADMIN_PASSWORD)


def test_password_never_in_logs_or_messages(engine, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Secreto-Muy-Largo-99"
    create_user(engine, username="gabo", password=secret, role="administrador", actor=None)
    for guess in (secret + "!", secret + "?"):
        with pytest.raises(LoginError) as caught:
            authenticate(engine, "gabo", guess)
        assert secret not in str(caught.value)
    authenticate(engine, "gabo", secret)
    assert secret not in caplog.text
    assert "gabo" in caplog.text  # the events themselves are logged


# --- identity provider and idle sessions -------------------------------------------------

def test_identity_provider_maps_to_the_role_in_the_table(engine, admin):
    create_user(engine, username="Hilda@Example.com", password=None, role="editor",
                display_name="", actor=admin)
    actor = actor_for_identity(engine, email_or_username="HILDA@example.com",
                               display_name="Hilda Prueba")
    assert actor == Actor("hilda@example.com", "editor", "Hilda Prueba")
    assert stored(engine, "hilda@example.com").last_login_at is not None

    assert actor_for_identity(engine, email_or_username="nadie@example.com",
                              display_name="Nadie") is None
    assert actor_for_identity(engine, email_or_username="", display_name="") is None
    deactivate_user(engine, "hilda@example.com", actor=admin)
    assert actor_for_identity(engine, email_or_username="hilda@example.com") is None


def test_current_actor_follows_role_changes(engine, admin):
    add_user(engine, admin, "ivan", role="lector")
    set_role(engine, "ivan", "editor", actor=admin)
    assert current_actor(engine, "IVAN") == Actor("ivan", "editor", "")
    assert current_actor(engine, "nadie") is None


def test_idle_session_expires_after_the_configured_minutes():
    assert accounts.SESSION_IDLE_MINUTES == 30
    assert not session_expired(T0, T0 + timedelta(minutes=29, seconds=59), 30)
    assert session_expired(T0, T0 + timedelta(minutes=30), 30)
    assert session_expired(T0, T0 + timedelta(minutes=6), 5)
    assert not session_expired(T0, T0 + timedelta(minutes=29))  # default 30
    naive = T0.replace(tzinfo=None)  # a naive time is taken as UTC
    assert session_expired(naive, T0 + timedelta(hours=1), 30)


# --- command line ----------------------------------------------------------------------------

def run_cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIIGO_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    return env


def test_cli_create_user_bootstrap_then_more_users(cli_env):
    refused = run_cli("create-user", "--username", "juan", "--role", "editor",
                      "--password-stdin", env=cli_env, stdin="Papaya-Verde-11\n")
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "Error: El primer usuario debe ser administrador: use --role administrador."
    ]

    first = run_cli("create-user", "--username", "Juan", "--role", "administrador",
                    "--display-name", "Juan Prueba", "--password-stdin",
                    env=cli_env, stdin="Papaya-Verde-11\n")
    assert first.returncode == 0, first.stderr
    assert "juan" in first.stdout and "Papaya-Verde-11" not in first.stdout + first.stderr
    engine = make_engine(cli_env["DATABASE_URL"])
    assert authenticate(engine, "juan", "Papaya-Verde-11").display_name == "Juan Prueba"

    second = run_cli("create-user", "--username", "karen", "--role", "lector",
                     "--password-stdin", env=cli_env, stdin="Pitahaya-Roja-5")
    assert second.returncode == 0, second.stderr
    assert authenticate(engine, "karen", "Pitahaya-Roja-5").role == "lector"

    weak = run_cli("create-user", "--username", "luz", "--role", "lector",
                   "--password-stdin", env=cli_env, stdin="corta\n")
    assert weak.returncode != 0
    assert len(weak.stderr.strip().splitlines()) == 1
    assert "al menos 10 caracteres" in weak.stderr and "corta" not in weak.stderr

    dup = run_cli("create-user", "--username", "KAREN", "--role", "lector",
                  "--password-stdin", env=cli_env, stdin="Pitahaya-Roja-5")
    assert dup.returncode != 0 and "Ya existe el usuario «karen»" in dup.stderr

    listed = run_cli("list-users", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    assert "juan" in listed.stdout and "karen" in listed.stdout
    assert "$argon2" not in listed.stdout

    promoted = run_cli("set-role", "--username", "karen", "--role", "editor", env=cli_env)
    assert promoted.returncode == 0, promoted.stderr
    assert current_actor(engine, "karen").role == "editor"
    engine.dispose()


def test_cli_unlock_and_set_password(cli_env):
    run_cli("create-user", "--username", "mario", "--role", "administrador",
            "--password-stdin", env=cli_env, stdin="Lulo-Amarillo-8")
    engine = make_engine(cli_env["DATABASE_URL"])
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(LoginError):
            authenticate(engine, "mario", "Mala-Clave-000")
    unlocked = run_cli("unlock-user", "--username", "mario", env=cli_env)
    assert unlocked.returncode == 0, unlocked.stderr
    changed = run_cli("set-password", "--username", "mario", "--password-stdin",
                      env=cli_env, stdin="Curuba-Morada-9\n")
    assert changed.returncode == 0, changed.stderr
    assert authenticate(engine, "mario", "Curuba-Morada-9").username == "mario"
    missing = run_cli("unlock-user", "--username", "nadie", env=cli_env)
    assert missing.returncode != 0 and "No existe el usuario «nadie»" in missing.stderr
    engine.dispose()


def test_cli_refuses_an_empty_password_from_stdin(cli_env):
    result = run_cli("create-user", "--username", "nora", "--role", "administrador",
                     "--password-stdin", env=cli_env, stdin="")
    assert result.returncode != 0
    assert "Escriba una contraseña" in result.stderr

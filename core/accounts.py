"""User accounts and the rules for signing in.

- Passwords are kept only as argon2 hashes (``argon2.PasswordHasher``); the clear
  password is never stored, logged or put in an exception message.
- ``authenticate`` answers the same "Usuario o contraseña incorrectos." for an
  unknown user and a wrong password, so usernames cannot be probed. After
  ``MAX_FAILED_ATTEMPTS`` wrong passwords in a row the account is locked for
  ``LOCK_MINUTES``; while locked even the right password is refused.
- With the identity provider (``st.login``) the provider proves who the person
  is and ``actor_for_identity`` gives the role kept in this table.
- Managing users needs ``manage_users`` (administrador), except the bootstrap:
  while no user exists, the first administrador may be created with no actor.
  The last active administrador can be neither demoted nor deactivated.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.db import reading, transaction, utcnow
from core.models import User
from core.permissions import ROLE_LABELS, ROLES, Actor, require

log = logging.getLogger(__name__)

MAX_FAILED_ATTEMPTS = 5
LOCK_MINUTES = 15
SESSION_IDLE_MINUTES = 30
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MAX_DISPLAY_NAME = 100
ADMIN = "administrador"

# The command line runs on the server with the database at hand, so it acts as
# this built-in administrador (it is not a row of the table).
CONSOLE_ADMIN = Actor("consola", ADMIN, "Administrador de consola")

FIELD_LABELS = {
    "username": "Usuario",
    "password": "Contraseña",
    "role": "Rol",
    "display_name": "Nombre",
}

WRONG_CREDENTIALS = "Usuario o contraseña incorrectos."
INACTIVE_MESSAGE = "La cuenta está desactivada. Pida a un administrador que la reactive."
NO_ACCESS_MESSAGE = "Su cuenta no tiene acceso; pida a un administrador que la cree."

# Letters without accents, digits, dot, dash, underscore and "@" (so that an
# e-mail address can be the username of someone who signs in through the
# identity provider).
_USERNAME = re.compile(r"^[a-z0-9._@-]{3,50}$")

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both cases take as long.
_DUMMY_HASH = _hasher.hash("aliados-cuenta-inexistente")


class AccountError(ValueError):
    """Raised with ``errors``: field name -> Spanish message saying what to fix."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(" ".join(f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in errors.items()))


class UserNotFoundError(LookupError):
    def __init__(self, username: str):
        self.username = username
        super().__init__(f"No existe el usuario «{username}».")


class LoginError(Exception):
    """Signing in was refused; the message is Spanish and safe to show."""


@dataclass(frozen=True)
class UserSummary:
    """What the users page shows about an account (never the hash)."""

    username: str
    display_name: str
    role: str
    active: bool
    has_password: bool
    failed_attempts: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and (now or utcnow()) < self.locked_until


def normalize_username(username: str | None) -> str:
    return (username or "").strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def username_problem(username: str) -> str | None:
    """The Spanish message saying what is wrong with a (normalised) username, if anything."""
    if not _USERNAME.match(username):
        return (
            "Use de 3 a 50 caracteres: letras sin tildes, números, punto, guion, "
            "guion bajo o @."
        )
    return None


def password_problem(password: str | None, username: str = "") -> str | None:
    """The Spanish message saying what to fix in ``password``, or None if it is acceptable."""
    if not password:
        return "Escriba una contraseña."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use al menos {MIN_PASSWORD_LENGTH} caracteres."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use como máximo {MAX_PASSWORD_LENGTH} caracteres."
    if len(set(password)) == 1:
        return "No repita un mismo carácter: mezcle letras, números o símbolos."
    if username and password.strip().lower() == username.lower():
        return "La contraseña no puede ser igual al nombre de usuario."
    return None


def _role_problem(role: str) -> str | None:
    if role not in ROLES:
        names = ", ".join(ROLE_LABELS[r] for r in ROLES[:-1])
        return f"Elija un rol válido: {names} o {ROLE_LABELS[ROLES[-1]]}."
    return None


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _summary(user: User) -> UserSummary:
    return UserSummary(
        username=user.username, display_name=user.display_name, role=user.role,
        active=user.active, has_password=user.password_hash is not None,
        failed_attempts=user.failed_attempts, locked_until=user.locked_until,
        last_login_at=user.last_login_at, created_at=user.created_at,
    )


def _actor(user: User) -> Actor:
    return Actor(user.username, user.role, user.display_name)


def _get_for_update(session: Session, username: str) -> User | None:
    statement = select(User).where(User.username == normalize_username(username))
    return session.scalars(statement.with_for_update()).first()


def _load(session: Session, username: str) -> User:
    user = _get_for_update(session, username)
    if user is None:
        raise UserNotFoundError(normalize_username(username))
    return user


def _lock_user_table(session: Session) -> None:
    # On PostgreSQL two first-user bootstraps could both see an empty table;
    # this lock makes the second wait and then see the first. SQLite already
    # serialises writers (BEGIN IMMEDIATE).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE app_user IN SHARE ROW EXCLUSIVE MODE"))


def _ensure_other_admin(session: Session, user: User) -> None:
    """Refuse to leave no active administrador once ``user`` stops being one."""
    if user.role != ADMIN or not user.active:
        return
    statement = (
        select(User.id).where(User.role == ADMIN, User.active.is_(True)).with_for_update()
    )
    admins = session.scalars(statement).all()
    if len(admins) <= 1:
        raise AccountError(
            {
                "role": (
                    "Es el último administrador activo: nombre primero a otro "
                    "administrador antes de quitarle el rol o desactivarlo."
                )
            }
        )


def count_users(engine: Engine) -> int:
    with reading(engine) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def create_user(
    engine: Engine,
    *,
    username: str,
    password: str | None,
    role: str,
    display_name: str = "",
    actor: Actor | None,
) -> UserSummary:
    """Create an account. ``password=None`` makes an identity-provider-only account.

    ``actor=None`` is accepted only while no user exists (bootstrap) and then the
    role must be administrador.
    """
    username = normalize_username(username)
    display_name = " ".join((display_name or "").split())
    if actor is not None:
        require(actor, "manage_users")

    errors: dict[str, str] = {}
    if problem := username_problem(username):
        errors["username"] = problem
    if problem := _role_problem(role):
        errors["role"] = problem
    if password is not None and (problem := password_problem(password, username)):
        errors["password"] = problem
    if len(display_name) > MAX_DISPLAY_NAME:
        errors["display_name"] = f"Use como máximo {MAX_DISPLAY_NAME} caracteres."
    # Hashed before the transaction: argon2 is slow on purpose and a writing
    # transaction on SQLite holds the database's only write lock.
    password_hash = None if errors or password is None else hash_password(password)

    with transaction(engine) as session:
        if actor is None:
            _lock_user_table(session)
            if session.scalar(select(func.count()).select_from(User)):
                require(actor, "manage_users")  # raises: users exist, so credentials are needed
            if "role" not in errors and role != ADMIN:
                errors["role"] = "El primer usuario debe ser administrador."
        if "username" not in errors and session.scalars(
            select(User.id).where(User.username == username)
        ).first() is not None:
            errors["username"] = f"Ya existe el usuario «{username}»; elija otro nombre."
        if errors:
            raise AccountError(errors)

        user = User(username=username, display_name=display_name, role=role,
                    password_hash=password_hash)
        session.add(user)
        try:
            session.flush()
        except IntegrityError as exc:  # created by someone else meanwhile
            raise AccountError(
                {"username": f"Ya existe el usuario «{username}»; elija otro nombre."}
            ) from exc
        log.info("Usuario %s creado con rol %s por %s", username, role,
                 actor.username if actor else "(arranque)")
        return _summary(user)


def authenticate(
    engine: Engine, username: str, password: str, *, now: datetime | None = None
) -> Actor:
    """Check a username and password; return the Actor or raise LoginError.

    The slow argon2 check runs outside any transaction (on SQLite a transaction
    that writes holds the one write lock of the whole database). To keep
    parallel guesses within the limit, each attempt is first counted as a
    failure in a short transaction and the outcome is written in another.
    """
    now = _as_utc(now or utcnow())
    username = normalize_username(username)
    password = password or ""
    reserved = _reserve_attempt(engine, username, now) if username else None
    if reserved is None:
        _verify(_DUMMY_HASH, password)
        raise LoginError(WRONG_CREDENTIALS)
    if isinstance(reserved, LoginError):
        raise reserved
    stored = reserved
    if not stored:  # no password (identity provider only): as slow as a real check
        _verify(_DUMMY_HASH, password)
        raise _record_failure(engine, username, now)
    if not _verify(stored, password):
        raise _record_failure(engine, username, now)
    new_hash = hash_password(password) if _hasher.check_needs_rehash(stored) else None
    return _record_success(engine, username, stored, new_hash, now)


def _reserve_attempt(engine: Engine, username: str, now: datetime) -> str | None | LoginError:
    """Count one attempt; return the stored hash, a LoginError to raise, or None if unknown.

    An unknown user yields None; a user without a password yields "" (falsy).
    """
    with transaction(engine) as session:
        user = _get_for_update(session, username)
        if user is None:
            return None
        if user.locked_until is not None and user.locked_until <= now:
            user.locked_until = None  # the lock has run out: a fresh set of attempts
            user.failed_attempts = 0
        if user.locked_until is None and user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            # The last allowed attempt is still being checked (or its process
            # died): lock now rather than allow more guesses.
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        if user.locked_until is not None:
            # Refused before looking at the password: during the lock a guess,
            # right or wrong, tells nothing.
            return LoginError(_locked_message(user.locked_until, now))
        user.failed_attempts += 1
        user.updated_at = now
        return user.password_hash or ""


def _record_failure(engine: Engine, username: str, now: datetime) -> LoginError:
    with transaction(engine) as session:
        user = _get_for_update(session, username)
        if user is not None and user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            if user.locked_until is None or user.locked_until <= now:
                user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                log.warning("Cuenta %s bloqueada por intentos fallidos", user.username)
            return LoginError(_locked_message(user.locked_until, now))
    return LoginError(WRONG_CREDENTIALS)


def _record_success(
    engine: Engine, username: str, checked_hash: str, new_hash: str | None, now: datetime
) -> Actor:
    with transaction(engine) as session:
        user = _get_for_update(session, username)
        if user is None or user.password_hash != checked_hash:
            # Deleted or given a new password while the old one was checked.
            raise LoginError(WRONG_CREDENTIALS)
        user.failed_attempts = 0
        user.locked_until = None
        user.updated_at = now
        if not user.active:
            error = LoginError(INACTIVE_MESSAGE)  # said only to whoever knows the password
        else:
            error = None
            user.last_login_at = now
            if new_hash is not None:
                user.password_hash = new_hash
        actor = _actor(user)
    # Raised after the commit, so the reset counter is kept.
    if error is not None:
        raise error
    return actor


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _locked_message(locked_until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
    unit = "minuto" if minutes == 1 else "minutos"
    return (
        "La cuenta está bloqueada por intentos fallidos; vuelva a intentarlo en "
        f"{minutes} {unit} o pida a un administrador que la desbloquee."
    )


def actor_for_identity(
    engine: Engine, *, email_or_username: str, display_name: str = ""
) -> Actor | None:
    """The Actor for someone the identity provider signed in, or None without access.

    The provider proves who the person is; the role comes from this table,
    matched by username == the e-mail lower-cased. Unknown or inactive -> None
    (the page then shows ``NO_ACCESS_MESSAGE``).
    """
    username = normalize_username(email_or_username)
    if not username:
        return None
    with transaction(engine) as session:
        user = _get_for_update(session, username)
        if user is None or not user.active:
            return None
        user.last_login_at = utcnow()
        return Actor(user.username, user.role, user.display_name or display_name.strip())


def current_actor(engine: Engine, username: str) -> Actor | None:
    """The Actor as the table says now (None if gone or inactive).

    Pages call it on each run so that a changed role or a deactivation takes
    effect in sessions already open.
    """
    with reading(engine) as session:
        user = session.scalars(
            select(User).where(User.username == normalize_username(username))
        ).first()
        if user is None or not user.active:
            return None
        return _actor(user)


def session_expired(
    last_activity: datetime, now: datetime, idle_minutes: int = SESSION_IDLE_MINUTES
) -> bool:
    """True once ``idle_minutes`` have passed since ``last_activity``."""
    return _as_utc(now) - _as_utc(last_activity) >= timedelta(minutes=idle_minutes)


def list_users(engine: Engine, *, actor: Actor | None) -> list[UserSummary]:
    require(actor, "manage_users")
    with reading(engine) as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        return [_summary(u) for u in users]


def set_role(engine: Engine, username: str, role: str, *, actor: Actor | None) -> UserSummary:
    require(actor, "manage_users")
    if problem := _role_problem(role):
        raise AccountError({"role": problem})
    with transaction(engine) as session:
        user = _load(session, username)
        if role != ADMIN:
            _ensure_other_admin(session, user)
        user.role = role
        user.updated_at = utcnow()
        log.info("Rol de %s cambiado a %s por %s", user.username, role, actor.username)
        return _summary(user)


def set_password(
    engine: Engine, username: str, password: str, *, actor: Actor | None
) -> UserSummary:
    """Give a user a new password (it also clears a lock)."""
    require(actor, "manage_users")
    if problem := password_problem(password, normalize_username(username)):
        raise AccountError({"password": problem})
    password_hash = hash_password(password)  # before the transaction: argon2 is slow
    with transaction(engine) as session:
        user = _load(session, username)
        user.password_hash = password_hash
        user.failed_attempts = 0
        user.locked_until = None
        user.updated_at = utcnow()
        log.info("Contraseña de %s cambiada por %s", user.username, actor.username)
        return _summary(user)


def unlock_user(engine: Engine, username: str, *, actor: Actor | None) -> UserSummary:
    require(actor, "manage_users")
    with transaction(engine) as session:
        user = _load(session, username)
        user.failed_attempts = 0
        user.locked_until = None
        user.updated_at = utcnow()
        log.info("Cuenta %s desbloqueada por %s", user.username, actor.username)
        return _summary(user)


def deactivate_user(engine: Engine, username: str, *, actor: Actor | None) -> UserSummary:
    require(actor, "manage_users")
    with transaction(engine) as session:
        user = _load(session, username)
        _ensure_other_admin(session, user)
        user.active = False
        user.updated_at = utcnow()
        log.info("Cuenta %s desactivada por %s", user.username, actor.username)
        return _summary(user)


def activate_user(engine: Engine, username: str, *, actor: Actor | None) -> UserSummary:
    require(actor, "manage_users")
    with transaction(engine) as session:
        user = _load(session, username)
        user.active = True
        user.updated_at = utcnow()
        log.info("Cuenta %s reactivada por %s", user.username, actor.username)
        return _summary(user)

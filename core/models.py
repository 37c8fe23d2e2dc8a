"""Tables: the allies and the record of every Siigo import run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, utcnow

ALLY_TYPES = ("cliente", "proveedor", "otro")
PERSON_TYPES = ("natural", "juridica")
STATUSES = ("activo", "inactivo")
ORIGINS = ("manual", "siigo")


def _ts(nullable: bool = True, **kwargs) -> Column:
    return Column(UTCDateTime(), nullable=nullable, **kwargs)


class Ally(SQLModel, table=True):
    """A commercial ally: a client, a supplier or another third party."""

    __tablename__ = "ally"
    __table_args__ = (
        UniqueConstraint("id_type", "identification", "branch_office", name="uq_ally_document"),
        Index("ix_ally_type_status", "ally_type", "status"),
        # Never reuse the id of a deleted ally: its history points at that id.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    siigo_id: str | None = Field(default=None, max_length=64, unique=True)
    origin: str = Field(default="manual", max_length=10, index=True)

    ally_type: str = Field(default="cliente", max_length=10)
    person_type: str = Field(default="juridica", max_length=10)
    id_type: str = Field(max_length=10)
    identification: str = Field(max_length=50)
    check_digit: str | None = Field(default=None, max_length=1)
    branch_office: int = Field(default=0)

    name: str = Field(max_length=300)
    sort_name: str = Field(default="", max_length=300, index=True)  # name folded, for ordering
    first_names: str | None = Field(default=None, max_length=100)
    last_names: str | None = Field(default=None, max_length=100)
    business_name: str | None = Field(default=None, max_length=300)
    commercial_name: str | None = Field(default=None, max_length=300)

    phone: str | None = Field(default=None, max_length=20)
    phone_extension: str | None = Field(default=None, max_length=10)
    email: str | None = Field(default=None, max_length=254)

    address: str | None = Field(default=None, max_length=256)
    country_code: str | None = Field(default=None, max_length=3)
    state_code: str | None = Field(default=None, max_length=5)
    state_name: str | None = Field(default=None, max_length=100)
    city_code: str | None = Field(default=None, max_length=10, index=True)
    city_name: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=10)

    status: str = Field(default="activo", max_length=10)
    notes: str | None = Field(default=None, sa_column=Column(Text))
    siigo_comments: str | None = Field(default=None, sa_column=Column(Text))
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    fiscal_responsibilities: str | None = Field(default=None, max_length=200)
    vat_responsible: bool = Field(default=False)

    siigo_created_at: datetime | None = Field(default=None, sa_column=_ts())
    siigo_updated_at: datetime | None = Field(default=None, sa_column=_ts())
    siigo_fingerprint: str | None = Field(default=None, max_length=64)
    last_synced_at: datetime | None = Field(default=None, sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False, index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    version: int = Field(default=1)


class ImportRun(SQLModel, table=True):
    """One run of the Siigo import, whatever its outcome."""

    __tablename__ = "import_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
    mode: str = Field(default="completa", max_length=20)  # completa | incremental
    trigger: str = Field(default="usuario", max_length=20)  # usuario | programado
    started_by: str = Field(default="", max_length=50)  # username, or "programado"
    status: str = Field(default="en curso", max_length=20)  # en curso | exitosa | fallida
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deactivated: int = 0
    requests: int = 0
    retries: int = 0
    duration_seconds: float | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))


class AuditEntry(SQLModel, table=True):
    """One change to an ally: who, when, what, and each field's old and new value."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_ally_at", "ally_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(False, index=True))
    username: str = Field(max_length=50, index=True)
    user_label: str = Field(default="", max_length=100)
    action: str = Field(max_length=20, index=True)  # crear|editar|eliminar|restaurar|importar
    ally_id: int | None = Field(default=None)
    ally_name: str = Field(default="", max_length=300)
    version: int | None = None  # the ally's version after this change
    import_run_id: int | None = Field(default=None)
    changes: str | None = Field(default=None, sa_column=Column(Text))  # JSON {field: [old, new]}
    snapshot: str | None = Field(default=None, sa_column=Column(Text))  # JSON row, on delete


class User(SQLModel, table=True):
    """A person who signs in; the role decides what they may do (core.permissions)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=50, unique=True)  # always lower-case
    display_name: str = Field(default="", max_length=100)
    role: str = Field(default="lector", max_length=20)
    # argon2 hash; None for users who only sign in through the identity provider.
    password_hash: str | None = Field(default=None, max_length=255)
    active: bool = Field(default=True)
    failed_attempts: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_column=_ts())
    last_login_at: datetime | None = Field(default=None, sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))

"""The change history of the allies, and restoring a deleted one.

Every write in ``core.allies`` and ``core.importer`` adds entries here in the
same transaction as the change itself, so the history can never disagree
with the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db import reading, transaction, utcnow
from core.models import Ally, AuditEntry
from core.permissions import Actor, require

BOGOTA = ZoneInfo("America/Bogota")
ACTIONS = ("crear", "editar", "eliminar", "restaurar", "importar")
ACTION_LABELS = {
    "crear": "Creación", "editar": "Edición", "eliminar": "Eliminación",
    "restaurar": "Restauración", "importar": "Importación",
}


class RestoreError(ValueError):
    """The deleted ally cannot be put back; the message says why and what to do."""


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=_encode)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    raise TypeError(type(value).__name__)


def _decode(obj: dict) -> Any:
    if set(obj) == {"__datetime__"}:
        return datetime.fromisoformat(obj["__datetime__"])
    return obj


def ally_snapshot(ally: Ally) -> dict[str, Any]:
    """Every column of ``ally``, enough to put it back exactly as it was."""
    return {c.name: getattr(ally, c.name) for c in Ally.__table__.columns}


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    ally_id: int | None,
    ally_name: str,
    version: int | None = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    snapshot: Mapping[str, Any] | None = None,
    import_run_id: int | None = None,
) -> None:
    session.add(AuditEntry(
        at=utcnow(), username=actor.username, user_label=actor.label, action=action,
        ally_id=ally_id, ally_name=ally_name[:300], version=version,
        import_run_id=import_run_id,
        changes=_json({k: [old, new] for k, (old, new) in changes.items()}) if changes else None,
        snapshot=_json(dict(snapshot)) if snapshot else None,
    ))


def record_many(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Bulk version of ``record`` for imports: rows already in column form."""
    rows = list(rows)
    if rows:
        session.execute(AuditEntry.__table__.insert(), rows)


def audit_row(
    actor: Actor, action: str, ally_id: int | None, ally_name: str, *, at: datetime,
    version: int | None = None, changes: Mapping[str, tuple[Any, Any]] | None = None,
    import_run_id: int | None = None,
) -> dict[str, Any]:
    return {
        "at": at, "username": actor.username, "user_label": actor.label, "action": action,
        "ally_id": ally_id, "ally_name": (ally_name or "")[:300], "version": version,
        "import_run_id": import_run_id,
        "changes": _json({k: [o, n] for k, (o, n) in changes.items()}) if changes else None,
        "snapshot": None,
    }


@dataclass
class HistoryEntry:
    id: int
    at: datetime
    username: str
    user_label: str
    action: str
    ally_id: int | None
    ally_name: str
    version: int | None
    import_run_id: int | None
    changes: dict[str, list[Any]]
    restorable: bool

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)


def _to_entry(row: AuditEntry) -> HistoryEntry:
    changes = json.loads(row.changes, object_hook=_decode) if row.changes else {}
    return HistoryEntry(
        id=row.id, at=row.at, username=row.username, user_label=row.user_label,
        action=row.action, ally_id=row.ally_id, ally_name=row.ally_name, version=row.version,
        import_run_id=row.import_run_id, changes=changes,
        restorable=row.action == "eliminar" and row.snapshot is not None,
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BOGOTA)


def list_history(
    engine: Engine,
    *,
    username: str | None = None,
    ally_id: int | None = None,
    action: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    search: str | None = None,
    limit: int = 500,
) -> list[HistoryEntry]:
    """Newest first. Dates are days in Bogotá, both ends included."""
    stmt = select(AuditEntry)
    if username:
        stmt = stmt.where(AuditEntry.username == username)
    if ally_id is not None:
        stmt = stmt.where(AuditEntry.ally_id == ally_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if date_from:
        stmt = stmt.where(AuditEntry.at >= _day_start(date_from))
    if date_to:
        stmt = stmt.where(AuditEntry.at < _day_start(date_to + timedelta(days=1)))
    if search:
        stmt = stmt.where(AuditEntry.ally_name.ilike(f"%{search.strip()}%"))
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    with reading(engine) as session:
        entries = [_to_entry(row) for row in session.scalars(stmt).all()]
        deleted_ids = {e.ally_id for e in entries if e.restorable}
        if deleted_ids:
            # A deletion stops being restorable once its ally is back.
            back = set(session.scalars(select(Ally.id).where(Ally.id.in_(deleted_ids))).all())
            for entry in entries:
                if entry.restorable and entry.ally_id in back:
                    entry.restorable = False
    return entries


def history_users(engine: Engine) -> list[str]:
    stmt = select(AuditEntry.username).group_by(AuditEntry.username).order_by(AuditEntry.username)
    with reading(engine) as session:
        return list(session.scalars(stmt).all())


def changes_after(session: Session, ally_id: int, version: int) -> list[HistoryEntry]:
    """What was saved on ``ally_id`` after ``version``, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.ally_id == ally_id, AuditEntry.version > version)
        .order_by(AuditEntry.id)
    )
    return [_to_entry(row) for row in session.scalars(stmt).all()]


def restore_deleted(engine: Engine, entry_id: int, *, actor: Actor) -> Ally:
    """Put a deleted ally back exactly as it was, with its id, from its history entry."""
    require(actor, "restore")
    from core.allies import find_by_document

    with transaction(engine) as session:
        entry = session.get(AuditEntry, entry_id)
        if entry is None or entry.action != "eliminar" or not entry.snapshot:
            raise RestoreError(
                "Esa entrada del historial no es una eliminación que se pueda deshacer."
            )
        data = json.loads(entry.snapshot, object_hook=_decode)
        holder = session.get(Ally, data["id"])
        if holder is not None:
            if (holder.id_type, holder.identification) == (data["id_type"], data["identification"]):
                raise RestoreError(f"El aliado {entry.ally_name} ya fue restaurado.")
            data.pop("id")  # a database from before ids were never reused
        clash = find_by_document(
            session, data["id_type"], data["identification"], data["branch_office"]
        )
        if clash is not None:
            raise RestoreError(
                f"No se puede restaurar {entry.ally_name}: su documento ya lo tiene "
                f"{clash.name} (id {clash.id}). Elimine o corrija ese aliado primero."
            )
        if data.get("siigo_id"):
            taken = session.scalars(select(Ally).where(Ally.siigo_id == data["siigo_id"])).first()
            if taken is not None:
                data["siigo_id"] = None  # Siigo's record is already linked to another ally
        ally = Ally(**data)
        session.add(ally)
        session.flush()
        record(session, actor=actor, action="restaurar", ally_id=ally.id, ally_name=ally.name,
               version=ally.version)
        return ally

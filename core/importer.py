"""The Siigo import: fetch every tercero, preview what would change, apply it.

The preview and the apply are two steps so a person can look before saving.
``apply_import`` plans again from the mapped records inside one transaction,
against the database as it is then, so a preview that went stale can never
write outdated values; a failure rolls everything back.

Matching: first by Siigo id, then by (document type, number, branch), so an
ally typed in by hand is linked to its Siigo record instead of duplicated.
Siigo owns the fields it sends (``SIIGO_FIELDS``); local-only fields such as
the notes are never touched by an import. A Siigo-owned field edited here is
kept while Siigo's record stays as it was at the last sync (full and
incremental runs agree on that); once Siigo changes the record, Siigo wins.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from core.allies import derived_values, split_full_name
from core.db import reading, transaction, utcnow
from core.history import audit_row, record_many
from core.locks import import_lock
from core.permissions import SCHEDULER, Actor, require
from core.models import Ally, ImportRun
from core.settings import Settings
from core.siigo.client import SiigoClient
from core.siigo.errors import SiigoConfigError, SiigoError
from core.siigo.timestamps import parse_timestamp
from core.validation import FIELD_LABELS, AllyValidationError, validate_ally

log = logging.getLogger(__name__)

FULL = "completa"
INCREMENTAL = "incremental"
# Incremental runs ask for terceros updated since the last good run minus this,
# so a clock skew or a change saved during that run is not missed.
SYNC_OVERLAP = timedelta(minutes=15)

SIIGO_TYPES = {"customer": "cliente", "supplier": "proveedor", "other": "otro"}
SIIGO_PERSON_TYPES = {"person": "natural", "company": "juridica"}

# Fields whose value comes from Siigo; an import overwrites them ("Siigo wins").
SIIGO_FIELDS = (
    "ally_type", "person_type", "id_type", "identification", "check_digit", "branch_office",
    "name", "first_names", "last_names", "business_name", "commercial_name", "phone",
    "phone_extension", "email", "address", "country_code", "state_code", "state_name",
    "city_code", "city_name", "postal_code", "status", "fiscal_responsibilities",
    "vat_responsible", "siigo_comments",
)
CONFLICT_RULE = (
    "Un cambio hecho aquí a un aliado de Siigo se conserva mientras el tercero no cambie en "
    "Siigo. Si cambió en los dos lados, Siigo gana en los campos que administra (nombre, "
    "documento, tipo, contacto, dirección, estado); los campos propios de Aliados, como las "
    "notas, se conservan siempre."
)

Progress = Callable[[int, int, int], None]


@dataclass
class PlannedChange:
    siigo_id: str
    name: str
    document: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    ally_id: int | None = None


@dataclass
class Rejection:
    siigo_id: str
    name: str
    document: str
    reason: str


@dataclass
class ImportPreview:
    mode: str
    fetched: int
    total_results: int
    records: list[MappedRecord]
    new: list[PlannedChange]
    changed: list[PlannedChange]
    unchanged: int
    rejected: list[Rejection]
    missing: list[tuple[int, str]]
    conflicts: list[PlannedChange]
    requests: int = 0
    retries: int = 0
    started_at: datetime = field(default_factory=utcnow)
    fetch_seconds: float = 0.0
    note: str | None = None
    kept_local: int = 0  # of ``unchanged``: edited here while Siigo did not change them


def build_client(settings: Settings) -> SiigoClient:
    """The Siigo client for these settings; SiigoConfigError names what is missing."""
    missing = [
        name
        for name in ("SIIGO_BASE_URL", "SIIGO_USERNAME", "SIIGO_ACCESS_KEY", "SIIGO_PARTNER_ID")
        if not getattr(settings, name)
    ]
    if missing:
        raise SiigoConfigError(
            "Falta configurar la integración con Siigo: defina "
            + ", ".join(missing)
            + " en las variables de entorno o en .streamlit/secrets.toml."
        )
    return SiigoClient(
        base_url=settings.SIIGO_BASE_URL,
        username=settings.SIIGO_USERNAME,
        access_key=settings.SIIGO_ACCESS_KEY,
        partner_id=settings.SIIGO_PARTNER_ID,
        requests_per_minute=settings.SIIGO_REQUESTS_PER_MINUTE,
    )


# --- mapping a Siigo tercero to the values of an ally ----------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _phone(record: Mapping[str, Any]) -> tuple[str, str]:
    phones = record.get("phones") or []
    first = phones[0] if phones and isinstance(phones[0], Mapping) else {}
    indicative = _text(first.get("indicative"))
    number = _text(first.get("number"))
    extension = _text(first.get("extension"))
    if not number:
        return "", extension
    if indicative.startswith("60") and len(number) == 7:
        number = indicative + number  # an area code sent apart, as "602" + 7 digits
    elif indicative and indicative != "57" and not indicative.startswith("60"):
        number = f"+{indicative}{number}"
    return number, extension


def _email(record: Mapping[str, Any]) -> str:
    for contact in record.get("contacts") or []:
        if isinstance(contact, Mapping) and _text(contact.get("email")):
            return _text(contact.get("email"))
    return ""


def siigo_to_ally_data(record: Mapping[str, Any]) -> dict[str, Any]:
    """Raw ally values for validate_ally from one Siigo tercero (siigo-api.md §2.5)."""
    id_type = record.get("id_type")
    id_code = _text(id_type.get("code")) if isinstance(id_type, Mapping) else _text(id_type)
    person_type = SIIGO_PERSON_TYPES.get(_text(record.get("person_type")).lower(), "")
    names = record.get("name") or []
    if isinstance(names, str):
        names = [names]
    names = [_text(n) for n in names if _text(n)]
    first = last = business = ""
    if person_type == "natural":
        if len(names) >= 2:
            first, last = names[0], " ".join(names[1:])
        elif names:
            first, last = split_full_name(names[0])
    else:
        business = " ".join(names)
    address = record.get("address") if isinstance(record.get("address"), Mapping) else {}
    city = address.get("city") if isinstance(address.get("city"), Mapping) else {}
    phone, extension = _phone(record)
    fiscal = [
        _text(item.get("code"))
        for item in record.get("fiscal_responsibilities") or []
        if isinstance(item, Mapping) and _text(item.get("code"))
    ]
    raw_type = _text(record.get("type") or "Customer").lower()
    return {
        "ally_type": SIIGO_TYPES.get(raw_type, raw_type),
        "person_type": person_type,
        "id_type": id_code,
        "identification": _text(record.get("identification")),
        "check_digit": _text(record.get("check_digit")) or None,
        "branch_office": record.get("branch_office") or 0,
        "first_names": first,
        "last_names": last,
        "business_name": business,
        "commercial_name": _text(record.get("commercial_name")),
        "phone": phone,
        "phone_extension": extension,
        "email": _email(record),
        "address": _text(address.get("address")),
        "city_code": _text(city.get("city_code")),
        "city_name": _text(city.get("city_name")),
        "state_code": _text(city.get("state_code")),
        "state_name": _text(city.get("state_name")),
        "country_code": _text(city.get("country_code")).upper(),
        "postal_code": _text(address.get("postal_code")),
        "status": "activo" if record.get("active", True) else "inactivo",
        "fiscal_responsibilities": fiscal,
        "vat_responsible": bool(record.get("vat_responsible", False)),
    }


def _siigo_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """Validated values of the fields Siigo owns; raises AllyValidationError."""
    raw = siigo_to_ally_data(record)
    if raw["ally_type"] not in SIIGO_TYPES.values():
        unknown = raw["ally_type"]
        raise AllyValidationError({"ally_type": f"Tipo de tercero desconocido: {unknown}."})
    clean = validate_ally(raw, lenient=True)
    clean["siigo_comments"] = _text(record.get("comments")) or None
    return {name: clean[name] for name in SIIGO_FIELDS}


def _timestamps(record: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    meta = record.get("metadata") if isinstance(record.get("metadata"), Mapping) else {}
    stamps = []
    for key in ("created", "last_updated"):
        value = meta.get(key)
        try:
            stamps.append(parse_timestamp(value) if value else None)
        except ValueError:
            stamps.append(None)
    return stamps[0], stamps[1]


def fingerprint(values: Mapping[str, Any]) -> str:
    payload = json.dumps({k: values.get(k) for k in SIIGO_FIELDS}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _describe(values: Mapping[str, Any]) -> str:
    document = values.get("identification") or ""
    if values.get("id_type") == "31" and values.get("check_digit"):
        document = f"{document}-{values['check_digit']}"
    return document


def _record_label(record: Mapping[str, Any]) -> tuple[str, str]:
    names = record.get("name") or []
    if isinstance(names, str):
        names = [names]
    return " ".join(_text(n) for n in names).strip(), _text(record.get("identification"))


# --- planning ----------------------------------------------------------------------------


@dataclass
class _Plan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    new: list[PlannedChange] = field(default_factory=list)
    changed: list[PlannedChange] = field(default_factory=list)
    conflicts: list[PlannedChange] = field(default_factory=list)
    unchanged: int = 0
    kept_local: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    missing: list[tuple[int, str]] = field(default_factory=list)


# Every column of a new row, at its default; building rows as plain dicts is
# many times faster than building model instances for tens of thousands.
_NEW_ROW = {
    name: info.default
    for name, info in Ally.model_fields.items()
    if name != "id" and not info.is_required() and info.default_factory is None
}

_STATE_COLUMNS = (Ally.id, Ally.siigo_id, Ally.id_type, Ally.identification,
                  Ally.branch_office, Ally.siigo_fingerprint,
                  *(getattr(Ally, f) for f in SIIGO_FIELDS))


@dataclass
class MappedRecord:
    """One fetched tercero, mapped and validated once, or with the reason it was refused."""

    siigo_id: str
    label: str
    number: str
    values: dict[str, Any] | None = None
    reason: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    digest: str | None = None


def map_record(record: Mapping[str, Any]) -> MappedRecord:
    """Map and validate one fetched tercero, or keep the reason it was refused."""
    siigo_id = _text(record.get("id"))
    label, number = _record_label(record)
    if not siigo_id:
        return MappedRecord("", label, number, reason="El tercero no trae id de Siigo.")
    try:
        values = _siigo_values(record)
    except AllyValidationError as exc:
        reason = " ".join(f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in exc.errors.items())
        return MappedRecord(siigo_id, label, number, reason=reason)
    created, updated = _timestamps(record)
    return MappedRecord(siigo_id, label, number, values, None, created, updated,
                        fingerprint(values))


def _plan(
    session, records: list[MappedRecord], mode: str, now: datetime, *, rows_to_write: bool
) -> _Plan:
    """Match the records against the database; with ``rows_to_write`` also build the rows."""
    rows = session.execute(select(*_STATE_COLUMNS)).mappings().all()
    by_siigo = {r["siigo_id"]: r for r in rows if r["siigo_id"]}
    by_doc = {(r["id_type"], r["identification"], r["branch_office"]): r for r in rows}
    plan = _Plan()
    claimed: dict[tuple, str] = {}
    fetched_ids = {m.siigo_id for m in records if m.siigo_id}

    for item in records:
        siigo_id, values = item.siigo_id, item.values
        if values is None:
            plan.rejected.append(Rejection(siigo_id, item.label, item.number, item.reason or ""))
            continue
        doc_key = (values["id_type"], values["identification"], values["branch_office"])
        if doc_key in claimed:
            plan.rejected.append(Rejection(
                siigo_id, values["name"], _describe(values),
                "Otro tercero de Siigo tiene el mismo documento y sucursal en esta importación.",
            ))
            continue
        claimed[doc_key] = siigo_id
        created, updated, digest = item.created, item.updated, item.digest
        current = by_siigo.get(siigo_id)
        if current is None:
            linked = by_doc.get(doc_key)
            # A row linked to another Siigo record that is still in Siigo is a real clash.
            if linked is not None and linked["siigo_id"] and linked["siigo_id"] in fetched_ids:
                plan.rejected.append(Rejection(
                    siigo_id, values["name"], _describe(values),
                    f"El documento ya pertenece al aliado {linked['name']} (id {linked['id']}).",
                ))
                continue
            current = linked
        sync = {
            "siigo_id": siigo_id, "siigo_fingerprint": digest, "last_synced_at": now,
            "siigo_created_at": created, "siigo_updated_at": updated,
        }
        if current is None:
            if rows_to_write:
                plan.inserts.append({
                    **_NEW_ROW, **values, **sync, "origin": "siigo", "created_at": now,
                    "updated_at": now, **derived_values(values),
                })
            plan.new.append(PlannedChange(siigo_id, values["name"], _describe(values)))
            continue
        diffs = {k: (current[k], v) for k, v in values.items() if current[k] != v}
        if diffs and current["siigo_id"] == siigo_id and current["siigo_fingerprint"] == digest:
            # Siigo has not changed this tercero since the last sync, so the
            # differences are edits made here: they stay until Siigo changes it.
            plan.kept_local += 1
            plan.unchanged += 1
            continue
        if not diffs and current["siigo_id"] == siigo_id:
            if rows_to_write and current["siigo_fingerprint"] != digest:
                plan.updates.append({"id": current["id"], "siigo_fingerprint": digest,
                                     "last_synced_at": now})
            plan.unchanged += 1
            continue
        change = PlannedChange(siigo_id, values["name"], _describe(values), diffs, current["id"])
        # Edited here: the Siigo-owned values no longer match what the last sync wrote.
        edited_here = (
            current["siigo_fingerprint"] is not None
            and fingerprint(current) != current["siigo_fingerprint"]
        )
        changed_there = current["siigo_fingerprint"] not in (None, digest)
        if diffs and edited_here and changed_there:
            plan.conflicts.append(change)
        plan.changed.append(change)
        if rows_to_write:
            plan.updates.append({"id": current["id"], **values, **sync,
                                 **derived_values(values), "_bump": True})

    if mode == FULL:
        plan.missing = [
            (r["id"], r["name"])
            for r in rows
            if r["siigo_id"] and r["siigo_id"] not in fetched_ids and r["status"] == "activo"
        ]
    return plan


def preview_import(
    engine: Engine,
    client: SiigoClient,
    *,
    actor: Actor,
    mode: str = FULL,
    progress: Progress | None = None,
) -> ImportPreview:
    """Fetch every tercero (or those updated since the last good run) and plan."""
    require(actor, "import")
    started = utcnow()
    note = None
    since = None
    if mode == INCREMENTAL:
        last = last_successful_run(engine)
        if last is None:
            mode, note = FULL, "No hay una importación exitosa previa: se hace una completa."
        else:
            since = last.started_at - SYNC_OVERLAP
    clock = time.monotonic()
    requests_before, retries_before = client.stats.requests, client.stats.retries
    with import_lock(engine):
        try:
            result = client.fetch_all_customers(
                updated_start=since, progress=progress, transform=map_record
            )
        except SiigoError as exc:
            run_failed(engine, mode, str(exc), actor=actor, started_at=started,
                       requests=client.stats.requests - requests_before,
                       retries=client.stats.retries - retries_before)
            raise
    records = result.customers
    with reading(engine) as session:
        plan = _plan(session, records, mode, started, rows_to_write=False)
    return ImportPreview(
        mode=mode, fetched=len(records), total_results=result.total_results,
        records=records, new=plan.new, changed=plan.changed, unchanged=plan.unchanged,
        rejected=plan.rejected, missing=plan.missing, conflicts=plan.conflicts,
        requests=client.stats.requests - requests_before,
        retries=client.stats.retries - retries_before, started_at=started,
        fetch_seconds=time.monotonic() - clock, note=note, kept_local=plan.kept_local,
    )


def _trigger(actor: Actor) -> str:
    return "programado" if actor == SCHEDULER else "usuario"


def apply_import(
    engine: Engine,
    preview: ImportPreview,
    *,
    actor: Actor,
    missing_action: str = "keep",
) -> ImportRun:
    """Apply the preview in one transaction and record the run and the history."""
    require(actor, "import")
    with import_lock(engine):
        return _apply_locked(engine, preview, actor, missing_action)


def _apply_locked(engine, preview: ImportPreview, actor: Actor, missing_action: str) -> ImportRun:
    clock = time.monotonic()
    now = utcnow()
    try:
        with transaction(engine) as session:
            plan = _plan(session, preview.records, preview.mode, now, rows_to_write=True)
            run = ImportRun(
                started_at=preview.started_at, mode=preview.mode, trigger=_trigger(actor),
                started_by=actor.username, status="exitosa", fetched=preview.fetched,
                created=len(plan.new), updated=len(plan.changed), unchanged=plan.unchanged,
                rejected=len(plan.rejected), requests=preview.requests, retries=preview.retries,
            )
            session.add(run)
            session.flush()
            audit = []
            if plan.inserts:
                # A plain executemany, then the new ids read back: RETURNING with
                # guaranteed order makes SQLite insert one row per statement.
                # Only this run writes rows with last_synced_at == now (import lock).
                before = session.scalar(select(func.max(Ally.id))) or 0
                session.execute(Ally.__table__.insert(), plan.inserts)
                inserted = session.execute(
                    select(Ally.id, Ally.name).where(
                        Ally.id > before, Ally.siigo_id.is_not(None), Ally.last_synced_at == now
                    )
                ).all()
                audit += [audit_row(actor, "importar", ally_id, name, at=now, version=1,
                                    import_run_id=run.id) for ally_id, name in inserted]
            changes = {c.ally_id: c for c in plan.changed}
            for row in plan.updates:
                bump = row.pop("_bump", False)
                values = dict(row)
                ally_id = values.pop("id")
                stmt = update(Ally).where(Ally.id == ally_id).values(**values)
                if bump:
                    stmt = stmt.values(updated_at=now, version=Ally.version + 1)
                session.execute(stmt)
                if ally_id in changes:
                    audit.append(audit_row(actor, "importar", ally_id, changes[ally_id].name,
                                           at=now, changes=changes[ally_id].fields,
                                           import_run_id=run.id))
            if missing_action == "deactivate" and plan.missing:
                ids = [ally_id for ally_id, _ in plan.missing]
                session.execute(
                    update(Ally).where(Ally.id.in_(ids))
                    .values(status="inactivo", updated_at=now, version=Ally.version + 1)
                )
                run.deactivated = len(ids)
                audit += [audit_row(actor, "importar", ally_id, name, at=now,
                                    changes={"status": ("activo", "inactivo")},
                                    import_run_id=run.id) for ally_id, name in plan.missing]
            record_many(session, audit)
            run.finished_at = utcnow()
            run.duration_seconds = preview.fetch_seconds + (time.monotonic() - clock)
    except Exception as exc:
        log.exception("import apply failed")
        message = (
            "La importación no se aplicó y los datos quedaron como estaban: "
            f"{exc.__class__.__name__}. Inténtelo de nuevo; si se repite, avise a TI."
        )
        run_failed(engine, preview.mode, message, actor=actor, started_at=preview.started_at,
                   requests=preview.requests, retries=preview.retries)
        raise ImportApplyError(message) from exc
    log.info("import applied: %s new, %s changed, %s unchanged, %s rejected",
             run.created, run.updated, run.unchanged, run.rejected)
    return run


class ImportApplyError(RuntimeError):
    """The database refused the import; nothing was written."""


def run_failed(
    engine: Engine, mode: str, error: str, *, actor: Actor, started_at: datetime | None = None,
    requests: int = 0, retries: int = 0,
) -> ImportRun:
    """Record a run that ended in error, with its Spanish reason."""
    started = started_at or utcnow()
    finished = utcnow()
    run = ImportRun(
        started_at=started, finished_at=finished, mode=mode, trigger=_trigger(actor),
        started_by=actor.username, status="fallida", error=error, requests=requests,
        retries=retries, duration_seconds=(finished - started).total_seconds(),
    )
    with transaction(engine) as session:
        session.add(run)
    return run


def import_history(engine: Engine, limit: int = 50) -> list[ImportRun]:
    stmt = select(ImportRun).order_by(ImportRun.started_at.desc(), ImportRun.id.desc()).limit(limit)
    with reading(engine) as session:
        return list(session.scalars(stmt).all())


def last_run(engine: Engine) -> ImportRun | None:
    runs = import_history(engine, limit=1)
    return runs[0] if runs else None


def last_successful_run(engine: Engine) -> ImportRun | None:
    stmt = (
        select(ImportRun)
        .where(ImportRun.status == "exitosa")
        .order_by(ImportRun.started_at.desc())
        .limit(1)
    )
    with reading(engine) as session:
        return session.scalars(stmt).first()


def rejects_csv(preview: ImportPreview) -> bytes:
    """The rejected terceros as CSV (UTF-8 with BOM, so Excel shows accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["ID Siigo", "Nombre", "Identificación", "Motivo"])
    for r in preview.rejected:
        writer.writerow([r.siigo_id, r.name, r.document, r.reason])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")

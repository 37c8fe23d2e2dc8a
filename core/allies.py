"""Creating, reading, editing and deleting allies, and the filtered views."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.catalogs import ALLY_TYPE_LABELS, NIT, ORIGIN_LABELS, STATUS_LABELS
from core.db import reading, transaction, utcnow
from core.history import HistoryEntry, ally_snapshot, changes_after, record
from core.models import Ally
from core.permissions import Actor, require
from core.text import fold
from core.validation import FIELD_LABELS, AllyValidationError, validate_ally

# Fields a person types in; the rest are derived or owned by the import.
FORM_FIELDS = (
    "ally_type", "person_type", "id_type", "identification", "check_digit", "branch_office",
    "first_names", "last_names", "business_name", "commercial_name", "phone",
    "phone_extension", "email", "address", "city_code", "postal_code", "status", "notes",
    "fiscal_responsibilities", "vat_responsible",
)
CITY_DETAIL_FIELDS = ("city_name", "state_code", "state_name", "country_code")
GRID_EDITABLE = ("name", "ally_type", "phone", "email", "status")


class AllyNotFoundError(LookupError):
    def __init__(self, ally_id: int):
        self.ally_id = ally_id
        super().__init__(f"El aliado {ally_id} ya no existe: quizá otra persona lo eliminó.")


class DuplicateDocumentError(AllyValidationError):
    def __init__(self, existing: Ally):
        self.existing = existing
        super().__init__(
            {
                "identification": (
                    f"Ya existe un aliado con este documento y sucursal: {existing.name} "
                    f"(id {existing.id}). Edítelo en lugar de crear otro."
                )
            }
        )


class StaleVersionError(RuntimeError):
    """Someone else saved this ally after it was loaded; nothing was written."""

    def __init__(self, ally: Ally, theirs: list[HistoryEntry]):
        self.ally = ally
        self.theirs = theirs
        parts = []
        for entry in theirs:
            fields = ", ".join(
                f"{FIELD_LABELS.get(k, k)}: «{_shown(old)}» → «{_shown(new)}»"
                for k, (old, new) in entry.changes.items()
                if k not in HIDDEN_IN_HISTORY
            )
            parts.append(f"{entry.user_label} ({entry.action_label.lower()}) {fields}".strip())
        detail = "; ".join(parts) or "otra persona lo modificó"
        super().__init__(
            f"Otra persona guardó cambios en {ally.name} mientras usted lo editaba: {detail}. "
            "Sus cambios no se guardaron: recargue el aliado y vuelva a aplicarlos."
        )


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


# Derived columns, not worth a line in the history.
HIDDEN_IN_HISTORY = {"search_text", "sort_name"}


@dataclass
class AllyFilters:
    search: str | None = None
    ally_type: str | None = None
    status: str | None = None
    city_code: str | None = None
    origin: str | None = None

    def is_empty(self) -> bool:
        return not any((self.search, self.ally_type, self.status, self.city_code, self.origin))


def search_text_for(values: Mapping[str, Any]) -> str:
    """The folded text that the free-text filter looks in."""
    document = values.get("identification") or ""
    if values.get("id_type") == NIT and values.get("check_digit") is not None:
        document = f"{document} {document}-{values['check_digit']}"
    keys = ("name", "commercial_name", "email", "phone", "city_name")
    parts = [values.get(k) for k in keys] + [document]
    return fold(" ".join(p for p in parts if p))


def derived_values(values: Mapping[str, Any]) -> dict[str, str]:
    """The columns that follow from the others: what search and ordering look at."""
    return {"search_text": search_text_for(values), "sort_name": fold(values.get("name"))}


def refresh_derived(ally: Ally) -> None:
    for key, value in derived_values(ally.__dict__).items():
        setattr(ally, key, value)


def formatted_document(ally: Ally) -> str:
    if ally.id_type == NIT and ally.check_digit is not None:
        return f"{ally.identification}-{ally.check_digit}"
    return ally.identification


def find_by_document(
    session: Session, id_type: str, identification: str, branch_office: int
) -> Ally | None:
    stmt = select(Ally).where(
        Ally.id_type == id_type,
        Ally.identification == identification,
        Ally.branch_office == branch_office,
    )
    return session.scalars(stmt).first()


def create_ally(
    engine: Engine, data: Mapping[str, Any], *, actor: Actor, origin: str = "manual"
) -> Ally:
    """Validate and store a new ally; refuse a document that already exists."""
    require(actor, "create")
    clean = validate_ally(data)
    with transaction(engine) as session:
        existing = find_by_document(
            session, clean["id_type"], clean["identification"], clean["branch_office"]
        )
        if existing is not None:
            raise DuplicateDocumentError(existing)
        ally = Ally(**clean, origin=origin)
        refresh_derived(ally)
        session.add(ally)
        try:
            session.flush()
        except IntegrityError:
            # Another writer stored the same document between the check and now.
            session.rollback()
            with reading(engine) as again:
                found = find_by_document(
                    again, clean["id_type"], clean["identification"], clean["branch_office"]
                )
            if found is not None:
                raise DuplicateDocumentError(found) from None
            raise
        record(session, actor=actor, action="crear", ally_id=ally.id, ally_name=ally.name,
               version=ally.version,
               changes={k: (None, v) for k, v in clean.items() if v not in (None, "", False)})
        return ally


def get_ally(engine: Engine, ally_id: int) -> Ally:
    with reading(engine) as session:
        ally = session.get(Ally, ally_id)
    if ally is None:
        raise AllyNotFoundError(ally_id)
    return ally


def ally_form_values(ally: Ally) -> dict[str, Any]:
    """The values a form shows for ``ally`` (the inverse of validate_ally)."""
    values = {name: getattr(ally, name) for name in FORM_FIELDS + CITY_DETAIL_FIELDS}
    values["fiscal_responsibilities"] = (
        ally.fiscal_responsibilities.split(",") if ally.fiscal_responsibilities else []
    )
    return values


def _split_person_name(ally: Ally, new_name: str) -> tuple[str, str]:
    """Split a full name typed in the grid back into names and surnames.

    Keeps the stored surnames (or names) when the new text still ends (or
    starts) with them; otherwise the first half of the words are the names.
    """
    if ally.last_names and new_name.endswith(" " + ally.last_names):
        return new_name[: -len(ally.last_names)].strip(), ally.last_names
    if ally.first_names and new_name.startswith(ally.first_names + " "):
        return ally.first_names, new_name[len(ally.first_names):].strip()
    return split_full_name(new_name)


def split_full_name(full: str) -> tuple[str, str]:
    """Names and surnames from one string: the first half of the words are the names."""
    words = full.split()
    if len(words) < 2:
        return full, ""
    cut = len(words) // 2
    return " ".join(words[:cut]), " ".join(words[cut:])


def _apply_changes(
    session: Session, ally: Ally, changes: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Validate ``ally`` with ``changes`` applied; return each changed field's (old, new)."""
    merged = ally_form_values(ally)
    for key, value in changes.items():
        if key == "name":
            text = " ".join(str(value or "").split())
            if ally.person_type == "natural":
                merged["first_names"], merged["last_names"] = _split_person_name(ally, text)
            else:
                merged["business_name"] = text
        elif key in FORM_FIELDS:
            merged[key] = value
    # Values that came from Siigo and are not being edited are not re-judged.
    from_siigo = ally.siigo_id is not None and not ({"phone", "email"} & set(changes))
    clean = validate_ally(merged, lenient=from_siigo)
    document_keys = ("id_type", "identification", "branch_office")
    if any(clean[k] != getattr(ally, k) for k in document_keys):
        other = find_by_document(session, *(clean[k] for k in document_keys))
        if other is not None and other.id != ally.id:
            raise DuplicateDocumentError(other)
    diffs = {k: (getattr(ally, k), v) for k, v in clean.items() if getattr(ally, k) != v}
    for key, (_old, new) in diffs.items():
        setattr(ally, key, new)
    if diffs:
        refresh_derived(ally)
        ally.updated_at = utcnow()
        ally.version += 1
    return diffs


def update_ally(
    engine: Engine,
    ally_id: int,
    changes: Mapping[str, Any],
    *,
    actor: Actor,
    expected_version: int | None = None,
) -> tuple[Ally, list[str]]:
    """Save only what changed; return the ally and the names of the changed fields.

    With ``expected_version`` (the version the person loaded) a save made by
    someone else in between is refused with StaleVersionError, which says
    what the other person changed. The row is locked while it is checked and
    written (SQLite: the write transaction; PostgreSQL: SELECT ... FOR UPDATE).
    """
    require(actor, "edit")
    with transaction(engine) as session:
        ally = session.get(Ally, ally_id, with_for_update=True)
        if ally is None:
            raise AllyNotFoundError(ally_id)
        if expected_version is not None and ally.version != int(expected_version):
            raise StaleVersionError(ally, changes_after(session, ally_id, int(expected_version)))
        diffs = _apply_changes(session, ally, changes)
        if diffs:
            record(session, actor=actor, action="editar", ally_id=ally.id, ally_name=ally.name,
                   version=ally.version, changes=diffs)
        return ally, list(diffs)


@dataclass
class GridSaveResult:
    saved: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def save_grid_edits(
    engine: Engine,
    original: Sequence[Mapping[str, Any]],
    edited: Sequence[Mapping[str, Any]],
    *,
    actor: Actor,
) -> GridSaveResult:
    """Save the rows of a grid whose editable cells differ from what was shown.

    Rows are matched by ``id``; a row missing from ``edited`` is left alone (a
    filtered grid never deletes what it hides). Each row is its own
    transaction, so one bad row does not hold back the others, and carries
    the version it was shown with, so it never overwrites a newer save.
    """
    before = {int(row["id"]): row for row in original}
    result = GridSaveResult()
    for row in edited:
        ally_id = int(row["id"])
        shown = before.get(ally_id)
        if shown is None:
            continue
        changes = {
            key: row.get(key)
            for key in GRID_EDITABLE
            if key in row and _cell(row.get(key)) != _cell(shown.get(key))
        }
        if not changes:
            continue
        try:
            update_ally(engine, ally_id, changes, actor=actor,
                        expected_version=shown.get("version"))
        except AllyValidationError as exc:
            name = shown.get("name") or f"id {ally_id}"
            for key, message in exc.errors.items():
                label = FIELD_LABELS.get(key, key)
                result.refused.append(f"{name}: {label}. {message}")
        except (AllyNotFoundError, StaleVersionError) as exc:
            result.refused.append(str(exc))
        else:
            result.saved.append(ally_id)
    return result


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def delete_allies(engine: Engine, ally_ids: Iterable[int], *, actor: Actor) -> int:
    """Delete the given allies; return how many. Each can be restored from its history."""
    require(actor, "delete")
    ids = [int(i) for i in ally_ids]
    if not ids:
        return 0
    with transaction(engine) as session:
        allies = session.scalars(select(Ally).where(Ally.id.in_(ids))).all()
        for ally in allies:
            record(session, actor=actor, action="eliminar", ally_id=ally.id,
                   ally_name=ally.name, version=ally.version, snapshot=ally_snapshot(ally))
            session.delete(ally)
        return len(allies)


def apply_filters(stmt, filters: AllyFilters):
    if filters.search:
        for word in fold(filters.search).split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(Ally.search_text.like(f"%{escaped}%", escape="\\"))
    if filters.ally_type:
        stmt = stmt.where(Ally.ally_type == filters.ally_type)
    if filters.status:
        stmt = stmt.where(Ally.status == filters.status)
    if filters.city_code:
        stmt = stmt.where(Ally.city_code == filters.city_code)
    if filters.origin:
        stmt = stmt.where(Ally.origin == filters.origin)
    return stmt


def list_allies(engine: Engine, filters: AllyFilters | None = None) -> list[Ally]:
    stmt = apply_filters(select(Ally), filters or AllyFilters()).order_by(Ally.sort_name, Ally.id)
    with reading(engine) as session:
        return list(session.scalars(stmt).all())


def count_allies(engine: Engine, filters: AllyFilters | None = None) -> int:
    stmt = apply_filters(select(func.count()).select_from(Ally), filters or AllyFilters())
    with reading(engine) as session:
        return int(session.scalar(stmt) or 0)


# Columns of the administrative view, in order, with their Spanish headers.
VIEW_COLUMNS = {
    "id": "ID",
    "name": "Nombre / razón social",
    "ally_type": "Tipo",
    "document": "Identificación",
    "phone": "Teléfono",
    "email": "Correo",
    "city_name": "Ciudad",
    "status": "Estado",
    "origin": "Origen",
}


def view_rows(
    engine: Engine, filters: AllyFilters | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """One plain dict per ally for the grid, in the order of VIEW_COLUMNS (``limit`` first)."""
    columns = (
        Ally.id, Ally.name, Ally.ally_type, Ally.id_type, Ally.identification,
        Ally.check_digit, Ally.phone, Ally.email, Ally.city_name, Ally.status, Ally.origin,
        Ally.version,
    )
    stmt = apply_filters(select(*columns), filters or AllyFilters())
    stmt = stmt.order_by(Ally.sort_name, Ally.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    with reading(engine) as session:
        result = session.execute(stmt).all()
    rows = []
    for r in result:
        document = r.identification
        if r.id_type == NIT and r.check_digit is not None:
            document = f"{r.identification}-{r.check_digit}"
        rows.append(
            {
                "id": r.id, "name": r.name, "ally_type": r.ally_type, "document": document,
                "phone": r.phone or "", "email": r.email or "", "city_name": r.city_name or "",
                "status": r.status, "origin": r.origin, "version": r.version,
            }
        )
    return rows


LABELS = {"ally_type": ALLY_TYPE_LABELS, "status": STATUS_LABELS, "origin": ORIGIN_LABELS}


def city_options(engine: Engine) -> list[tuple[str, str]]:
    """(code, name) of the cities that at least one ally is in, for the filter."""
    stmt = (
        select(Ally.city_code, Ally.city_name)
        .where(Ally.city_code.is_not(None))
        .group_by(Ally.city_code, Ally.city_name)
        .order_by(Ally.city_name)
    )
    with reading(engine) as session:
        return [(code, name) for code, name in session.execute(stmt).all()]


def _aware(stamp: datetime | str) -> datetime:
    # COALESCE loses the column type on SQLite, so the value may come back raw.
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _counts(session: Session, column) -> dict[str, int]:
    stmt = select(column, func.count()).group_by(column)
    return {key: int(n) for key, n in session.execute(stmt).all()}


def dashboard_stats(engine: Engine, *, top_cities: int = 10) -> dict[str, Any]:
    """Figures and series for the Panel page."""
    with reading(engine) as session:
        total = int(session.scalar(select(func.count()).select_from(Ally)) or 0)
        by_type = _counts(session, Ally.ally_type)
        by_status = _counts(session, Ally.status)
        by_origin = _counts(session, Ally.origin)
        city_stmt = (
            select(Ally.city_name, func.count().label("n"))
            .where(Ally.city_name.is_not(None))
            .group_by(Ally.city_name)
            .order_by(func.count().desc(), Ally.city_name)
            .limit(top_cities)
        )
        cities = [(name, int(n)) for name, n in session.execute(city_stmt).all()]
        # For an imported ally the month it was created in Siigo is the one that counts.
        created = session.scalars(select(func.coalesce(Ally.siigo_created_at, Ally.created_at)))
        created = [_aware(stamp) for stamp in created.all()]
    per_month: dict[str, int] = {}
    for stamp in created:
        key = stamp.strftime("%Y-%m")
        per_month[key] = per_month.get(key, 0) + 1
    return {
        "total": total,
        "by_type": by_type,
        "by_status": by_status,
        "by_origin": by_origin,
        "top_cities": cities,
        "per_month": dict(sorted(per_month.items())),
    }

"""People writing at the same time: no lost update, no "database is locked"."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from core.allies import (
    StaleVersionError, count_allies, create_ally, get_ally, save_grid_edits, update_ally,
    view_rows,
)
from core.db import reading
from core.history import list_history
from core.importer import FULL, apply_import, preview_import
from core.models import AuditEntry
from tests.actors import EDITOR, OTHER_EDITOR

COMPANY = {"ally_type": "cliente", "person_type": "juridica", "id_type": "31",
           "identification": "900123456", "business_name": "Panadería La Espiga S.A.S."}


def run_together(*targets):
    """Start every target at the same moment; return the exceptions they raised."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(target):
        barrier.wait()
        try:
            target()
        except BaseException as exc:  # collected and asserted on by the caller
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_second_save_of_the_same_version_is_refused_with_what_changed(engine):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    loaded_version = ally.version
    update_ally(engine, ally.id, {"phone": "3001234567"}, actor=OTHER_EDITOR,
                expected_version=loaded_version)
    with pytest.raises(StaleVersionError) as caught:
        update_ally(engine, ally.id, {"status": "inactivo"}, actor=EDITOR,
                    expected_version=loaded_version)
    message = str(caught.value)
    assert "Otra Editora" in message and "Teléfono" in message and "3001234567" in message
    assert "recargue" in message
    stored = get_ally(engine, ally.id)
    assert (stored.phone, stored.status, stored.version) == ("3001234567", "activo", 2)


def test_two_threads_saving_one_version_one_wins(engine):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    errors = run_together(
        lambda: update_ally(engine, ally.id, {"phone": "3001112233"}, actor=EDITOR,
                            expected_version=1),
        lambda: update_ally(engine, ally.id, {"phone": "3104445566"}, actor=OTHER_EDITOR,
                            expected_version=1),
    )
    assert len(errors) == 1 and isinstance(errors[0], StaleVersionError)
    stored = get_ally(engine, ally.id)
    assert stored.version == 2
    (edit,) = list_history(engine, action="editar")
    assert edit.changes["phone"][1] == stored.phone


def test_stale_grid_row_is_refused_not_overwritten(engine):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    shown = view_rows(engine)
    update_ally(engine, ally.id, {"email": "pedidos@la-espiga.example"}, actor=OTHER_EDITOR)
    result = save_grid_edits(engine, shown, [dict(shown[0], status="inactivo")], actor=EDITOR)
    assert result.saved == [] and "Otra Editora" in result.refused[0]
    assert get_ally(engine, ally.id).status == "activo"


def test_many_writers_at_once_lose_nothing(engine, sandbox, siigo_client):
    """Form saves, grid edits and an import together; every write is there afterwards."""
    seeded = [
        create_ally(engine, {**COMPANY, "identification": str(800_000_000 + i)}, actor=EDITOR)
        for i in range(4)
    ]
    creators, per_creator, edits_per_editor = 3, 15, 15

    def creator(n):
        def work():
            for i in range(per_creator):
                create_ally(engine, {**COMPANY, "business_name": f"Tienda {n}-{i}",
                                     "identification": str(700_000_000 + n * 1000 + i)},
                            actor=EDITOR)
        return work

    def editor(ally_id):
        def work():
            for i in range(edits_per_editor):
                update_ally(engine, ally_id, {"phone": f"30012345{i:02d}"},
                            actor=OTHER_EDITOR)
        return work

    def importer():
        preview = preview_import(engine, siigo_client, mode=FULL, actor=EDITOR)
        apply_import(engine, preview, actor=EDITOR)

    targets = [creator(n) for n in range(creators)]
    targets += [editor(a.id) for a in seeded[:2]]
    targets.append(importer)
    errors = run_together(*targets)
    assert errors == []
    assert count_allies(engine) == len(seeded) + creators * per_creator + len(sandbox.customers)
    with reading(engine) as session:
        edits = session.scalar(select(func.count()).where(AuditEntry.action == "editar"))
    assert edits == 2 * edits_per_editor
    assert {get_ally(engine, a.id).version for a in seeded[:2]} == {1 + edits_per_editor}

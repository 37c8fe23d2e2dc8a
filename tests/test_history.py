"""Who changed what: the history, restoring a deleted ally, and the role rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.allies import count_allies, create_ally, delete_allies, get_ally, update_ally
from core.history import RestoreError, ally_snapshot, history_users, list_history, restore_deleted
from core.importer import FULL, apply_import, preview_import
from core.permissions import PermissionDeniedError
from tests.actors import ADMIN, EDITOR, LECTOR, OTHER_EDITOR

COMPANY = {"ally_type": "proveedor", "person_type": "juridica", "id_type": "31",
           "identification": "900123456", "business_name": "Ferretería El Ñandú S.A.S.",
           "city_code": "11001", "notes": "Entrega los martes"}


def test_create_edit_delete_each_leave_an_entry_with_old_and_new_values(engine):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    update_ally(engine, ally.id, {"phone": "3001234567", "status": "inactivo"},
                actor=OTHER_EDITOR)
    delete_allies(engine, [ally.id], actor=ADMIN)
    deleted, edited, created = list_history(engine, ally_id=ally.id)
    assert (created.action, created.username) == ("crear", EDITOR.username)
    assert created.changes["business_name"] == [None, "Ferretería El Ñandú S.A.S."]
    assert (edited.action, edited.user_label) == ("editar", OTHER_EDITOR.label)
    assert edited.changes == {"phone": [None, "3001234567"], "status": ["activo", "inactivo"]}
    assert edited.version == 2
    assert (deleted.action, deleted.restorable) == ("eliminar", True)


def test_deleted_ally_comes_back_exactly_as_it_was(engine):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    update_ally(engine, ally.id, {"phone": "6014445566"}, actor=EDITOR)
    before = ally_snapshot(get_ally(engine, ally.id))
    delete_allies(engine, [ally.id], actor=EDITOR)
    (entry,) = list_history(engine, action="eliminar")
    restored = restore_deleted(engine, entry.id, actor=EDITOR)
    assert ally_snapshot(get_ally(engine, restored.id)) == before
    assert not [e for e in list_history(engine) if e.restorable]
    assert list_history(engine, ally_id=ally.id)[0].action == "restaurar"
    with pytest.raises(RestoreError, match="ya fue restaurado"):
        restore_deleted(engine, entry.id, actor=EDITOR)


def test_restore_refused_when_the_document_was_taken_meanwhile(engine):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    delete_allies(engine, [ally.id], actor=EDITOR)
    newcomer = create_ally(engine, {**COMPANY, "business_name": "Ñandú Nueva S.A.S."},
                           actor=EDITOR)
    (entry,) = list_history(engine, action="eliminar")
    with pytest.raises(RestoreError) as caught:
        restore_deleted(engine, entry.id, actor=EDITOR)
    assert f"Ñandú Nueva S.A.S. (id {newcomer.id})" in str(caught.value)
    assert count_allies(engine) == 1


def test_only_a_deletion_can_be_restored(engine):
    create_ally(engine, COMPANY, actor=EDITOR)
    (entry,) = list_history(engine)
    with pytest.raises(RestoreError, match="no es una eliminación"):
        restore_deleted(engine, entry.id, actor=EDITOR)


def test_a_lector_can_write_nothing(engine, sandbox, siigo_client):
    ally = create_ally(engine, COMPANY, actor=EDITOR)
    delete_allies(engine, [ally.id], actor=EDITOR)
    (entry,) = list_history(engine, action="eliminar")
    other = create_ally(engine, {**COMPANY, "identification": "860002964"}, actor=EDITOR)
    attempts = [
        lambda: create_ally(engine, {**COMPANY, "identification": "890903938"}, actor=LECTOR),
        lambda: update_ally(engine, other.id, {"phone": "3001234567"}, actor=LECTOR),
        lambda: delete_allies(engine, [other.id], actor=LECTOR),
        lambda: restore_deleted(engine, entry.id, actor=LECTOR),
        lambda: preview_import(engine, siigo_client, actor=LECTOR),
        lambda: create_ally(engine, COMPANY, actor=None),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDeniedError) as caught:
            attempt()
        assert "no permite" in str(caught.value) or "Inicie sesión" in str(caught.value)
    assert count_allies(engine) == 1 and get_ally(engine, other.id).version == 1
    assert len(list_history(engine)) == 3


def test_import_records_its_run_and_a_repeat_records_nothing_more(engine, sandbox, siigo_client):
    preview = preview_import(engine, siigo_client, mode=FULL, actor=EDITOR)
    run = apply_import(engine, preview, actor=EDITOR)
    entries = list_history(engine, action="importar", limit=10_000)
    assert len(entries) == run.created == len(sandbox.customers)
    assert {e.import_run_id for e in entries} == {run.id}
    again = preview_import(engine, siigo_client, mode=FULL, actor=EDITOR)
    apply_import(engine, again, actor=EDITOR)
    assert len(list_history(engine, action="importar", limit=10_000)) == len(entries)


def test_history_filters_by_user_action_dates_and_name(engine):
    first = create_ally(engine, COMPANY, actor=EDITOR)
    create_ally(engine, {**COMPANY, "identification": "860002964",
                         "business_name": "Distribuidora Andina"}, actor=OTHER_EDITOR)
    update_ally(engine, first.id, {"phone": "3001234567"}, actor=OTHER_EDITOR)
    assert history_users(engine) == sorted([EDITOR.username, OTHER_EDITOR.username])
    assert len(list_history(engine, username=OTHER_EDITOR.username)) == 2
    assert [e.ally_name for e in list_history(engine, action="crear", search="andina")] == [
        "Distribuidora Andina"]
    today = date.today()
    assert len(list_history(engine, date_from=today - timedelta(days=1),
                            date_to=today + timedelta(days=1))) == 3
    assert list_history(engine, date_to=today - timedelta(days=2)) == []

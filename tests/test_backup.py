"""Backup and restore of the SQLite database, with the app (a writer thread) still running."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select

from core.backup import (
    BackupError, UnsupportedDatabaseError, backup_database, check_backup_file, restore_database,
)
from core.db import make_engine, reading, transaction
from core.models import Ally

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def ally(n: int, notes: str = "") -> Ally:
    return Ally(id_type="13", identification=f"{10_000_000 + n}", name=f"Aliado de prueba {n}",
                notes=notes or None)


def names(path_or_engine) -> set[str]:
    if isinstance(path_or_engine, Path):
        with closing(sqlite3.connect(path_or_engine)) as connection:
            return {row[0] for row in connection.execute("SELECT name FROM ally")}
    with reading(path_or_engine) as session:
        return set(session.scalars(select(Ally.name)))


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'datos' / 'aliados.sqlite'}"


@pytest.fixture
def sqlite_engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIIGO_", "DATABASE_URL"))}
    env["DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_backup_while_another_thread_keeps_writing(sqlite_engine, db_url, tmp_path):
    # Enough data that the copy is not instantaneous.
    with transaction(sqlite_engine) as session:
        session.add_all(ally(n, notes="relleno " * 200) for n in range(3000))

    # The writer fails at once on any lock instead of waiting (busy_timeout 0),
    # so a backup that blocked writers would show up as "database is locked".
    writer_engine = make_engine(db_url)

    @event.listens_for(writer_engine, "connect")
    def _no_waiting(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    writer_engine.dispose()  # drop the connection opened before the listener existed
    with writer_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0

    committed: list[str] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    stop = threading.Event()
    target = [20]
    reached = threading.Event()

    def write() -> None:
        n = 100_000
        while not stop.is_set():
            n += 1
            try:
                with transaction(writer_engine) as session:
                    session.add(ally(n))
            except BaseException as exc:  # recorded for the assertion below
                errors.append(exc)
                reached.set()  # wake the test up: it fails on ``errors`` below
                return
            with guard:
                committed.append(f"Aliado de prueba {n}")
                if len(committed) >= target[0]:
                    reached.set()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert reached.wait(60) and not errors
        with guard:
            before = set(committed)
            target[0] = len(committed) + 20
            reached.clear()
        out = backup_database(db_url, tmp_path / "copias" / "aliados-copia.sqlite")
        assert reached.wait(60)  # the writer goes on after the copy as well
    finally:
        stop.set()
        thread.join(60)
    writer_engine.dispose()

    assert errors == []
    assert len(committed) >= len(before) + 20
    copied = names(out)
    assert before <= copied
    assert {f"Aliado de prueba {n}" for n in range(3000)} <= copied
    assert copied <= {f"Aliado de prueba {n}" for n in range(3000)} | set(committed)
    check_backup_file(out)
    assert not Path(f"{out}-wal").exists()
    with closing(sqlite3.connect(out)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not any(p.name.endswith(".parcial") for p in out.parent.iterdir())


def test_restore_round_trip_through_the_cli(sqlite_engine, db_url, tmp_path):
    with transaction(sqlite_engine) as session:
        session.add_all([ally(1), ally(2)])
    out = tmp_path / "copia.sqlite"
    made = run_cli("backup", "--out", str(out), url=db_url)
    assert made.returncode == 0, made.stderr
    assert str(out) in made.stdout

    with transaction(sqlite_engine) as session:
        session.add(ally(3))
        session.delete(session.scalars(select(Ally).where(Ally.name.endswith(" 1"))).one())
    assert names(sqlite_engine) == {"Aliado de prueba 2", "Aliado de prueba 3"}

    refused = run_cli("restore", "--from", str(out), url=db_url)
    assert refused.returncode == 1
    assert "agregue --yes" in refused.stderr
    assert names(sqlite_engine) == {"Aliado de prueba 2", "Aliado de prueba 3"}

    restored = run_cli("restore", "--from", str(out), "--yes", url=db_url)
    assert restored.returncode == 0, restored.stderr
    # The engine that stayed open (the running app) sees the restored data.
    assert names(sqlite_engine) == {"Aliado de prueba 1", "Aliado de prueba 2"}
    with transaction(sqlite_engine) as session:  # and can keep writing
        session.add(ally(4))

    db_path = Path(db_url.removeprefix("sqlite:///"))
    safety = [p for p in db_path.parent.iterdir() if ".antes-de-restaurar-" in p.name]
    assert len(safety) == 1 and str(safety[0]) in restored.stdout
    assert names(safety[0]) == {"Aliado de prueba 2", "Aliado de prueba 3"}


def test_safety_copies_get_distinct_names(sqlite_engine, db_url, tmp_path):
    out = backup_database(db_url, tmp_path / "copia.sqlite")
    now = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
    first = restore_database(db_url, out, confirm=True, now=now)
    second = restore_database(db_url, out, confirm=True, now=now)
    assert first.safety_copy.name == "aliados.sqlite.antes-de-restaurar-20250506T070809Z"
    assert second.safety_copy.name == "aliados.sqlite.antes-de-restaurar-20250506T070809Z-2"
    assert first.safety_copy.is_file() and second.safety_copy.is_file()


def test_restore_refuses_a_missing_file(sqlite_engine, db_url, tmp_path):
    result = run_cli("restore", "--from", str(tmp_path / "no-existe.sqlite"), "--yes", url=db_url)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: No existe el archivo {tmp_path / 'no-existe.sqlite'}: revise la ruta de la copia."
    )


def test_restore_refuses_what_is_not_a_database(sqlite_engine, db_url, tmp_path):
    junk = tmp_path / "notas.sqlite"
    junk.write_bytes(b"Esto no es una base de datos, solo texto de prueba. " * 100)
    with transaction(sqlite_engine) as session:
        session.add(ally(1))
    result = run_cli("restore", "--from", str(junk), "--yes", url=db_url)
    assert result.returncode == 1
    assert "no es una base de datos SQLite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert names(sqlite_engine) == {"Aliado de prueba 1"}


def test_restore_refuses_a_damaged_copy(sqlite_engine, db_url, tmp_path):
    with transaction(sqlite_engine) as session:
        session.add_all(ally(n, notes="relleno " * 100) for n in range(500))
    out = backup_database(db_url, tmp_path / "copia.sqlite")
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])  # cut in half
    with pytest.raises(BackupError) as caught:
        restore_database(db_url, out, confirm=True)
    assert "dañada" in str(caught.value)
    assert len(names(sqlite_engine)) == 500


def test_restore_refuses_a_sqlite_file_of_another_application(sqlite_engine, db_url, tmp_path):
    other = tmp_path / "otra.sqlite"
    with closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE receta (id INTEGER PRIMARY KEY, nombre TEXT)")
        connection.commit()
    result = run_cli("restore", "--from", str(other), "--yes", url=db_url)
    assert result.returncode == 1
    assert "no de Aliados" in result.stderr
    empty = tmp_path / "vacia.sqlite"
    empty.touch()
    with pytest.raises(BackupError, match="no de Aliados"):
        restore_database(db_url, empty, confirm=True)


def test_restore_refuses_the_live_database_itself(sqlite_engine, db_url):
    live = Path(db_url.removeprefix("sqlite:///"))
    with pytest.raises(BackupError, match="propia base de datos"):
        restore_database(db_url, live, confirm=True)


def test_backup_to_an_unwritable_destination(sqlite_engine, db_url, tmp_path):
    blocker = tmp_path / "archivo"
    blocker.write_text("no soy una carpeta")
    result = run_cli("backup", "--out", str(blocker / "copia.sqlite"), url=db_url)
    assert result.returncode == 1
    assert "No se pudo escribir la copia" in result.stderr
    assert "permiso de escritura" in result.stderr

    with pytest.raises(BackupError, match="es una carpeta"):
        backup_database(db_url, tmp_path)


def test_backup_of_a_missing_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'no-existe.sqlite'}"
    result = run_cli("backup", "--out", str(tmp_path / "copia.sqlite"), url=url)
    assert result.returncode == 1 and "No existe la base de datos" in result.stderr
    assert not (tmp_path / "no-existe.sqlite").exists()


def test_postgresql_points_to_pg_dump(tmp_path):
    for args in (("backup", "--out", str(tmp_path / "c.sqlite")),
                 ("restore", "--from", str(tmp_path / "c.sqlite"), "--yes")):
        result = run_cli(*args, url=PG_URL)
        assert result.returncode == 2
        assert "pg_dump" in result.stderr and "pg_restore" in result.stderr
    with pytest.raises(UnsupportedDatabaseError):
        backup_database(PG_URL, tmp_path / "c.sqlite")
    with pytest.raises(UnsupportedDatabaseError):
        restore_database("sqlite:///:memory:", tmp_path / "c.sqlite", confirm=True)


def test_postgresql_fixture_database_is_refused_too(engine, database_url, tmp_path):
    """On the real PostgreSQL test database (when configured) nothing is attempted."""
    if engine.dialect.name == "sqlite":
        assert backup_database(database_url, tmp_path / "c.sqlite").is_file()
    else:
        with pytest.raises(UnsupportedDatabaseError):
            backup_database(database_url, tmp_path / "c.sqlite")


def test_a_backup_never_replaces_another_by_accident(sqlite_engine, db_url, tmp_path):
    out = tmp_path / "copia.sqlite"
    assert run_cli("backup", "--out", str(out), url=db_url).returncode == 0
    first = out.read_bytes()
    again = run_cli("backup", "--out", str(out), url=db_url)
    assert again.returncode == 1 and "Ya existe" in again.stderr and "--overwrite" in again.stderr
    assert out.read_bytes() == first
    assert run_cli("backup", "--out", str(out), "--overwrite", url=db_url).returncode == 0

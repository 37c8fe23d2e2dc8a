"""Back up and restore the SQLite database while the app stays up.

Both directions use SQLite's online backup API (``sqlite3.Connection.backup``)
in a single step: the copy reads one consistent snapshot, and with WAL on,
readers and writers of the app keep going meanwhile. Restoring writes through
SQLite's own locking too, so open connections see the restored data; the app's
writers just wait (busy timeout) for the few moments it takes.

PostgreSQL has its own tools (pg_dump / pg_restore); here it is refused.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from core.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, utcnow

log = logging.getLogger(__name__)

REQUIRED_TABLE = "ally"
SAFETY_SUFFIX = ".antes-de-restaurar-"
_TIMEOUT_SECONDS = SQLITE_BUSY_TIMEOUT_MS / 1000


class BackupError(Exception):
    """A backup or restore could not be done; the message is Spanish and says why."""


class UnsupportedDatabaseError(BackupError):
    def __init__(self) -> None:
        super().__init__(
            "La copia de seguridad por consola es solo para SQLite. En PostgreSQL use "
            "pg_dump para la copia y pg_restore para restaurarla."
        )


@dataclass(frozen=True)
class RestoreResult:
    database: Path
    safety_copy: Path | None  # None when there was no database file yet


def sqlite_path(database_url: str) -> Path:
    """The file behind a SQLite URL; UnsupportedDatabaseError for anything else."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise UnsupportedDatabaseError()
    return Path(url.database)


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=_TIMEOUT_SECONDS)
    else:
        connection = sqlite3.connect(path, timeout=_TIMEOUT_SECONDS)
    connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return connection


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` into a new self-contained file ``target`` (atomically replaced)."""
    partial = target.with_name(f".{target.name}.parcial")
    partial.unlink(missing_ok=True)
    try:
        with closing(_connect(source)) as src, closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)  # pages=-1: one step, one consistent snapshot
            # One file, no -wal beside it, whatever mode the source was in.
            dst.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def backup_database(database_url: str, out: Path, *, overwrite: bool = False) -> Path:
    """Copy the live SQLite database to ``out``; returns the file written.

    An existing ``out`` is kept unless ``overwrite``: a backup never replaces
    another one by accident.
    """
    source = sqlite_path(database_url)
    if not source.is_file():
        raise BackupError(f"No existe la base de datos {source}: revise DATABASE_URL.")
    out = Path(out)
    if out.is_dir():
        raise BackupError(f"{out} es una carpeta: indique el nombre del archivo de la copia.")
    if out.resolve() == source.resolve():
        raise BackupError("La copia no puede escribirse sobre la propia base de datos.")
    if out.exists() and not overwrite:
        raise BackupError(
            f"Ya existe {out}: elija otro nombre o agregue --overwrite para reemplazarla."
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _copy(source, out)
    except (OSError, sqlite3.OperationalError) as exc:
        raise BackupError(
            f"No se pudo escribir la copia en {out}: revise que la carpeta exista y "
            "tenga permiso de escritura."
        ) from exc
    log.info("Copia de seguridad de %s guardada en %s", source, out)
    return out


def check_backup_file(path: Path) -> None:
    """Raise BackupError unless ``path`` is a sound SQLite database of Aliados."""
    path = Path(path)
    if not path.exists():
        raise BackupError(f"No existe el archivo {path}: revise la ruta de la copia.")
    if not path.is_file():
        raise BackupError(f"{path} no es un archivo: indique el archivo de la copia.")
    try:
        with closing(_connect(path, read_only=True)) as connection:
            result = connection.execute("PRAGMA integrity_check").fetchall()
            tables = {
                row[0] for row in
                connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
    except sqlite3.DatabaseError as exc:
        raise BackupError(
            f"{path} no es una base de datos SQLite (o está dañada): elija una copia hecha "
            "con «python -m core backup»."
        ) from exc
    if result != [("ok",)]:
        raise BackupError(
            f"La copia {path} está dañada (falla la verificación de integridad): use otra copia."
        )
    if REQUIRED_TABLE not in tables:
        raise BackupError(
            f"{path} es una base SQLite pero no de Aliados (no tiene la tabla de aliados): "
            "elija una copia hecha con «python -m core backup»."
        )


def restore_database(
    database_url: str, source: Path, *, confirm: bool, now: datetime | None = None
) -> RestoreResult:
    """Replace the live database with ``source``, keeping a safety copy of it first.

    Without ``confirm`` nothing changes (the file is still checked).
    """
    target = sqlite_path(database_url)
    source = Path(source)
    check_backup_file(source)
    if target.exists() and source.resolve() == target.resolve():
        raise BackupError("El archivo indicado es la propia base de datos en uso.")
    if not confirm:
        raise BackupError(
            f"La copia {source} es válida. Restaurarla reemplaza todos los datos actuales: "
            "agregue --yes para confirmar."
        )

    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    safety = _free_name(target.with_name(f"{target.name}{SAFETY_SUFFIX}{stamp}"))
    if target.is_file():
        try:
            _copy(target, safety)
        except (OSError, sqlite3.OperationalError) as exc:
            raise BackupError(
                f"No se pudo guardar la copia de la base actual en {safety}: revise el "
                "permiso de escritura de la carpeta. No se restauró nada."
            ) from exc
    else:
        safety = None

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(_connect(source, read_only=True)) as src, \
                closing(_connect(target)) as dst:
            _check_page_sizes(src, dst, source)
            src.backup(dst)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise BackupError(
            f"No se pudo escribir en la base de datos {target}: revise el permiso de "
            f"escritura. La base anterior sigue guardada en {safety}."
        ) from exc
    # A copy from an older version may lack newer tables: create them.
    make_engine(database_url).dispose()
    log.info("Base %s restaurada desde %s; la anterior quedó en %s", target, source, safety)
    return RestoreResult(database=target, safety_copy=safety)


def _check_page_sizes(src: sqlite3.Connection, dst: sqlite3.Connection, source: Path) -> None:
    # A database in WAL mode can only take a copy with its own page size.
    source_size = src.execute("PRAGMA page_size").fetchone()[0]
    target_size = dst.execute("PRAGMA page_size").fetchone()[0]
    mode = dst.execute("PRAGMA journal_mode").fetchone()[0]
    if mode == "wal" and source_size != target_size:
        raise BackupError(
            f"La copia {source} usa páginas de {source_size} bytes y la base actual de "
            f"{target_size}: detenga la aplicación, mueva la base actual a otra carpeta y "
            "vuelva a restaurar. No se cambió nada."
        )


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate

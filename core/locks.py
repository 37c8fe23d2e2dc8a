"""A lock that lets only one Siigo import run at a time, across processes.

PostgreSQL: a session advisory lock, so it holds across every machine that
shares the database. SQLite: an exclusive ``flock`` on a file beside the
database file. Either way a second run fails at once instead of waiting.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

IMPORT_LOCK_KEY = 7_203_114  # any constant shared by every Aliados process


class ImportBusyError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "Ya hay una importación desde Siigo en curso; "
            "espere a que termine y vuelva a intentarlo."
        )


@contextmanager
def import_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": IMPORT_LOCK_KEY})
            if not got.scalar():
                conn.rollback()
                raise ImportBusyError()
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": IMPORT_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    path = Path(f"{database}.import.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportBusyError() from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

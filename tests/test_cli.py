"""``python -m core`` as cron and analysts run it: real processes, real sandbox."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.allies import count_allies
from core.db import make_engine
from core.importer import import_history
from core.locks import import_lock

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )


@pytest.fixture
def cli_env(tmp_path, sandbox):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIIGO_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite'}",
        SIIGO_BASE_URL=sandbox.base_url,
        SIIGO_USERNAME=sandbox.username,
        SIIGO_ACCESS_KEY=sandbox.access_key,
        SIIGO_PARTNER_ID="AliadosPruebas",
    )
    return env


def test_preview_changes_nothing_and_yes_applies_once(cli_env, sandbox):
    preview = run_cli("import-siigo", env=cli_env)
    assert preview.returncode == 0, preview.stderr
    assert f"Nuevos: {len(sandbox.customers)}" in preview.stdout
    assert "agregue --yes" in preview.stdout
    engine = make_engine(cli_env["DATABASE_URL"])
    assert count_allies(engine) == 0

    applied = run_cli("import-siigo", "--yes", env=cli_env)
    assert applied.returncode == 0, applied.stderr
    assert count_allies(engine) == len(sandbox.customers)
    assert import_history(engine)[0].trigger == "programado"
    assert "GET /v1/customers" in applied.stderr  # one log line per request, on stderr
    assert sandbox.access_key not in applied.stderr + applied.stdout

    again = run_cli("import-siigo", "--yes", env=cli_env)
    assert again.returncode == 0 and "0 nuevos, 0 actualizados" in again.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"SIIGO_USERNAME": ""}, 2, "SIIGO_USERNAME"),
        ({"SIIGO_ACCESS_KEY": "llave-equivocada"}, 3, "llave"),
        ({"SIIGO_BASE_URL": "http://127.0.0.1:{port}"}, 4, "más tarde"),
    ],
)
def test_failures_exit_with_documented_codes_and_one_spanish_line(cli_env, change, code,
                                                                  fragment):
    env = {**cli_env, **{k: v.format(port=free_port()) for k, v in change.items()}}
    result = run_cli("import-siigo", "--yes", env=env)
    assert result.returncode == code
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and fragment in last


def test_second_run_while_one_holds_the_lock_exits_at_once(cli_env):
    engine = make_engine(cli_env["DATABASE_URL"])
    with import_lock(engine):
        result = run_cli("import-siigo", "--yes", env=cli_env)
    assert result.returncode == 5
    assert "Ya hay una importación" in result.stderr


def test_export_writes_the_filtered_view(cli_env, sandbox, tmp_path):
    assert run_cli("import-siigo", "--yes", env=cli_env).returncode == 0
    out = tmp_path / "salida" / "proveedores.csv"
    result = run_cli("export", "--format", "csv", "--out", str(out), "--type", "proveedor",
                     env=cli_env)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    suppliers = [c for c in sandbox.customers if c["type"] == "Supplier"]
    assert rows and len(rows) == len(suppliers)
    assert {r["Tipo"] for r in rows} == {"Proveedor"}


def test_export_to_an_unwritable_place_says_so(cli_env, tmp_path):
    blocker = tmp_path / "archivo"
    blocker.write_text("x")
    result = run_cli("export", "--format", "xlsx", "--out", str(blocker / "a.xlsx"), env=cli_env)
    assert result.returncode == 1 and "No se pudo escribir" in result.stderr


def test_export_city_by_name_and_the_count_it_says(cli_env, sandbox, tmp_path):
    assert run_cli("import-siigo", "--yes", env=cli_env).returncode == 0
    by_code = {}
    for customer in sandbox.customers:
        city = (customer.get("address") or {}).get("city") or {}
        if city.get("city_code"):
            by_code.setdefault(city["city_code"], []).append(customer)
    code, members = max(by_code.items(), key=lambda item: len(item[1]))
    name = members[0]["address"]["city"]["city_name"]
    out = tmp_path / "ciudad.csv"
    result = run_cli("export", "--format", "csv", "--out", str(out), "--city", name.upper(),
                     env=cli_env)
    if result.returncode == 2:  # a name shared by several municipalities
        assert "use el código" in result.stderr
        result = run_cli("export", "--format", "csv", "--out", str(out), "--city", code,
                         env=cli_env)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == len(members) and {r["Código ciudad"] for r in rows} == {code}
    assert f"Exportados {len(members)} aliados" in result.stdout


def test_export_unknown_city_is_refused(cli_env, tmp_path):
    result = run_cli("export", "--format", "csv", "--out", str(tmp_path / "x.csv"),
                     "--city", "Ciudad Gótica", env=cli_env)
    assert result.returncode == 2 and "No hay un municipio" in result.stderr

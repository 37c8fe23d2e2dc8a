"""Settings: where each comes from, and a clear Spanish message when one is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_environment_wins_over_secrets_file(monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('SIIGO_USERNAME = "archivo@empresa.example"\n'
                       "SIIGO_REQUESTS_PER_MINUTE = 10\n", encoding="utf-8")
    monkeypatch.setenv("SIIGO_USERNAME", "entorno@empresa.example")
    settings = load_settings(secrets)
    assert settings.SIIGO_USERNAME == "entorno@empresa.example"
    assert settings.SIIGO_REQUESTS_PER_MINUTE == 10


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("SIIGO_REQUESTS_PER_MINUTE", "abc", "SIIGO_REQUESTS_PER_MINUTE (variable de entorno) "
                                             "debe ser un número entero"),
        ("SESSION_IDLE_MINUTES", "treinta", "SESSION_IDLE_MINUTES (variable de entorno)"),
        ("AUTH_MODE", "ldap", "AUTH_MODE (variable de entorno) debe ser local u oidc"),
    ],
)
def test_a_bad_value_is_named_in_spanish(monkeypatch, tmp_path, name, value, fragment):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "no-existe.toml")
    assert fragment in str(caught.value)


def test_a_broken_secrets_file_says_how_to_fix_it(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('SIIGO_USERNAME = "sin cerrar\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="no es TOML válido"):
        load_settings(secrets)


def test_cli_exits_2_with_one_spanish_line_on_a_bad_setting(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "core", "import-siigo"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env={"PATH": "/usr/bin:/bin", "SIIGO_REQUESTS_PER_MINUTE": "abc",
                         "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: Ajuste no válido")
    assert "Traceback" not in result.stderr

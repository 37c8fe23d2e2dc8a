"""Secrets stay secret: not in logs, errors, the settings table or tracked files."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from core.importer import FULL, apply_import, build_client, import_history, preview_import
from core.settings import describe_sources, load_settings
from core.siigo.errors import SiigoError
from tests.actors import EDITOR

ROOT = Path(__file__).resolve().parent.parent


def test_access_key_is_masked_in_the_settings_table(monkeypatch, tmp_path):
    monkeypatch.setenv("SIIGO_ACCESS_KEY", "llave-super-secreta-123")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('SIIGO_USERNAME = "api@empresa.example"\n', encoding="utf-8")
    rows = {r.name: r for r in describe_sources(secrets)}
    assert "secreta" not in rows["SIIGO_ACCESS_KEY"].value
    assert rows["SIIGO_ACCESS_KEY"].origin == "entorno"
    assert rows["SIIGO_USERNAME"].origin == "secrets.toml"
    assert "llave-super-secreta-123" not in repr(load_settings(secrets))


def test_secrets_file_is_ignored_by_git_and_an_example_is_tracked():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT)
    assert ignored.returncode == 0
    tracked = subprocess.run(["git", "ls-files", ".streamlit"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    assert ".streamlit/secrets.toml.example" in tracked
    assert ".streamlit/secrets.toml" not in tracked


def test_no_secret_in_any_log_line_or_recorded_error(engine, sandbox, caplog, monkeypatch):
    monkeypatch.setenv("SIIGO_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SIIGO_USERNAME", sandbox.username)
    monkeypatch.setenv("SIIGO_ACCESS_KEY", sandbox.access_key)
    caplog.set_level(logging.DEBUG)
    client = build_client(load_settings())
    apply_import(engine, preview_import(engine, client, mode=FULL, actor=EDITOR), actor=EDITOR)
    token = client._token  # read only to prove it never leaks
    assert token
    monkeypatch.setenv("SIIGO_ACCESS_KEY", "otra-llave-equivocada")
    wrong = build_client(load_settings())
    with pytest.raises(SiigoError) as caught:
        preview_import(engine, wrong, mode=FULL, actor=EDITOR)
    everything = caplog.text + str(caught.value) + repr(caught.value) + repr(client)
    everything += " ".join(run.error or "" for run in import_history(engine))
    for secret in (sandbox.access_key, "otra-llave-equivocada", token):
        assert secret not in everything

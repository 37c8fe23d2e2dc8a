"""Helpers to run the real app for the browser test, and a screenshot script.

``python -m tests.ui_helpers docs/panel.png`` starts a Siigo sandbox and the app on
127.0.0.1, signs in as an invented editor, imports the sandbox's terceros through the
import page and saves a screenshot of the Panel. Nothing leaves the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
STARTUP_WAIT_SECONDS = 90
# Invented accounts for the browser tests: (username, role, display name).
PASSWORD = "clave-de-prueba-123"
ACCOUNTS = (
    ("admin", "administrador", "Administradora de Pruebas"),
    ("editor", "editor", "Editor de Pruebas"),
    ("otra.editora", "editor", "Otra Editora"),
    ("lectora", "lector", "Lectora de Pruebas"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def siigo_env(base_url: str) -> dict[str, str]:
    return {
        "SIIGO_BASE_URL": base_url,
        "SIIGO_USERNAME": "sandbox@example.com",
        "SIIGO_ACCESS_KEY": "sandbox-key",
        "SIIGO_PARTNER_ID": "AliadosTests",
        "SIIGO_REQUESTS_PER_MINUTE": "6000",
    }


@contextmanager
def running_app(database_url: str, extra_env: dict[str, str]) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free local port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, **extra_env}
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_health(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer on {base} in {STARTUP_WAIT_SECONDS} s")


def create_accounts(database_url: str, accounts=ACCOUNTS) -> None:
    """Store the invented accounts (the administrador first: it bootstraps the table)."""
    from core.accounts import create_user
    from core.db import make_engine
    from core.permissions import Actor

    engine = make_engine(database_url)
    try:
        admin = None
        for username, role, name in sorted(accounts, key=lambda a: a[1] != "administrador"):
            create_user(engine, username=username, password=PASSWORD, role=role,
                        display_name=name, actor=admin)
            if admin is None:
                admin = Actor(username, role, name)
    finally:
        engine.dispose()


@contextmanager
def chromium():
    """A headless Chromium; open one context per person (each is its own session)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, width: int = 1400, height: int = 1000):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(60_000)
    return page


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    with chromium() as browser:
        yield new_page(browser, width, height)


def log_in(page, base: str, username: str, password: str = PASSWORD, *, path: str = "/") -> None:
    """Load ``path`` (a new Streamlit session) and sign in through the login form.

    The app then shows the page of ``path`` (the Panel for ``/``).
    """
    page.goto(f"{base}{path}")
    page.get_by_role("heading", name="Iniciar sesión").wait_for()
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña", exact=True).fill(password)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.get_by_role("button", name="Cerrar sesión").wait_for()


def nav_titles(page) -> list[str]:
    links = page.locator("[data-testid='stSidebarNavLink']").all_inner_texts()
    return [link.strip().splitlines()[-1] for link in links]


def open_page(page, base: str, title: str, heading: str | None = None) -> None:
    """Open a page through the sidebar, as a person would (the session stays signed in)."""
    page.locator("[data-testid='stSidebarNavLink']", has_text=title).click()
    page.get_by_role("heading", name=heading or title, exact=True).wait_for()


def import_from_sandbox(page, base: str) -> None:
    """Run a full import through the import page, as a person would (signed in)."""
    open_page(page, base, "Importar desde Siigo")
    page.get_by_text("Importación completa", exact=True).click()
    page.get_by_role("button", name="Importar desde Siigo").click()
    page.get_by_role("button", name="Confirmar importación").click()
    page.get_by_text("Importación aplicada:").wait_for()


def screenshot_panel(target: Path) -> None:
    import tempfile

    from core.siigo.sandbox import SandboxServer

    with tempfile.TemporaryDirectory() as tmp, SandboxServer(n_customers=300) as sandbox:
        url = f"sqlite:///{Path(tmp) / 'panel.sqlite'}"
        create_accounts(url)
        with running_app(url, siigo_env(sandbox.base_url)) as base, browser_page() as page:
            log_in(page, base, "editor")
            import_from_sandbox(page, base)
            open_page(page, base, "Panel", "Panel de aliados")
            page.get_by_text("Ciudades con más aliados").wait_for()
            page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
            page.wait_for_load_state("networkidle")
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "panel.png"
    screenshot_panel(out)
    print(f"Captura guardada en {out}")

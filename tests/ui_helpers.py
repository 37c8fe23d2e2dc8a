"""Helpers to run the real app for the browser test, and a screenshot script.

``python -m tests.ui_helpers docs/panel.png`` starts a Siigo sandbox and the app on
127.0.0.1, imports the sandbox's terceros through the import page and saves a
screenshot of the Panel. Nothing leaves the machine.
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


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def open_page(page, base: str, title: str) -> None:
    """Open a page through the sidebar, as a person would after landing on the app."""
    page.goto(f"{base}/")
    page.get_by_role("heading", name="Panel de aliados").wait_for()
    page.locator("[data-testid='stSidebarNavLink']", has_text=title).click()
    page.get_by_role("heading", name=title).wait_for()


def import_from_sandbox(page, base: str) -> None:
    """Run a full import through the import page, as a person would."""
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
        with running_app(url, siigo_env(sandbox.base_url)) as base, browser_page() as page:
            import_from_sandbox(page, base)
            page.goto(f"{base}/")
            page.get_by_text("Ciudades con más aliados").wait_for()
            page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
            page.wait_for_load_state("networkidle")
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "panel.png"
    screenshot_panel(out)
    print(f"Captura guardada en {out}")

"""Browser tests of the web UI: the demo world in a temp store, a real uvicorn server on a loopback port,
and headless Debian Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.demo_data import DemoWorld, build_world

#: The Debian chromium binary the tests drive.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots of every page go here (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
#: Seconds the server may take to start.
START_TIMEOUT_S = 30.0


def require_browser() -> None:
    """Fail under CI=true when Chromium or Playwright is missing; skip otherwise."""
    problem = None
    if not os.access(CHROMIUM, os.X_OK):
        problem = f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed: pip install -e '.[dev]'"
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(problem)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    """Build the demo world once per session."""
    require_browser()
    return build_world(tmp_path_factory.mktemp("web"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server(world: DemoWorld) -> Iterator[str]:
    """Serve the app over the demo world on a loopback port; yield its base URL."""
    import uvicorn

    from api.app import create_app
    from index.sqlite import SqliteStore
    from infopole.settings import Settings

    store = SqliteStore(world.store_path)
    settings = Settings(env="development", INFOPOLE_DATA_DIR=world.data_dir)
    app = create_app(settings, store, world.profile, clock=lambda: world.now)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture(scope="session")
def browser(world: DemoWorld) -> Iterator[Any]:
    """Launch headless Chromium once per session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Session:
    """A browser page of one user with helpers: log in, open, screenshot, dialogs seen."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.set_default_timeout(15_000)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str) -> Any:
        """Go to a path of the site and return the response."""
        return self.page.goto(self.base + path)

    def login(self, key: str) -> None:
        """Log in through the form on the main page."""
        self.open("/")
        self.page.fill("#key", key)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot under test-artifacts/web/ and return its path."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def session_for(browser: Any, server: str) -> Iterator[Callable[[str], Session]]:
    """Return a factory of logged-out browser sessions (each its own cookie jar), closed after the test."""
    contexts: list[Any] = []

    def make(_: str = "") -> Session:
        context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return Session(context.new_page(), server)

    yield make
    for context in contexts:
        context.close()

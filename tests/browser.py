"""Real-browser helpers: Playwright from PyPI driving Debian's chromium.

Browser tests skip when /usr/bin/chromium is missing, unless
PREGON_REQUIRE_BROWSER=1 (`.ci/run` installs chromium and sets it), so a
laptop without chromium still runs the rest of the suite.
"""

import contextlib
import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The machine has no internet: keep chromium from reaching for it.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def require_chromium():
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("PREGON_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PREGON_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")


@contextlib.contextmanager
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def sign_in(context, base_url: str, username: str, password: str):
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page

"""Real-browser helpers: Playwright from PyPI driving Debian's chromium.

Browser tests skip when /usr/bin/chromium is missing, unless
PREGON_REQUIRE_BROWSER=1 (`.ci/run` installs chromium and sets it), so a
laptop without chromium still runs the rest of the suite.

Every browser test also checks the Content-Security-Policy: each context
made through `browser()` records the violations its pages report, and the
test fails at the end of the `with browser()` block if there was any (an
inline script or style, a handler attribute, a socket or fetch the policy
refuses). The servers send the same policy in DEBUG as in production.
"""

import contextlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The two sizes every page is looked at (docs/design.md).
DESK = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# The machine has no internet: keep chromium from reaching for it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def require_chromium():
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("PREGON_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PREGON_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")


# Installed in every page before its own scripts run. The binding carries
# each violation out of the page at once, so it survives navigation.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__pregonCspViolation({
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: `${event.sourceFile}:${event.lineNumber}`,
    sample: event.sample,
    page: document.location.href,
  });
}, true);
"""


class CspCheckedBrowser:
    """A launched Browser whose new contexts record CSP violations.

    Two witnesses: the page's `securitypolicyviolation` event (the
    standard one), and chromium's console line "Refused to … because it
    violates the following Content Security Policy directive" (also
    printed for what happens before the page's listener exists).
    """

    def __init__(self, instance):
        self._instance = instance
        self.violations: list[dict] = []
        self.console: list[str] = []

    def new_context(self, **options):
        context = self._instance.new_context(**options)
        context.expose_binding("__pregonCspViolation", lambda source, violation: self.violations.append(violation))
        context.add_init_script(_REPORT_CSP_VIOLATIONS)
        context.on("console", self._on_console)
        return context

    def new_page(self, **options):
        return self.new_context(**options).new_page()

    def _on_console(self, message):
        if "Content Security Policy" in message.text:
            self.console.append(f"{message.text} ({message.location.get('url')})")

    def flush(self):
        """Let reports already sent by the pages arrive: one round trip each."""
        for context in self._instance.contexts:
            for page in context.pages:
                with contextlib.suppress(Exception):  # a page may be closed or mid-navigation
                    page.evaluate("0")

    def problems(self) -> str:
        lines = [f"violation: {violation}" for violation in self.violations]
        lines += [f"console: {text}" for text in self.console]
        return "\n".join(lines)

    def __getattr__(self, name):
        return getattr(self._instance, name)


@contextlib.contextmanager
def browser():
    """Yield a browser; fail the test if any page violated the CSP."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        checked = CspCheckedBrowser(instance)
        try:
            yield checked
            checked.flush()
        except BaseException as error:
            with contextlib.suppress(Exception):  # the browser may be what failed
                checked.flush()
            if checked.problems():
                error.add_note(f"Content-Security-Policy violations seen meanwhile:\n{checked.problems()}")
            raise
        finally:
            instance.close()
        if checked.problems():
            pytest.fail(f"Content-Security-Policy violations:\n{checked.problems()}")


def sign_in(context, base_url: str, username: str, password: str):
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


# The impacts that fail a page: axe-core's two worst of four.
AXE_FAILING_IMPACTS = ("serious", "critical")


def assert_accessible(page, *, label: str = ""):
    """Run axe-core (axe-playwright-python) on the page as it is now; fail on
    any serious or critical violation, naming the rule and the nodes."""
    from axe_playwright_python.sync_playwright import Axe

    # A toast sliding in is checked once it is in place: mid-fade its text
    # has not its colour yet (axe measured contrast against the fade).
    page.evaluate(
        "Promise.all(document.getAnimations()"
        ".filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)"
        ".map((a) => a.finished.catch(() => null)))"
    )
    violations = Axe().run(page).response["violations"]
    failing = [v for v in violations if v.get("impact") in AXE_FAILING_IMPACTS]
    if failing:
        lines = [
            f"{v['impact']}: {v['id']} ({v['help']}) at " + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            for v in failing
        ]
        pytest.fail(f"axe on {label or page.url}:\n" + "\n".join(lines))


def elsewhere(fn, *args, **kwargs):
    """Run ORM work off Playwright's thread (its sync API keeps an event loop
    there, where Django refuses the ORM), as another tab, device or worker
    would; the thread's connection is closed after, so nothing is held."""
    from django.db import connections

    def run():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()

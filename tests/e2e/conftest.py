"""Chromium through Playwright against pytest-django's live server.

Every page opened through these fixtures records the browser console and uncaught errors;
a test that passes fails anyway at teardown if the page reported a Content-Security-Policy
violation. Screenshots go to test-results/e2e/ (CI keeps that directory as an artifact).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from tests.conftest import phase_failed, require_services
from tests.factories import PASSWORD, totp_code

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]
RESULTS_DIR = Path(__file__).resolve().parents[2] / "test-results" / "e2e"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CSP_MARKERS = ("content security policy", "refused to")
# Reports every violation to the test, whatever the console wording of the Chromium version.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline code"}`
    + ` (${event.sourceFile || "the document"}:${event.lineNumber})`
  );
});
"""

expect.set_options(timeout=10_000)


@dataclass
class PageLog:
    """What one page reported: console errors and uncaught exceptions, with the page URL."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_events: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return self.csp_events + [
            message
            for message in self.console_errors
            if any(marker in message.lower() for marker in CSP_MARKERS)
        ]


def _record(page: Page, log: PageLog) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location.get("url", "") if message.location else ""
            log.console_errors.append(f"{page.url}: {message.text} [{location}]")

    def on_page_error(error: Error) -> None:
        log.page_errors.append(f"{page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module, and permission for the ORM to run beside Playwright's loop.

    Playwright's sync API keeps an asyncio event loop in this thread; Django refuses ORM calls
    (the tests' own and pytest-django's flushes) from a thread with an event loop unless
    DJANGO_ALLOW_ASYNC_UNSAFE is set. It is set only while the browser lives: set for the whole
    process, it would leak into subprocesses such as ``manage.py check --deploy``, which
    rightly warns about it.
    """
    require_services(chromium=True)
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-")


def save_screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-results/e2e/<name>.png and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{_safe_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def open_page(browser, live_server, request) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (its own cookies) on the live server.

    Relative URLs resolve against the live server. At teardown: a screenshot of every page
    if the test failed, and a failure if any page reported a CSP violation.
    """
    opened: list[tuple[Page, PageLog]] = []

    def open_(viewport: dict[str, int] | None = None, **context_options) -> Page:
        context = browser.new_context(
            base_url=live_server.url, viewport=viewport or DESKTOP, **context_options
        )
        context.set_default_timeout(15_000)
        log = PageLog()
        context.expose_binding(
            "__reportCspViolation",
            lambda source, text: log.csp_events.append(f"{source['page'].url}: {text}"),
        )
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        _record(page, log)
        opened.append((page, log))
        return page

    yield open_

    failed = phase_failed(request.node)
    violations: list[str] = []
    for number, (page, log) in enumerate(opened):
        if failed:
            suffix = f"-{number}" if number else ""
            save_screenshot(page, f"{request.node.name}-failure{suffix}")
        if log.console_errors or log.page_errors:
            print("browser console errors:", *log.console_errors, *log.page_errors, sep="\n  ")  # noqa: T201
        violations += log.csp_violations()
        page.context.close()
    if violations and not failed:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture
def page(open_page) -> Page:
    return open_page()


@pytest.fixture
def screenshot(request) -> Callable[[Page], Path]:
    """Save the page's screenshot as test-results/e2e/<test name>.png."""

    def take(page: Page, suffix: str = "") -> Path:
        return save_screenshot(page, request.node.name + (f"-{suffix}" if suffix else ""))

    return take


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_load_state()


def log_in_staff(page: Page, email: str, secret: str) -> None:
    """Password on the login form, then the authenticator code on the two-factor page."""
    log_in(page, email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.get_by_role("textbox").fill(totp_code(secret))
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/accounts/"))

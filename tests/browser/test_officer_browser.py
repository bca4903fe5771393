"""The officer view in a real Chromium (Debian's package, driven by Playwright).

Sign in, open the queue, filter, open a parcel, see the waterfall and reasons, record a
seizure, find it in the queue status and the decision log; a sorter is refused; a form
without its CSRF token is refused. Screenshots go to artifacts/screenshots/ for review.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.officer_setup import PASSWORD, officer_server
from tests.conftest import Trained
from tests.serving.conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]  # fmt: skip

# On a developer's machine without Chromium the browser tests skip; CI installs it and runs them.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium; .ci/install-browser)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def osrv(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from officer_server(trained.registry, tmp_path_factory.mktemp("browser"), parcels=120)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _sign_in(browser: Any, url: str, username: str, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  java_script_enabled=False)  # every action works without JS
    page = context.new_page()
    page.goto(f"{url}/officer/queue")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def test_officer_journey(browser: Any, osrv: Server) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _sign_in(browser, osrv.url, "olga")
    assert page.get_by_role("heading", name="Today's flagged parcels").is_visible()
    rows = page.locator("table.queue tbody tr")
    assert rows.count() > 0
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)

    page.get_by_label("Origin country").select_option("NL")
    page.get_by_role("button", name="Apply filters").click()
    assert "origin=NL" in page.url
    origins = page.locator("table.queue tbody tr td:nth-child(3)").all_inner_texts()
    assert origins and set(origins) == {"NL"}

    link = page.locator("table.queue tbody tr td:nth-child(2) a").first
    item = link.inner_text()
    link.click()
    assert page.get_by_role("heading", name=f"Parcel {item}").is_visible()
    assert page.locator("svg.waterfall").is_visible()
    assert page.locator("svg.waterfall .wf-row").count() >= 3
    assert page.locator("#reasons li").count() > 0
    assert page.get_by_text("supports and does not replace").first.is_visible()
    page.screenshot(path=str(SHOTS / "parcel.png"), full_page=True)

    page.get_by_label("Yes, inspected").check()
    page.get_by_label("Result").select_option("seized")
    page.get_by_label("Substance (if seized)").fill("cocaine")
    page.get_by_label("Quantity in grams (if seized)").fill("8,5")  # a decimal comma
    page.get_by_label("Notes").fill("powder in a greeting card")
    page.get_by_role("button", name="Record outcome").click()
    assert page.locator("#saved").is_visible()
    log = page.locator("#decision-log").inner_text()
    assert "Outcome recorded" in log and "officer:olga" in log and "seized" in log
    assert "cocaine (8.5 g)" in page.locator("#outcomes").inner_text()
    assert page.locator("#score").inner_text().endswith("%")  # a chance, not a raw number
    page.screenshot(path=str(SHOTS / "parcel-recorded.png"), full_page=True)

    page.goto(f"{osrv.url}/officer/queue?status=inspected")
    row = page.locator(f"tr[data-item='{item}']")
    assert "Inspected: seized" in row.inner_text()

    page.goto(f"{osrv.url}/officer/model")
    assert page.get_by_role("heading", name="Model card", exact=True).is_visible()
    page.screenshot(path=str(SHOTS / "model.png"), full_page=True)
    page.context.close()


def test_tablet_layout(browser: Any, osrv: Server) -> None:
    page = _sign_in(browser, osrv.url, "olga", width=768)
    fits = "(w => w.scrollWidth <= w.clientWidth)(document.querySelector('.table-wrap'))"
    page.wait_for_function(fits, timeout=5000)  # styles applied: no sideways scrolling
    assert page.locator("table.queue th", has_text="Chance of seizure").is_visible()
    page.locator("table.queue tbody tr td:nth-child(2) a").first.click()
    assert page.locator("svg.waterfall").is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.screenshot(path=str(SHOTS / "parcel-tablet.png"), full_page=False)
    page.context.close()


def test_sorter_is_refused(browser: Any, osrv: Server) -> None:
    page = _sign_in(browser, osrv.url, "sam")
    assert "does not have the officer role" in page.locator("#signin-error").inner_text()
    page.goto(f"{osrv.url}/officer/queue")
    assert "/officer/login" in page.url
    page.context.close()


def test_form_without_csrf_is_refused(browser: Any, osrv: Server) -> None:
    context = browser.new_context()  # JavaScript on here, only to strip the token
    page = context.new_page()
    page.goto(f"{osrv.url}/officer/login")
    page.get_by_label("User name").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("table.queue tbody tr td:nth-child(2) a").first.click()
    before = len(osrv.service.state.outcomes())
    page.evaluate("document.querySelector('.outcome-form input[name=csrf]').remove()")
    page.get_by_label("Yes, inspected").check()
    page.get_by_label("Result").select_option("clean")
    page.get_by_role("button", name="Record outcome").click()
    assert "security token" in page.locator("main").inner_text()
    assert len(osrv.service.state.outcomes()) == before
    context.close()

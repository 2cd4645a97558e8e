"""The HTML report in a real headless browser (Debian's chromium): what a person actually sees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.report import render_html
from tests.unit.test_certificate import check, predicate

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium and chromium-driver (Debian packages); .ci/run installs them")
        pytest.skip("needs chromium and chromedriver: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    yield driver
    driver.quit()


def test_the_report_renders_with_verdict_checklist_and_folded_evidence(browser, tmp_path: Path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "report.html"
    doc = predicate([check("AUTH-01", "passed"), check("CON-01", "failed"), check("WH-01", "not_applicable")])
    page.write_text(render_html(doc, signed=True), encoding="utf-8")
    browser.get(page.as_uri())
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # a real picture, not a blank page

    visible = browser.find_element(By.TAG_NAME, "body").text
    assert "NOT CERTIFIED" in visible
    assert "PASS" in visible and "FAIL" in visible and "N/A" in visible
    assert "CON-01" in visible and "CON-01 went wrong" in visible
    assert "pytest --seed=7" in visible
    assert "/v1/contacts?limit=1000" not in visible  # evidence is folded until asked for

    browser.find_element(By.TAG_NAME, "summary").click()
    assert "/v1/contacts?limit=1000" in browser.find_element(By.TAG_NAME, "body").text


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)], ids=["phone", "desktop"])
def test_the_layout_fits_a_phone_and_a_desktop(browser, tmp_path: Path, width: int, height: int):
    """Nothing wider than the screen, durations on one line, the fix and its docs link for a failure.

    The screenshots go to $HARNESS_SHOTS when set (to look at them), else to the test's temp folder.
    """
    shots = Path(os.environ.get("HARNESS_SHOTS") or tmp_path)
    from selenium.webdriver.common.by import By

    failing = check("CON-01", "failed")
    failing["message"] = "4 of 9 requests broke the contract: " + "/query/limit_is_far_too_large " * 12
    failing["duration"] = 123.4
    page = shots / f"report-{width}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_html(predicate([check("AUTH-01", "passed"), failing]), signed=True), "utf-8")
    browser.set_window_size(width, height)
    browser.get(page.as_uri())
    browser.save_screenshot(str(shots / f"report-{width}.png"))
    inner = browser.execute_script("return window.innerWidth")
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= inner, f"the page is {scroll}px wide on a {inner}px screen"
    lines = (
        "const r = document.createRange(); r.selectNodeContents(arguments[0]);"
        " return r.getClientRects().length"
    )
    for cell in browser.find_elements(By.CSS_SELECTOR, "td.duration"):
        assert browser.execute_script(lines, cell) == 1, f"duration {cell.text!r} wraps"
    fix = browser.find_element(By.CSS_SELECTOR, "p.fix")
    assert "what to change:" in fix.text and "Send only requests the contract allows" in fix.text
    link = fix.find_element(By.TAG_NAME, "a").get_attribute("href")
    assert link.endswith("docs/connector-protocol.md#con-01")

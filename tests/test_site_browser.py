"""The results site in a real browser: headless Chromium (the system's `chromium` and
`chromium-driver`; .ci/run installs them when missing) driven by selenium opens index.html from
file://, follows the link to a suite page, sorts a table by a click, hides a figure's series, and
the browser logs no error and loads nothing but the site's own files."""
from __future__ import annotations

import json
import shutil

import pytest

from test_site import build_site

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
DRIVER = shutil.which("chromedriver")
BROWSER = next((p for b in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(b))), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    DRIVER is None or BROWSER is None,
    reason="no chromium / chromedriver on PATH (Debian: apt-get install chromium chromium-driver; CI installs them)")]


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def rows_of(table) -> list[str]:
    from selenium.webdriver.common.by import By

    return [r.find_elements(By.CSS_SELECTOR, "th, td")[0].text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def resources(driver) -> list[str]:
    return driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"
                                 " .concat([location.href])")


def test_site_in_chromium_sorts_a_table_and_logs_no_error(cli, plugin_dir, browser):
    from selenium.webdriver.common.by import By

    site = build_site(cli, plugin_dir)
    browser.get((site / "index.html").as_uri())
    assert browser.title == "bench results"
    assert not severe(browser)
    browser.find_element(By.LINK_TEXT, "toy2").click()
    assert browser.current_url.endswith("/suites/toy2.html")
    assert browser.execute_script("return getComputedStyle(document.body).maxWidth") == "1200px"  # site.css loaded

    table = browser.find_elements(By.CSS_SELECTOR, "table.sortable")[0]
    before = rows_of(table)
    assert before == ["toy-mean", "toy-mean-shifted"]  # the suite's order
    headers = table.find_elements(By.CSS_SELECTOR, "thead th")
    mape = next(h for h in headers if h.text.startswith("MAPE"))
    values = {r: float(c.get_attribute("data-v")) for r, c in zip(before, table.find_elements(
        By.CSS_SELECTOR, f"tbody td:nth-child({headers.index(mape) + 1})"))}
    mape.find_element(By.TAG_NAME, "button").click()
    ascending = rows_of(table)
    assert ascending == sorted(before, key=values.get) == ["toy-mean-shifted", "toy-mean"]  # order changed
    assert mape.get_attribute("aria-sort") == "ascending"
    mape.find_element(By.TAG_NAME, "button").click()
    assert rows_of(table) == before and mape.get_attribute("aria-sort") == "descending"

    # hover text of a cell: mean ± std, the 95 % interval, n
    cell = table.find_element(By.CSS_SELECTOR, "tbody td[data-v]")
    assert "interval of the mean" in cell.get_attribute("title") and "n=3" in cell.get_attribute("title")
    # a legend check box hides its series in the figure, and shows it again
    box = browser.find_element(By.CSS_SELECTOR, "input[data-toggle]")
    key = box.get_attribute("data-toggle")
    box.click()
    hidden = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-series=\"' + arguments[0] + '\"]'))"
        ".map(e => getComputedStyle(e).display)", key)
    assert hidden and set(hidden) == {"none"}
    box.click()
    assert "none" not in browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-series=\"' + arguments[0] + '\"]'))"
        ".map(e => getComputedStyle(e).display)", key)

    loaded = resources(browser)
    browser.find_element(By.LINK_TEXT, "Leaderboard").click()
    assert browser.find_elements(By.CSS_SELECTOR, "figure svg")  # the CD diagram
    loaded += resources(browser)
    assert loaded and all(u.startswith("file://") for u in loaded), loaded  # nothing from the web
    assert not severe(browser)


def test_practice_page_in_chromium_shows_its_figure_and_logs_no_error(tmp_path, browser):
    from selenium.webdriver.common.by import By

    from bench.report import site, site_assets, site_practice
    from test_site_practice import png, summary

    practice = tmp_path / "practice" / "optimizers"
    practice.mkdir(parents=True)
    (practice / "summary.json").write_text(json.dumps(summary("Adam wins")))
    png(practice / "main.png")
    site_dir = tmp_path / "site"
    site_practice.write(site_dir, tmp_path / "practice")
    (site_dir / "assets").mkdir()
    (site_dir / "assets" / "site.css").write_text(site_assets.CSS)
    (site_dir / "assets" / "site.js").write_text(site_assets.JS)
    site.index(site_dir)
    browser.get((site_dir / "index.html").as_uri())
    browser.find_element(By.LINK_TEXT, "In practice").click()
    assert browser.current_url.endswith("/practice.html")
    img = browser.find_element(By.CSS_SELECTOR, "figure img")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
    loaded = resources(browser)
    assert loaded and all(u.startswith("file://") for u in loaded), loaded
    assert not severe(browser)

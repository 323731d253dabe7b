"""The HTML pages in a real headless browser, driven the way a user drives them.

A real server (run.py, waitress, in a subprocess on a free port) serves the sample
database; Debian's chromium and chromedriver (packages `chromium`, `chromium-driver`)
are driven by Selenium. The driver and browser are given by path, so Selenium Manager
never runs and nothing is downloaded. A screenshot of the table page is kept in
TEST_ARTIFACTS (default: test-artifacts/ of the repository).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

PROJECT_DIR = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 30

pytestmark = pytest.mark.slow

# Every header's column name and every cell as a user reads it: a linked cell by its
# link's text (the foreign key), not the label shown next to it.
_GRID_JS = """
const table = document.querySelector("table.grid");
const name = (th) => { const a = th.querySelector("a"); return a ? a.textContent.trim() : ""; };
const text = (td) => { const a = td.querySelector("a"); return (a || td).textContent.trim(); };
return {
  columns: Array.from(table.querySelectorAll("thead th"), name),
  rows: Array.from(table.querySelectorAll("tbody tr"), (tr) => Array.from(tr.cells, text)),
};
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _live(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/live", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def base_url(database_url, tmp_path_factory):
    """The root URL of run.py serving the sample database; its output goes to a log file."""
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_SCHEMAS")}
    env.update(
        DATABASE_URL=database_url.render_as_string(hide_password=False),
        DB_SCHEMAS="public,reporting",
        PORT=str(port),
        THREADS="4",
        # The walk reads counts ("24 rows in public.loans"); on a loaded CI machine the
        # default 500 ms side-query limit could turn one into "count timed out".
        PAGE_SIDE_TIMEOUT="10000",
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "run.py"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=log
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(WAIT_SECONDS * 10):
            if _live(base):
                break
            try:  # waits 0.1 s, and notices at once when the server died
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"run.py exited with {process.returncode}:\n{log_path.read_text()}")
        else:
            pytest.fail(f"run.py did not answer /live in {WAIT_SECONDS} s:\n{log_path.read_text()}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    """Where the browser saves downloads."""
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(tmp_path_factory, downloads):
    """Headless chromium through chromedriver, both Debian's; never Selenium Manager."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        # A fresh machine: install Debian's packages as .ci/run does (root or sudo needed).
        subprocess.run([str(PROJECT_DIR / ".ci" / "install-browser")], check=False)
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        missing = [n for n, p in (("chromium", chromium), ("chromedriver", chromedriver)) if not p]
        pytest.fail(
            f"{' and '.join(missing)} not found on PATH: install the Debian packages "
            "chromium and chromium-driver (apt-get install chromium chromium-driver)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    service = Service(
        executable_path=chromedriver,
        log_output=str(tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # should Selenium Manager ever run: no network
        browser = webdriver.Chrome(service=service, options=options)
    try:
        browser.execute_cdp_cmd(
            "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where test artefacts (screenshots) go: TEST_ARTIFACTS, else test-artifacts/."""
    folder = Path(os.environ.get("TEST_ARTIFACTS") or PROJECT_DIR / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wait(driver):
    return WebDriverWait(driver, WAIT_SECONDS)


def _click_and_load(driver, element) -> None:
    """Click a link or button that loads another page, and wait until that page is there."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    _wait(driver).until(lambda d: _detached(old))
    _wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _detached(element) -> bool:
    """True once element left the document: the old page is gone.

    Chromium sometimes answers a query about a node of a page being replaced with an
    inspector error ("Node with given id does not belong to the document") rather than a
    stale reference; both mean the node is gone.
    """
    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException is one
        return True
    return False


def _grid(driver) -> tuple[list[str], list[dict[str, str]]]:
    """The table page's columns and rows, as text (without the unnamed row-page links)."""
    found = driver.execute_script(_GRID_JS)
    rows = [dict(zip(found["columns"], row, strict=True)) for row in found["rows"]]
    for row in rows:
        row.pop("", None)
    return [name for name in found["columns"] if name], rows


def _query(driver) -> dict[str, list[str]]:
    return parse_qs(urlsplit(driver.current_url).query)


def _pages_forward(driver, pages: int) -> list[list[dict[str, str]]]:
    """This page's rows and those of the next `pages` pages, by the pager's next link."""
    seen = [_grid(driver)[1]]
    for _ in range(pages):
        _click_and_load(driver, driver.find_element(By.CSS_SELECTOR, "nav.pager a[rel=next]"))
        seen.append(_grid(driver)[1])
    return seen


def test_a_user_filters_sorts_pages_follows_links_and_exports(
    driver, base_url, downloads, artifacts
):
    # 1. The index: the name box hides what does not match as one types, then a link.
    driver.get(base_url + "/")
    relation_rows = driver.find_elements(By.CSS_SELECTOR, "tr.relation")
    branches = driver.find_element(By.LINK_TEXT, "branches")
    assert branches.is_displayed()
    driver.find_element(By.ID, "q").send_keys("loan")
    _wait(driver).until(EC.invisibility_of_element(branches))
    shown = [row for row in relation_rows if row.is_displayed()]
    assert shown and len(shown) < len(relation_rows)
    assert all("loan" in row.find_element(By.TAG_NAME, "td").text for row in shown)
    _click_and_load(driver, driver.find_element(By.LINK_TEXT, "loans"))
    assert urlsplit(driver.current_url).path == "/browse/public/loans"
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("public.loans")

    # 2. The filter builder: member_id ≤ 500 lands in the query string and in the rows.
    Select(driver.find_element(By.ID, "fc1")).select_by_visible_text("member_id")
    Select(driver.find_element(By.ID, "fo1")).select_by_visible_text("≤")
    driver.find_element(By.ID, "fv1").send_keys("500")
    apply = driver.find_element(By.XPATH, "//button[normalize-space()='Apply filters']")
    _click_and_load(driver, apply)
    assert _query(driver)["member_id"] == ["lte.500"]
    assert "member_id=lte.500" in driver.find_element(By.CSS_SELECTOR, ".chips").text
    columns, rows = _grid(driver)
    assert "member_id" in columns and "due_on" in columns
    assert rows and all(int(row["member_id"]) <= 500 for row in rows)

    # 3. Sorting by a header: ascending, then descending on a second click.
    _click_and_load(driver, driver.find_element(By.LINK_TEXT, "due_on"))
    assert _query(driver)["order"][0].startswith("due_on.asc")
    due = [row["due_on"] for row in _grid(driver)[1]]
    assert due == sorted(due) and due[0] < due[-1]
    _click_and_load(driver, driver.find_element(By.LINK_TEXT, "due_on"))
    assert _query(driver)["order"][0].startswith("due_on.desc")
    header = driver.find_element(By.XPATH, "//table[@class='grid']//th[a[text()='due_on']]")
    assert header.get_attribute("aria-sort") == "descending"
    driver.save_screenshot(str(artifacts / "table-page.png"))  # filtered, sorted, page 1

    # 4. Two pages forward: new rows each time, still filtered, still in order throughout.
    pages = _pages_forward(driver, 2)
    ids = [[row["id"] for row in rows] for rows in pages]
    assert all(ids) and len({i for page in ids for i in page}) == sum(map(len, ids))
    every = [row for rows in pages for row in rows]
    assert all(int(row["member_id"]) <= 500 for row in every)
    due = [row["due_on"] for row in every]
    assert due == sorted(due, reverse=True)
    assert _query(driver)["member_id"] == ["lte.500"]

    # 5. A foreign-key cell links to the member's row page.
    member_id = pages[-1][0]["member_id"]
    cell = driver.find_element(
        By.XPATH, f"//table[@class='grid']/tbody/tr[1]//a[text()='{member_id}']"
    )
    _click_and_load(driver, cell)
    assert urlsplit(driver.current_url).path == "/browse/public/members/row"
    assert _query(driver) == {"id": [member_id]}
    assert f"id={member_id}" in driver.find_element(By.TAG_NAME, "h1").text
    id_value = driver.find_element(By.XPATH, "//table[@class='record']//tr[th='id']/td[2]")
    assert id_value.text == member_id

    # 6. Its incoming reference leads back to exactly this member's loans.
    reference = driver.find_element(
        By.XPATH, "//ul[@class='references']//a[contains(., ' in public.loans')]"
    )
    linked = int(reference.text.split()[0].replace(",", ""))
    _click_and_load(driver, reference)
    assert urlsplit(driver.current_url).path == "/browse/public/loans"
    assert _query(driver) == {"member_id": [f"eq.{member_id}"]}
    columns, rows = _grid(driver)
    assert 0 < len(rows) <= linked and {row["member_id"] for row in rows} == {member_id}
    assert driver.find_element(By.ID, "count").text.startswith(f"{linked:,} row")

    # 7. The CSV link downloads exactly these rows.
    csv_link = driver.find_element(By.XPATH, "//nav[@class='tabs']/a[text()='CSV']")
    assert urlsplit(csv_link.get_attribute("href")).path == "/browse/public/loans/export.csv"
    csv_link.click()
    saved = _wait(driver).until(lambda _: _finished_download(downloads, ".csv"))
    records = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert records[0] == columns
    exported = [dict(zip(records[0], record, strict=True)) for record in records[1:]]
    assert len(exported) == linked
    assert {row["member_id"] for row in exported} == {member_id}
    if linked == len(rows):  # the whole set is on the page: the same rows, in the same order
        assert [row["id"] for row in exported] == [row["id"] for row in rows]


def _finished_download(folder: Path, suffix: str) -> Path | None:
    """The downloaded file once chromium has finished writing it."""
    if any(path.suffix == ".crdownload" for path in folder.iterdir()):
        return None
    done = [path for path in folder.iterdir() if path.suffix == suffix]
    return done[0] if done else None


def test_keyboard_and_narrow_screen(driver, base_url):
    driver.get(base_url + "/browse/public/loans?member_id=lte.500&order=due_on.desc")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    focused = driver.switch_to.active_element
    assert focused.text == "Skip to content" and focused.get_attribute("href").endswith("#main")
    focused.send_keys(Keys.ENTER)
    _wait(driver).until(EC.url_contains("#main"))

    size = driver.get_window_size()
    try:
        driver.set_window_size(400, 900)
        _wait(driver).until(lambda d: d.execute_script("return window.innerWidth") <= 400)
        overflow = driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert overflow[0] <= overflow[1] + 1, f"the page scrolls sideways: {overflow}"
        grid_box = driver.find_element(By.CSS_SELECTOR, ".scroll:has(table.grid)")
        assert driver.execute_script(
            "return arguments[0].scrollWidth > arguments[0].clientWidth", grid_box
        ), "the grid should scroll inside its own box at 400 px"
    finally:
        driver.set_window_size(size["width"], size["height"])

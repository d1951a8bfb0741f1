"""The issue's end-to-end steps in real headless Chromium (Debian's chromium + chromium-driver):
start `kofu serve`, open the page, drop the demo inbox through the file input, wait, check the
counts and the 未提出 list, download the summary (and compare it with the CLI's), download the
letters. With KOFU_SCREENSHOT=1 it also writes docs/images/serve.png for the README."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import data_rows, require_chromium
from serve_fixtures import INBOX, PASSWORDS, ROOT, cli, free_port

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,2000", "--lang=ja")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_chromium()
    root = tmp_path_factory.mktemp("serve")
    proc = subprocess.Popen([sys.executable, "-c", "from kofu_excel.cli import main; main()", "serve",
                             "--no-browser", "--port", str(free_port()), "--workspace", str(root / "ws")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
    yield {"url": url, "root": root}
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = require_chromium()
    downloads = server["root"] / "downloads"
    downloads.mkdir()
    profile = tempfile.mkdtemp(prefix="kofu-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False,
                                           "safebrowsing.enabled": False})
    # Never let selenium-manager look for (or download) a driver: the system one is named here.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(cond: Any, timeout: float = 120, what: str = "") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def downloaded(folder: Path, name: str) -> Path:
    path = folder / name
    wait_for(lambda: path.is_file() and not (folder / f"{name}.crdownload").exists(), 60, name)
    return path


@pytest.fixture(scope="module")
def merged_page(server: dict[str, Any], browser: Any) -> Any:
    """Steps 1–4: the server runs; open the page, drop the inbox, wait for the result."""
    from selenium.webdriver.common.by import By

    browser.get(server["url"])  # 2. open the page
    assert "とりまとめ" in browser.title
    browser.find_element(By.ID, "pick-folder").send_keys(str(INBOX))  # 3. the inbox, as a folder
    n = len([p for p in INBOX.rglob("*") if p.is_file()])
    wait_for(lambda: browser.find_element(By.ID, "chosen").text == f"選択されたファイル：{n} 件", 30, "files chosen")
    browser.find_element(By.ID, "passwords").send_keys(PASSWORDS.read_text(encoding="utf-8"))
    browser.find_element(By.ID, "btn-merge").click()
    stages: set[str] = set()

    def done() -> bool:
        if "/runs/" in browser.current_url:
            return bool(browser.find_elements(By.ID, "counts"))
        with contextlib.suppress(Exception):  # the page may be navigating away
            stages.add(browser.find_element(By.ID, "progress-text").text.split("（")[0])
        return False

    wait_for(done, 180, "the result page")  # 4. wait for the result (watching the progress bar)
    browser.stages = stages
    return browser


def test_the_monthly_cycle_end_to_end(server: dict[str, Any], merged_page: Any) -> None:
    from selenium.webdriver.common.by import By

    page = merged_page
    # the progress bar showed the server's own stages while the run went on
    assert page.stages & {"とりまとめ中", "確認結果を作成中", "文書を作成中"}, page.stages
    # 5. the counts and the 未提出 list, as kofu-merge prints them for the same inbox
    counts = {s: page.find_element(By.ID, f"count-{s}").text
              for s in ("accepted", "rejected", "superseded", "duplicate", "ignored", "opened", "total")}
    assert counts == {"accepted": "34", "rejected": "2", "superseded": "1", "duplicate": "1",
                      "ignored": "4", "opened": "9", "total": "51"}
    missing = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
               for tr in page.find_elements(By.CSS_SELECTOR, "#missing tr")[1:]]
    assert missing == [["313289", "智頭町", "交付円滑化計画", "不受理"],
                       ["314021", "日野町", "実績報告", "未提出"],
                       ["314030", "江府町", "交付円滑化計画", "未提出"],
                       ["314030", "江府町", "実績報告", "未提出"]]
    submitted = page.find_element(By.ID, "submitted").text
    assert "交付円滑化計画：提出 17 / 19 団体（未提出 2 団体）" in submitted
    assert page.find_element(By.CSS_SELECTOR, "svg.chart")
    intake = page.find_elements(By.CSS_SELECTOR, "#intake tr")
    assert len(intake) == 52 and "inbox/メール/【境港市】交付円滑化計画の提出について.eml" in page.page_source

    # 6. the summary workbook: the same データ rows as kofu-merge writes for the same files
    folder = server["root"] / "downloads"
    page.find_element(By.LINK_TEXT, "とりまとめ表.xlsx").click()
    summary = downloaded(folder, "とりまとめ表.xlsx")
    out = server["root"] / "cli.xlsx"
    code, _doc = cli("merge", "inbox", "--passwords", str(PASSWORDS), "-o", str(out))
    assert code == 1
    rows = data_rows(summary)
    assert len(rows) > 1000 and rows == data_rows(out)

    # 7. the letters: advice and reminders, each with the combined file for printing
    for name, combined, who in (("助言文書.zip", "助言_一括.docx", "米子市"), ("督促文書.zip", "督促_一括.docx", "江府町")):
        page.find_element(By.LINK_TEXT, name).click()
        names = zipfile.ZipFile(downloaded(folder, name)).namelist()
        assert combined in names and any(who in n for n in names), names

    if os.environ.get("KOFU_SCREENSHOT"):
        _screenshot(page)


def test_findings_filter_by_municipality_severity_and_code(merged_page: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page = merged_page
    rows = page.find_elements(By.CSS_SELECTOR, "#findings tr[data-code]")
    assert len(rows) > 5
    Select(page.find_element(By.ID, "filter-code")).select_by_value("E203")
    shown = [r for r in rows if r.is_displayed()]
    assert shown and all(r.get_attribute("data-code") == "E203" for r in shown)
    assert page.find_element(By.ID, "findings-shown").text == f"表示 {len(shown)} 件"
    Select(page.find_element(By.ID, "filter-code")).select_by_value("")
    Select(page.find_element(By.ID, "filter-muni")).select_by_value("312029")
    shown = [r for r in rows if r.is_displayed()]
    assert shown and all(r.get_attribute("data-muni") == "312029" for r in shown)
    Select(page.find_element(By.ID, "filter-muni")).select_by_value("")
    Select(page.find_element(By.ID, "filter-severity")).select_by_value("エラー")
    shown = [r for r in rows if r.is_displayed()]
    assert shown and all(r.get_attribute("data-severity") == "エラー" for r in shown)
    assert len(shown) < len(rows)


def test_templates_from_the_page(server: dict[str, Any], merged_page: Any) -> None:
    from selenium.webdriver.common.by import By

    page = merged_page
    page.find_element(By.ID, "t-munis").send_keys("312011 米子市")
    page.find_element(By.ID, "btn-templates").click()
    link = wait_for(lambda: page.find_elements(By.ID, "template-download"), 60, "the templates link")[0]
    assert "2 件の様式を作成しました" in page.find_element(By.ID, "template-message").text
    link.click()
    names = zipfile.ZipFile(downloaded(server["root"] / "downloads", "様式.zip")).namelist()
    assert names == ["312011_鳥取市_交付円滑化計画.xlsx", "312029_米子市_交付円滑化計画.xlsx"]


def test_the_page_runs_no_inline_script_and_reports_no_errors(merged_page: Any) -> None:
    logs = merged_page.get_log("browser") if hasattr(merged_page, "get_log") else []
    assert not [entry for entry in logs if entry.get("level") == "SEVERE"], logs


def _screenshot(page: Any) -> None:
    """docs/images/serve.png: the result page from the top, as an official sees it (scaled down
    so that the PNG stays small, as the README's pictures must)."""
    import base64

    page.set_window_size(1280, 1900)
    page.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    shot = page.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "clip": {"x": 0, "y": 0, "width": 1280, "height": 1640, "scale": 0.7}})
    (ROOT / "docs" / "images" / "serve.png").write_bytes(base64.b64decode(shot["data"]))


def test_a_past_run_is_deleted_from_the_page(server: dict[str, Any], merged_page: Any) -> None:
    from selenium.webdriver.common.by import By

    page = merged_page
    page.get(server["url"])
    rows = page.find_elements(By.CSS_SELECTOR, "#runs tr[data-run]")
    assert len(rows) >= 2  # the merge and the templates of the tests above
    victim = rows[0].get_attribute("data-run")
    rows[0].find_element(By.CSS_SELECTOR, "button.delete").click()
    page.switch_to.alert.accept()
    wait_for(lambda: not page.find_elements(By.CSS_SELECTOR, f"#runs tr[data-run='{victim}']"), 30, "the row to go")
    assert not (server["root"] / "ws" / "runs" / victim).exists()
    page.refresh()
    assert victim not in page.page_source


def test_files_dropped_on_the_page_are_taken_in(server: dict[str, Any], merged_page: Any) -> None:
    """The drop zone: real files (picked by a scratch input, so that they are read from disk) are
    dropped on it as a DataTransfer, then checked with 確認だけ行う."""
    from selenium.webdriver.common.by import By

    page = merged_page
    page.get(server["url"])
    plans = sorted((INBOX / "計画").glob("31*.xlsx"))[:3]
    page.execute_script("const i = document.createElement('input'); i.type = 'file'; i.multiple = true;"
                        "i.id = 'scratch'; document.body.appendChild(i);")
    page.find_element(By.ID, "scratch").send_keys("\n".join(str(p) for p in plans))
    page.execute_script("const dt = new DataTransfer(); for (const f of document.getElementById('scratch').files)"
                        " dt.items.add(f); document.getElementById('drop').dispatchEvent("
                        "new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));")
    wait_for(lambda: page.find_element(By.ID, "chosen").text == "選択されたファイル：3 件", 30, "the dropped files")
    page.find_element(By.ID, "btn-validate").click()
    wait_for(lambda: "/runs/" in page.current_url and page.find_elements(By.ID, "counts"), 120, "the result")
    assert page.find_element(By.ID, "count-valid").text == "3"
    shown = [tr.find_elements(By.TAG_NAME, "td")[0].text for tr in page.find_elements(By.CSS_SELECTOR, "#files tr")[1:]]
    assert shown == [p.name for p in plans]

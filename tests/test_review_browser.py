"""The review page in a real headless Chromium (Debian's chromium + chromedriver, Selenium).

A real ``govreport serve --corpus-dir`` on a free port; the browser uploads reports
through the page's file picker, clicks figures and checks, corrects a cell and saves.
Nothing is fetched from the network: the driver and the browser are given by path and
Selenium is told to stay offline.  Skipped, with the reason, where they are not
installed (CI installs them: see the README's first lines).

Screenshots of a seed report, of a failed audit and of a scanned report (page images
read by OCR) are taken every run; they replace
the README's (docs/screenshots/) when GOVREPORT_SCREENSHOTS=1, so that an ordinary test
run leaves the checkout clean.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_review import SEED_TEXT, xss_report
from training.hostile import serving

ROOT = Path(__file__).resolve().parent.parent
PDF = ROOT / "tests" / "fixtures" / "000_62418b5d58b13a7d.pdf"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 60  # (an upper bound for the page to answer, never a measure)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(f"no headless browser: {CHROMIUM} and {CHROMEDRIVER} are needed "
                "(apt-get install -y chromium chromium-driver)", allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("browser-corpus")


@pytest.fixture(scope="module")
def server(corpus_dir):
    args = ["--workers", "1", "--timeout", "120", "--corpus-dir", str(corpus_dir)]
    with serving(args, {"GOVREPORT_ADMIN_TOKEN": ""}) as (base, _):
        yield base


@pytest.fixture(scope="module")
def browser():
    # Selenium must not look for a driver or send statistics over the network.
    saved = {k: os.environ.get(k) for k in ("SE_OFFLINE", "SE_AVOID_STATS")}
    os.environ.update(SE_OFFLINE="true", SE_AVOID_STATS="true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=zh-CN", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _wait(driver, condition):
    return WebDriverWait(driver, WAIT_S).until(condition)


def _open(driver, base: str, path: Path):
    """Open the page and upload ``path`` through the file picker; the review once shown."""
    driver.get(base + "/")
    driver.find_element(By.ID, "file").send_keys(str(path))
    _wait(driver, lambda d: d.find_elements(By.ID, "view") or d.find_element(By.ID, "status").text.startswith("无法"))
    assert driver.find_elements(By.ID, "view"), driver.find_element(By.ID, "status").text
    return json.loads(driver.find_element(By.ID, "report-data").get_attribute("textContent"))


def _active_text(driver) -> str:
    active = driver.find_elements(By.CSS_SELECTOR, "#text .active")
    assert all(el.get_attribute("aria-current") == "true" for el in active)
    return "".join(el.get_attribute("textContent") for el in active)


def _cell(driver, key: str):
    return driver.find_element(By.CSS_SELECTOR, f'[data-cell="{key}"]')


def _screenshot(driver, name: str, tmp_path: Path, at=None) -> None:
    folder = SCREENSHOTS if os.environ.get("GOVREPORT_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    # the page from its top, or from the element ``at``; the text pane keeps its scroll
    driver.execute_script("arguments[0] ? arguments[0].scrollIntoView() : window.scrollTo(0, 0)", at)
    assert driver.save_screenshot(str(folder / name))


def test_click_a_value_highlights_its_figure_in_the_pdf_text(server, browser, tmp_path):
    result = _open(browser, server, PDF)
    cell = _cell(browser, "applications.new_received.total")
    value = cell.get_attribute("value")
    assert value == str(result["tables"]["applications"]["new_received"]["total"])
    cell.click()
    assert _active_text(browser) == value
    start, end = result["provenance"]["applications.new_received.total"]
    active = browser.find_elements(By.CSS_SELECTOR, "#text .active")
    assert [int(active[0].get_attribute("data-s")), int(active[-1].get_attribute("data-e"))] == [start, end]
    # a PDF: the page beside the span, the extraction's own (its locations): page 2
    assert result["locations"]["applications.new_received.total"]["page"] == 2
    assert active[-1].get_attribute("data-page-badge") == "2"
    assert active[-1].get_attribute("data-conf-badge") is None  # (a text layer: no OCR confidence)
    assert "第2页" in browser.find_element(By.ID, "trace").text
    assert browser.execute_script("const r = arguments[0].getBoundingClientRect(); "
                                  "const box = document.getElementById('text').getBoundingClientRect(); "
                                  "return r.top >= box.top && r.bottom <= box.bottom;", active[0])  # scrolled to

    # a prose metric: its evidence highlighted
    metric = browser.find_element(By.CSS_SELECTOR, '[data-metric="0"]')
    metric.find_element(By.CSS_SELECTOR, ".m-text").click()
    assert _active_text(browser) == result["metrics"][0]["text"]
    assert not browser.find_elements(By.CSS_SELECTOR, "input.v.sel")  # the cell's mark is gone

    # the layout: every table value has its hook, labels in Chinese, sections named
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-cell]")) == 10 + 25 * 7 + 15
    assert "本年新收政府信息公开申请数量" in browser.find_element(By.CSS_SELECTOR, '[data-table="applications"]').text
    names = [el.text for el in browser.find_elements(By.CSS_SELECTOR, "#text .sec-name")]
    assert any("总体情况" in n for n in names) and len(names) == len(result["sections"])
    _cell(browser, "applications.new_received.total").click()
    _screenshot(browser, "seed-report.png", tmp_path)


def test_a_failed_check_highlights_its_cells(server, browser, tmp_path):
    # the seed report with table 3's new_received total changed from 2 to 9
    total_at = SEED_TEXT.index("一、本年新收政府信息公开申请数量")
    line_end = SEED_TEXT.index("\n", total_at)
    line = SEED_TEXT[total_at:line_end]
    assert line.endswith("\t2\t")
    broken = tmp_path / "broken_total.txt"
    broken.write_text(SEED_TEXT[:total_at] + line[:-2] + "9\t" + SEED_TEXT[line_end:], encoding="utf-8")
    result = _open(browser, server, broken)
    failed = [i for i, c in enumerate(result["checks"]) if c["ok"] is False]
    assert failed and result["audit"]["failed"] == len(failed)
    items = browser.find_elements(By.CSS_SELECTOR, "#audit li.check")
    assert [int(el.get_attribute("data-check")) for el in items[:len(failed)]] == failed  # failed first
    balance = next(i for i in failed if result["checks"][i]["rule"] == "applications.balance")
    browser.find_element(By.CSS_SELECTOR, f'[data-check="{balance}"]').click()
    check = result["checks"][balance]
    cells = [c for c in check["cells"] if browser.find_elements(By.CSS_SELECTOR, f'[data-cell="{c}"]')]
    assert len(cells) == 4
    for key in cells:
        assert "hl" in _cell(browser, key).get_attribute("class").split()
    highlighted = browser.find_elements(By.CSS_SELECTOR, "input.v.hl")
    assert sorted(el.get_attribute("data-cell") for el in highlighted) == sorted(cells)
    figures = "".join(result["text"][s:e] for s, e in sorted(check["spans"]))
    assert _active_text(browser) == figures  # and every span it involves, in the text
    assert _cell(browser, "applications.new_received.total").get_attribute("value") == "9"
    _screenshot(browser, "failed-audit.png", tmp_path)


def test_correct_a_cell_and_save_an_annotation(server, browser, corpus_dir):
    result = _open(browser, server, PDF)
    key = "applications.granted.natural_person"
    before = result["tables"]["applications"]["granted"]["natural_person"]
    cell = _cell(browser, key)
    cell.clear()
    cell.send_keys(str(before + 5), Keys.TAB)  # (the change event)
    assert "edited" in cell.get_attribute("class").split()
    for attempt in ("saved", "updated"):
        status = browser.find_element(By.ID, "save-status")
        browser.execute_script("arguments[0].removeAttribute('data-saved')", status)
        browser.find_element(By.ID, "save-button").click()
        _wait(browser, lambda d: d.find_element(By.ID, "save-status").get_attribute("data-saved")
              or "未保存" in d.find_element(By.ID, "save-status").text)
        assert status.get_attribute("data-saved"), status.text
        assert ("已更新" if attempt == "updated" else "已保存") in status.text
    name = status.get_attribute("data-saved")
    assert sorted(p.name for p in corpus_dir.iterdir()) == [f"{name}.gold.json", f"{name}.txt"]  # once
    check = subprocess.run([sys.executable, "-m", "service.cli", "corpus", "check", str(corpus_dir)],
                           capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0, check.stdout + check.stderr
    gold = json.loads((corpus_dir / f"{name}.gold.json").read_text(encoding="utf-8"))
    assert gold["tables"]["applications"]["granted"]["natural_person"] == before + 5
    assert (corpus_dir / f"{name}.txt").read_text(encoding="utf-8") == result["text"]


def test_correct_a_metric_span_by_selecting_text(server, browser, corpus_dir):
    result = _open(browser, server, PDF)
    metric = result["metrics"][1]
    # select the figure alone (a narrower evidence span) in the text and take it
    number = str(metric["value"])
    start = metric["start"] + metric["text"].index(number)
    browser.execute_script(
        "const [s, e] = arguments; const chunks = [...document.querySelectorAll('#text span[data-s]')];"
        "const at = o => { const c = chunks.find(c => +c.dataset.s <= o && o <= +c.dataset.e);"
        "  return [c.firstChild, o - +c.dataset.s]; };"
        "const r = document.createRange(); r.setStart(...at(s)); r.setEnd(...at(e));"
        "const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r);", start, start + len(number))
    row = browser.find_element(By.CSS_SELECTOR, '[data-metric="1"]')
    row.find_element(By.CSS_SELECTOR, ".m-span").click()
    assert row.find_element(By.CSS_SELECTOR, ".m-text").text == number
    assert _active_text(browser) == number
    browser.find_element(By.ID, "save-button").click()
    _wait(browser, lambda d: d.find_element(By.ID, "save-status").get_attribute("data-saved"))
    name = browser.find_element(By.ID, "save-status").get_attribute("data-saved")
    gold = json.loads((corpus_dir / f"{name}.gold.json").read_text(encoding="utf-8"))
    assert (gold["metrics"][1]["start"], gold["metrics"][1]["text"]) == (start, number)


def test_page_images_of_a_scan_open_as_one_report(server, browser, tmp_path):
    """The fixture PDF's pages as PNG scans, picked together (in reverse order: the page
    sends them in name order, one report): read by OCR, laid out, unsure figures marked,
    a figure traced to its page with OCR's confidence."""
    from training.scans import render_variant

    paths = []
    for number, png in enumerate(render_variant(PDF.read_bytes(), PDF.stem, 200).pages, 1):
        path = tmp_path / f"scan_page{number}.png"
        path.write_bytes(png)
        paths.append(str(path))
    assert len(paths) > 1
    browser.get(server + "/")
    browser.find_element(By.ID, "file").send_keys("\n".join(reversed(paths)))
    status = browser.find_element(By.ID, "status")
    _wait(browser, lambda d: f"{len(paths)} 张页面图像" in status.text or d.find_elements(By.ID, "view"))
    if not browser.find_elements(By.ID, "view"):  # (while OCR reads: the wait is said, with a progress bar)
        assert "OCR" in status.text and "每页约需" in status.text, status.text
        assert browser.find_element(By.ID, "busy").is_displayed()
    _wait(browser, lambda d: d.find_elements(By.ID, "view") or status.text.startswith("无法"))
    assert browser.find_elements(By.ID, "view"), status.text
    assert not browser.find_element(By.ID, "busy").is_displayed()
    result = json.loads(browser.find_element(By.ID, "report-data").get_attribute("textContent"))
    assert result["format"] == "image"

    # the tables, laid out with their values (OCR's readings)
    key = "applications.new_received.total"
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-cell]")) == 10 + 25 * 7 + 15
    assert _cell(browser, key).get_attribute("value") == str(result["tables"]["applications"]["new_received"]["total"])
    assert sum(bool(el.get_attribute("value")) for el in browser.find_elements(By.CSS_SELECTOR, "[data-cell]")) > 100
    # figures OCR was unsure of: marked (amber, dotted), their confidence in the tooltip
    low = {f["cell"]: f for f in result["cell_flags"] if f["reason"] == "low_confidence"}
    marked = browser.find_elements(By.CSS_SELECTOR, "input.v.flag-low_confidence")
    assert sorted(el.get_attribute("data-cell") for el in marked) == sorted(low)
    for el in marked:
        assert f"置信度 {low[el.get_attribute('data-cell')]['confidence']:.2f}" in el.get_attribute("title")
    if low:
        assert browser.find_element(By.CSS_SELECTOR, ".ocr-sum .key-low").text == str(len(low))

    # a figure traced: the page it was on (the pages went in name order) and OCR's confidence
    location = result["locations"][key]
    assert location["page"] == 2 and location["confidence"] is not None
    _cell(browser, key).click()
    active = browser.find_elements(By.CSS_SELECTOR, "#text .active")
    assert active and active[-1].get_attribute("data-page-badge") == "2"
    assert active[-1].get_attribute("data-conf-badge") == f"{location['confidence']:.2f}"
    assert f"第2页 · OCR 置信度 {location['confidence']:.2f}" in browser.find_element(By.ID, "trace").text
    if marked:  # (the screenshot: an unsure figure traced, beside table 3)
        marked[0].click()
    _screenshot(browser, "scanned-report.png", tmp_path,
                at=browser.find_element(By.CSS_SELECTOR, '[data-table="applications"]'))


def test_report_markup_runs_no_script(server, browser, tmp_path):
    hostile = tmp_path / "xss.txt"
    hostile.write_text(xss_report(), encoding="utf-8")
    result = _open(browser, server, hostile)
    assert result["text"] == xss_report()
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    assert not browser.find_elements(By.CSS_SELECTOR, "#view img, #view script:not([type='application/json'])")
    assert "<script>window.__xss=1</script>" in browser.find_element(By.ID, "text").text  # shown, as text
    browser.find_element(By.CSS_SELECTOR, "#text span[data-s]").click()  # (nothing runs on a click either)
    assert browser.execute_script("return typeof window.__xss") == "undefined"


def test_api_docs_render_offline(server, browser):
    browser.get(server + "/docs")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title"))
    assert "govreport" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
    paths = {el.text for el in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/v1/extract" in paths
    scripts = browser.execute_script("return [...document.scripts].map(s => s.src).filter(Boolean)")
    assert scripts and all(s.startswith(server) for s in scripts)


def test_the_page_needs_nothing_from_elsewhere(server, browser):
    """Every resource the page loaded came from the server itself (offline)."""
    _open(browser, server, PDF)
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(server) for url in loaded)

"""The review page's routes (in-process): the page, opening a report, saving a correction.

The browser behaviour (tracing, highlighting, editing in the page) is in
tests/test_review_browser.py; here the HTTP side: what is served, what is written
where, and who may write.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import Settings, create_app
from service.review import annotation_name
from training.corpus import check_corpus, load_corpus

ROOT = Path(__file__).resolve().parent.parent
REPORT = "000_62418b5d58b13a7d"
SEED_TEXT = (ROOT / "corpus" / f"{REPORT}.txt").read_text(encoding="utf-8")
PDF = ROOT / "tests" / "fixtures" / f"{REPORT}.pdf"
TOKEN = "review-token"
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'


def xss_report() -> str:
    """The seed report with markup in its title line and in its prose (see the browser test)."""
    first, rest = SEED_TEXT.split("\n", 1)
    return f"{first}{XSS}\n" + rest.replace("一、总体情况\n", f"一、总体情况\n{XSS}\n", 1)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("review-corpus")


@pytest.fixture(scope="module")
def client(corpus_dir):
    app = create_app(Settings(timeout_s=120, corpus_dir=str(corpus_dir), max_upload_mb=1))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def opened(client):
    """The review of the fixture PDF, and the extraction embedded in it."""
    response = client.post("/review/open", files={"file": (PDF.name, PDF.read_bytes())})
    assert response.status_code == 200, response.text
    return response.text, _embedded(response.text)


def _embedded(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert found
    return json.loads(found.group(1))


def _correction(result: dict) -> dict:
    return copy.deepcopy({k: result[k] for k in ("text", "layout", "sections", "tables", "metrics")})


# --- the page -------------------------------------------------------------------------

def test_page_is_served_offline(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert 'src="/review/static/review.js"' in page and 'href="/review/static/review.css"' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert 'data-save="1"' in page and 'data-token="0"' in page
    assert 'id="store-form"' not in page  # no archive served
    for name in ("review.js", "review.css"):
        assert client.get(f"/review/static/{name}").status_code == 200
    assert client.get("/review/static/index.html").status_code == 404
    assert client.get("/review/static/..%2Fapi.py").status_code == 404


def test_docs_assets_are_local(client):
    page = client.get("/docs").text
    assert "cdn." not in page
    scripts = re.findall(r'src="([^"]+)"', page)
    assert scripts and all(s.startswith("/") for s in scripts)
    for src in scripts + re.findall(r'href="(/[^"]+\.css)"', page):
        assert client.get(src).status_code == 200


def test_open_renders_tables_metrics_text_and_audit(opened):
    page, result = opened
    assert result["format"] == "pdf" and result["text"]
    # every cell of the layout, with its hook; Chinese labels from the template
    assert 'data-cell="applications.new_received.total" value="2"' in page
    assert page.count("data-cell=") == 6 * 1 + 2 * 2 + 4 + 25 * 7 + 15 - 4  # (table 2: 3+3+1+1+1+1 = 10)
    assert "一、本年新收政府信息公开申请数量" in page and "法人或其他组织" in page and "本年制发件数" in page
    for i, _ in enumerate(result["metrics"]):
        assert f'data-metric="{i}"' in page
    # the text is cut at every figure: the figure's span is whole elements
    start, end = result["provenance"]["applications.new_received.total"]
    assert f'data-s="{start}" data-e="{end}"' in page
    assert 'class="sec" data-section-key="applications"' in page


def test_pages_come_from_the_extractions_locations(opened):
    """A PDF figure's page is the extraction's own (``locations``, a metric's ``location``):
    the value of applications.new_received.total is on page 2 of the fixture."""
    page, result = opened
    key = "applications.new_received.total"
    location = result["locations"][key]
    assert location["page"] == 2 and location["confidence"] is None  # a text layer: no OCR confidence
    start, end = result["provenance"][key]
    assert re.search(rf'<span data-s="{start}" data-e="{end}"[^>]* data-page="2"[ >]', page)
    assert f'data-cell="{key}"' in page and f'title="{key} · 第2页"' in page
    assert "data-conf=" not in page and 'class="ocr-sum"' not in page  # nothing was read by OCR
    # a metric: the page of its location, beside its span in the metrics table and in the text
    metric = next(m for m in result["metrics"] if m["location"])
    i = result["metrics"].index(metric)
    row = re.search(rf'<tr class="metric[^"]*" data-metric="{i}">.*?</tr>', page).group(0)
    assert f'{metric["start"]}–{metric["end"]} · 第{metric["location"]["page"]}页' in row
    pieces = re.findall(rf'<span data-s="(\d+)" data-e="(\d+)"[^>]* data-m="{i}"[^>]*>', page)
    assert pieces and all(f'data-page="{metric["location"]["page"]}"' in p for p in
                          re.findall(rf'<span [^>]* data-m="{i}"[^>]*>', page))
    # text outside every figure and metric says no page
    assert re.search(r'<span data-s="0" data-e="\d+"[^>]*>', page).group(0).count("data-page") == 0


def test_plain_text_has_no_pages(client):
    page = client.post("/review/open", files={"file": ("seed.txt", SEED_TEXT.encode())}).text
    assert 'data-cell="applications.new_received.total"' in page
    assert "data-page=" not in page and "第" + "2页" not in page


def test_ocr_flags_and_locations_are_marked(opened):
    """Cells OCR was unsure of and cells it repaired get their own marks and tooltips;
    a figure's OCR confidence is shown beside its page (rendered from the extraction alone)."""
    from service.review_view import render_report

    _, result = opened
    ocr = copy.deepcopy(result)
    ocr["format"] = "image"
    for loc in ocr["locations"].values():
        loc["confidence"] = 0.97
    low, fixed = "applications.granted.natural_person", "applications.new_received.total"
    ocr["locations"][low]["confidence"] = 0.62
    ocr["cell_flags"] = [
        {"cell": low, "raw": "8", "reason": "low_confidence", "candidates": [3, 6], "confidence": 0.62},
        {"cell": fixed, "raw": "7", "reason": "ocr_repaired", "candidates": [2], "confidence": 0.55},
    ]
    page = render_report(ocr, can_save=True)
    cell = re.search(rf'<input class="([^"]*)" data-cell="{low}"[^>]* title="([^"]*)"', page)
    assert "flag-low_confidence" in cell.group(1).split() and "flag" not in cell.group(1).split()
    assert cell.group(2) == f"{low} · 第2页 · OCR 置信度 0.62 · OCR 把握不大（置信度 0.62）：识别为「8」，也可能是 3 / 6"
    cell = re.search(rf'<input class="([^"]*)" data-cell="{fixed}"[^>]* title="([^"]*)"', page)
    assert "flag-ocr_repaired" in cell.group(1).split()
    assert "印作「7」，修复为 2" in cell.group(2)
    assert 'class="ocr-sum"' in page and '<span class="key key-low">1</span>' in page
    start, end = result["provenance"][low]
    assert re.search(rf'<span data-s="{start}" data-e="{end}"[^>]* data-page="2" data-conf="0.62"', page)


def test_failed_checks_come_first(client):
    start, end = json.loads(client.post("/v1/extract", json={"text": SEED_TEXT}).text)["provenance"][
        "applications.new_received.total"]
    broken = SEED_TEXT[:start] + "9" + SEED_TEXT[end:]
    page = client.post("/review/open", files={"file": ("broken.txt", broken.encode())}).text
    audit = page[page.index('<section id="audit">'):page.index("</section>", page.index('<section id="audit">'))]
    classes = re.findall(r'<li class="check (\w+)"', audit)
    assert classes[0] == "fail" and "applications.balance" in audit
    assert classes == sorted(classes, key=["fail", "unknown", "pass"].index)


def test_report_text_is_escaped(client):
    response = client.post("/review/open", files={"file": ("x.txt", xss_report().encode())})
    assert response.status_code == 200, response.text
    page = response.text
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert "<" not in data.group(1) and ">" not in data.group(1)  # (the JSON cannot close its element)
    assert _embedded(page)["text"] == xss_report()
    markup = page.replace(data.group(0), "")
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in markup
    assert "<script" not in markup and "<img" not in markup and "onerror=\"" not in markup


def test_upload_limit_and_bad_input(client):
    too_big = b"x" * (1024 * 1024 + 10)
    response = client.post("/review/open", files={"file": ("big.txt", too_big)})
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    response = client.post("/review/open", files={"file": ("a.bin", b"\x00\x01\x02" * 100)})
    assert response.status_code in (415, 422)


# --- saving ---------------------------------------------------------------------------

def test_save_writes_a_pair_corpus_check_accepts(client, corpus_dir, opened):
    _, result = opened
    correction = _correction(result)
    correction["tables"]["applications"]["new_received"]["total"] = 7
    response = client.post("/review/save", json=correction)
    assert response.status_code == 200, response.text
    saved = response.json()
    name = annotation_name(result["text"])
    assert saved == {"id": name, "text": f"{name}.txt", "gold": f"{name}.gold.json", "updated": False}
    assert (corpus_dir / f"{name}.txt").read_text(encoding="utf-8") == result["text"]
    gold = json.loads((corpus_dir / f"{name}.gold.json").read_text(encoding="utf-8"))
    assert set(gold) == {"layout", "sections", "tables", "metrics"}  # the corpus's gold shape
    assert gold["tables"]["applications"]["new_received"]["total"] == 7
    assert all("confidence" not in m for m in gold["metrics"])
    assert all(("channel" in m) == (m["type"] == "published_items") for m in gold["metrics"])
    assert check_corpus(corpus_dir) == []
    assert [r.id for r in load_corpus(corpus_dir)] == [name]  # what govreport train reads
    cli = subprocess.run([sys.executable, "-m", "service.cli", "corpus", "check", str(corpus_dir)],
                         capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 0 and "ok: 1 annotated reports" in cli.stdout

    # saving again updates the same pair, never a second one
    correction["tables"]["applications"]["new_received"]["total"] = 8
    again = client.post("/review/save", json=correction).json()
    assert again["id"] == name and again["updated"] is True
    assert sorted(p.name for p in corpus_dir.iterdir()) == [f"{name}.gold.json", f"{name}.txt"]
    gold = json.loads((corpus_dir / f"{name}.gold.json").read_text(encoding="utf-8"))
    assert gold["tables"]["applications"]["new_received"]["total"] == 8


def test_save_refuses_an_invalid_annotation(client, corpus_dir, opened):
    _, result = opened
    before = sorted(corpus_dir.iterdir())
    correction = _correction(result)
    correction["tables"]["applications"]["new_received"]["total"] = "many"
    correction["metrics"][0]["value"] = 123456789
    response = client.post("/review/save", json=correction)
    assert response.status_code == 422
    problems = " ".join(response.json()["problems"])
    assert "new_received.total" in problems and "metrics[0].value" in problems
    # a text the corpus would read back differently (as HTML) is refused too
    html = dict(correction, text="<html><body>" + result["text"], metrics=[], sections=[], tables={})
    assert client.post("/review/save", json=html).status_code == 422
    assert sorted(corpus_dir.iterdir()) == before


def test_save_takes_no_file_name(client, corpus_dir, opened):
    """No traversal: a crafted name is refused, and an upload's own name is never used."""
    _, result = opened
    before = sorted(corpus_dir.iterdir())
    for extra in ({"name": "../../evil"}, {"filename": "../evil.txt"}, {"path": "/tmp/evil"}):
        response = client.post("/review/save", json={**_correction(result), **extra})
        assert response.status_code == 422, extra
    assert sorted(corpus_dir.iterdir()) == before
    # a report uploaded under a crafted name is saved under its text's hash, inside the folder
    crafted = "../../../../tmp/evil_review.txt"
    page = client.post("/review/open", files={"file": (crafted, SEED_TEXT.encode())}).text
    saved = client.post("/review/save", json=_correction(_embedded(page))).json()
    assert saved["id"] == annotation_name(SEED_TEXT)
    assert (corpus_dir / saved["gold"]).is_file() and not Path("/tmp/evil_review.txt").exists()
    assert all(p.parent == corpus_dir for p in corpus_dir.iterdir())


def test_save_is_off_without_a_corpus_dir():
    with TestClient(create_app(Settings(timeout_s=120)), raise_server_exceptions=False) as c:
        assert 'data-save="0"' in c.get("/").text
        response = c.post("/review/save", json={"text": SEED_TEXT})
        assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_save_takes_the_admin_token(tmp_path, opened):
    _, result = opened
    app = create_app(Settings(timeout_s=120, corpus_dir=str(tmp_path), admin_token=TOKEN))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert 'data-token="1"' in c.get("/").text
        correction = _correction(result)
        assert c.post("/review/save", json=correction).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert c.post("/review/save", json=correction, headers=wrong).status_code == 403
        assert list(tmp_path.iterdir()) == []
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert c.post("/review/save", json=correction, headers=right).status_code == 200
        assert len(list(tmp_path.iterdir())) == 2


# --- the archive ----------------------------------------------------------------------

def test_store_and_agency_view(tmp_path):
    """With --db: the store's list (filtered), a stored report, an agency's years."""
    from service import batch

    db = tmp_path / "a.duckdb"
    batch.run([str(ROOT / "tests" / "fixtures" / "agency_years")], db, jobs=1)
    app = create_app(Settings(timeout_s=120, db=str(db)))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert 'id="store-form"' in c.get("/").text
        listing = c.get("/review/store").text
        ids = re.findall(r'data-report="(\d+)"', listing)
        agencies = set(re.findall(r'data-agency="([^"]+)"', listing))
        assert len(ids) == 3 and len(agencies) == 1
        year = re.findall(r"<td>(\d{4})</td>", listing)[0]
        assert len(re.findall(r'data-report="', c.get(f"/review/store?year={year}").text)) == 1
        report = c.get(f"/review/stored/{ids[0]}")
        assert report.status_code == 200 and 'data-cell="applications.new_received.total"' in report.text
        assert 'id="text" class="text" lang="zh"' in report.text  # read again from its file: with its text
        view = c.get("/review/agency", params={"agency": agencies.pop()}).text
        assert "cross_year.carried" in view and view.index('class="check fail"') < view.index('class="check pass"')
        assert c.get("/review/stored/999999").status_code == 404
    with TestClient(create_app(Settings(timeout_s=120)), raise_server_exceptions=False) as c:
        assert c.get("/review/store").status_code == 404

"""Scanned reports read by OCR: image-only PDFs, PDFs with some scanned pages, sets of
page images, blank and non-report images, and misread digits caught by the 勾稽关系.

The scans are made here from a PDF fixture (``training.scans``: rendered, turned,
blurred, JPEG-compressed), so nothing large is committed; the gold is the corpus's.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from service import ingest
from service.ingest import scan
from service.pipeline import extract, extract_document
from service.types import Document, ExtractionError, Glyph
from training.scans import render_variant, score

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "000_62418b5d58b13a7d.pdf"
GOLD = json.loads((ROOT / "corpus" / "000_62418b5d58b13a7d.gold.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scanned():
    """The fixture report scanned at 200 dpi: an image-only PDF and its PNG pages."""
    return render_variant(FIXTURE.read_bytes(), FIXTURE.stem, 200)


@pytest.fixture(scope="module")
def from_pdf(scanned):
    return extract(scanned.pdf)


@pytest.fixture(scope="module")
def from_pages(scanned):
    return extract(scanned.pages)


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_only_pdf_reads_like_its_text_layer(from_pdf):
    scores = score(GOLD, from_pdf)
    assert scores["sections"].f1 == 1.0
    assert scores["cells"].f1 >= 0.98 and scores["cells"].precision == 1.0
    assert scores["metrics"].f1 >= 0.95
    assert from_pdf["tables"]["applications"]["new_received"]["total"] == 2
    assert from_pdf["tables"]["active_disclosure"]["licensing"]["decisions"] == 2638
    assert "3 of 3 pages were read by OCR (no text layer)" in from_pdf["warnings"]


def test_every_value_read_by_ocr_has_its_page_box_and_confidence(from_pdf):
    assert set(from_pdf["locations"]) == set(from_pdf["provenance"])
    for key, location in from_pdf["locations"].items():
        x0, top, x1, bottom = location["bbox"]
        assert 1 <= location["page"] <= 3 and 0 <= x0 < x1 <= 595.5 and 0 <= top < bottom <= 842.5, key
        assert 0 < location["confidence"] <= 1
    # the new applications total is printed on the second page, in table 3's first data row
    assert from_pdf["locations"]["applications.new_received.total"]["page"] == 2
    portal = next(m for m in from_pdf["metrics"] if m.get("channel") == "portal")
    assert portal["location"]["page"] == 1 and portal["value"] == 395


def test_page_images_are_one_report_in_order(from_pdf, from_pages):
    assert from_pages["format"] == "image"
    assert score(GOLD, from_pages)["cells"].f1 >= 0.98
    assert from_pages["tables"]["applications"]["new_received"]["total"] == 2
    # boxes are in the image's own pixels (a 200 dpi A4 page is 1654 × 2339)
    box = from_pages["locations"]["applications.new_received.total"]["bbox"]
    assert box[2] <= 1654 and box[3] <= 2339 and box[2] > 595


def test_a_pdf_with_one_scanned_page_reads_the_others_from_their_text(scanned):
    import pypdfium2

    text_layer = pypdfium2.PdfDocument(FIXTURE.read_bytes())
    images = pypdfium2.PdfDocument(scanned.pdf)
    mixed = pypdfium2.PdfDocument.new()
    mixed.import_pages(text_layer, [0, 1])
    mixed.import_pages(images, [2])
    buffer = io.BytesIO()
    mixed.save(buffer)
    result = extract(buffer.getvalue())
    assert "1 of 3 pages were read by OCR (no text layer)" in result["warnings"]
    assert score(GOLD, result)["cells"].f1 >= 0.98
    # a figure from the text layer has no OCR confidence; one from the scanned page has
    assert result["locations"]["applications.new_received.total"]["confidence"] is None
    pending = result["locations"]["review_litigation.review.total"]
    assert pending["page"] == 3 and pending["confidence"] is not None


def test_a_blank_scan_is_refused_with_its_reason():
    white = np.full((1100, 800), 255, dtype=np.uint8)
    with pytest.raises(ExtractionError) as info:
        ingest.read(_png(white))
    assert info.value.code == "blank_scan"


def test_an_image_that_is_no_report_is_refused():
    import cv2

    picture = np.full((900, 1200), 255, dtype=np.uint8)
    cv2.putText(picture, "Holiday 2024", (100, 300), cv2.FONT_HERSHEY_SIMPLEX, 3, 0, 6)
    cv2.circle(picture, (800, 600), 150, 80, -1)
    with pytest.raises(ExtractionError) as info:
        extract(_png(picture))
    assert info.value.code == "not_a_report"


def test_a_set_of_pages_must_be_images():
    with pytest.raises(ExtractionError) as info:
        ingest.read([_png(np.full((50, 50), 255, dtype=np.uint8)), "报告".encode()])
    assert info.value.code == "unsupported_type" and "page 2" in info.value.detail


def test_deskew_finds_the_turn_of_a_page():
    import cv2

    page = np.full((1200, 900), 255, dtype=np.uint8)
    for y in range(100, 1100, 40):
        cv2.line(page, (80, y), (820, y), 0, 3)
    turned = cv2.warpAffine(page, cv2.getRotationMatrix2D((450, 600), 1.5, 1.0), (900, 1200), borderValue=255)
    _, angle = scan.deskew(turned)
    assert abs(angle + 1.5) <= 0.15


def test_ruling_lines_make_cells_and_tight_digits_do_not():
    import cv2

    page = np.full((400, 700), 255, dtype=np.uint8)
    for y in (50, 90, 130, 170):
        cv2.line(page, (50, y), (650, y), 0, 2)
    for x in (50, 250, 450, 650):
        cv2.line(page, (x, 50), (x, 170), 0, 2)
    # a "1" drawn as tall as its cell, between the rules: a stroke, not a rule
    cv2.line(page, (350, 54), (350, 86), 0, 3)
    tables = scan.ruled_tables(scan._ink(page), 200.0, boxes=[(330, 52, 370, 88)])
    assert len(tables) == 1 and len(tables[0].cells) == 9


def _seed_document_with_a_misread(digit_read: str, alternative: str, confidence: float):
    """The seed report as an OCR'd document whose new_received natural-person figure (2)
    was read as ``digit_read``, with ``alternative`` as the runner-up."""
    from service.pipeline import get_models

    text = (ROOT / "corpus" / "000_62418b5d58b13a7d.txt").read_text(encoding="utf-8")
    clean = extract(text)
    start, end = clean["provenance"]["applications.new_received.natural_person"]
    assert text[start:end] == "2"
    misread = text[:start] + digit_read + text[end:]
    glyphs = {i: Glyph(1, (0, 0, 1, 1), 0.99) for i, ch in enumerate(misread) if not ch.isspace()}
    glyphs[start] = Glyph(2, (100.0, 200.0, 110.0, 215.0), confidence, alternative, 0.3)
    doc = Document(text=misread, format="image", glyphs=glyphs)
    return extract_document(doc, get_models()), start


def test_a_misread_digit_that_one_runner_up_fixes_is_repaired_and_flagged():
    result, _ = _seed_document_with_a_misread("8", "2", 0.55)
    assert result.tables["applications"]["new_received"]["natural_person"] == 2
    flag = next(f for f in result.cell_flags if f.cell == "applications.new_received.natural_person")
    assert flag.reason == "ocr_repaired" and flag.raw == "8" and flag.candidates == [2]
    assert not [c for c in result.checks if c.ok is False and not c.rule.startswith("narrative.")]


def test_a_misread_that_no_runner_up_fixes_is_flagged_and_named():
    result, _ = _seed_document_with_a_misread("8", "3", 0.55)
    assert result.tables["applications"]["new_received"]["natural_person"] == 8  # as read, not guessed
    flag = next(f for f in result.cell_flags if f.cell == "applications.new_received.natural_person")
    assert flag.reason == "low_confidence" and flag.candidates == [3]
    failed = [c for c in result.checks if c.ok is False and "applications.new_received.natural_person" in c.cells]
    assert failed and all("least sure OCR reading: applications.new_received.natural_person" in c.detail
                          for c in failed if not c.rule.startswith("narrative."))


def test_a_digit_painted_over_in_a_scan_is_flagged_never_silently_wrong(scanned, from_pages):
    """A figure of table 3 whose printed digit is replaced in the page image: the
    reading must be repaired to the original or the cell flagged (by a failed check or
    a cell flag)."""
    import cv2
    from PIL import Image

    key = "applications.new_received.natural_person"
    location = from_pages["locations"][key]
    page = np.array(Image.open(io.BytesIO(scanned.pages[location["page"] - 1])).convert("L"))
    x0, top, x1, bottom = (int(v) for v in location["bbox"])
    page[top:bottom, x0:x1] = 255
    cv2.putText(page, "7", (x0 + 2, bottom - 6), cv2.FONT_HERSHEY_SIMPLEX, (bottom - top) / 32, 0, 2)
    pages = list(scanned.pages)
    pages[location["page"] - 1] = _png(page)
    result = extract(pages)
    value = result["tables"]["applications"]["new_received"]["natural_person"]
    flagged = ({f["cell"] for f in result["cell_flags"]}
               | {c for check in result["checks"] if check["ok"] is False for c in check["cells"]})
    assert value == 2 or key in flagged


def test_the_http_service_takes_page_images_as_one_report(scanned, from_pages):
    from fastapi.testclient import TestClient

    from service.api import Settings, create_app

    with TestClient(create_app(Settings(max_upload_mb=20, timeout_s=120)), raise_server_exceptions=False) as client:
        files = [("file", (f"page{n}.png", data, "image/png")) for n, data in enumerate(scanned.pages, start=1)]
        answer = client.post("/v1/extract", files=files)
        assert answer.status_code == 200, answer.text
        assert answer.json()["tables"] == from_pages["tables"]
        blank = client.post("/v1/extract", files={"file": ("white.png", _png(np.full((600, 400), 255, np.uint8)))})
        assert blank.status_code == 422 and blank.json()["error"] == "blank_scan"
        mixed = client.post("/v1/extract", files=[("file", ("a.png", scanned.pages[0])), ("file", ("b.txt", b"x"))])
        assert mixed.status_code == 415 and "page 2" in mixed.json()["detail"]


def test_the_command_line_reads_a_set_of_page_images(scanned, tmp_path):
    import subprocess
    import sys

    paths = []
    for n, data in enumerate(scanned.pages, start=1):
        path = tmp_path / f"page{n}.png"
        path.write_bytes(data)
        paths.append(str(path))
    done = subprocess.run([sys.executable, "-m", "service.cli", "extract", "--pages", *paths],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["source"] == paths and result["format"] == "image"
    assert result["tables"]["applications"]["new_received"]["total"] == 2


def test_a_multi_page_tiff_is_one_report(scanned, from_pages):
    from PIL import Image

    frames = [Image.open(io.BytesIO(page)) for page in scanned.pages]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    result = extract(buffer.getvalue())
    assert result["format"] == "image" and "3 page image(s) read by OCR" in result["warnings"]
    assert result["tables"] == from_pages["tables"]


def test_an_image_declaring_huge_dimensions_is_refused_before_decoding():
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)  # 10 gigapixels, grey
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
    with pytest.raises(ExtractionError) as info:
        ingest.read(bomb)
    assert info.value.code == "too_large"

"""Hostile documents: small crafted files that asked for gigabytes or minutes are
stopped by the budget where the cost arises (``service.budget``), with a clear code;
odd but honest inputs (NUL bytes, UTF-16 without a BOM, deep nesting) are read or
refused with their own reason.  Every input is generated here, a few kilobytes each.
"""

from __future__ import annotations

import pytest

from service import ingest
from service.budget import Budget
from service.pipeline import read_report
from service.types import ExtractionError
from training import hostile

from .conftest import CORPUS

SEED = CORPUS / "000_62418b5d58b13a7d.txt"


def _code(source, budget: Budget | None = None) -> str:
    with pytest.raises(ExtractionError) as info:
        ingest.read(source, budget=budget or Budget())
    return info.value.code


# --- HTML --------------------------------------------------------------------------------

def test_html_spans_asking_for_millions_of_cells_are_too_complex():
    page = hostile.html_spans(200)
    assert len(page) < 10_000
    with pytest.raises(ExtractionError) as info:
        ingest.read(page)
    assert info.value.code == "too_complex"
    assert "table cells" in info.value.detail and "GOVREPORT_MAX_CELLS" in info.value.detail


def test_a_colspan_beyond_the_table_is_clamped_to_it():
    page = ('<html><body><p>一、总体情况</p><table><tr><td colspan="1000000">申请人情况</td></tr>'
            "<tr><td>规章</td><td>1</td><td>2</td></tr></table></body></html>").encode()
    doc = ingest.read(page)
    assert max(len(row) for t in doc.tables for row in t.rows) == 3


def test_html_nested_deeper_than_the_budget_is_refused_with_its_reason():
    page = hostile.html_nested(300)
    with pytest.raises(ExtractionError) as info:
        ingest.read(page)
    assert info.value.code == "too_complex" and "nesting" in info.value.detail
    # within the budget the same page is read, its text found
    assert "公开信息 12 条" in ingest.read(page, budget=Budget(depth=400)).text


# --- DOCX --------------------------------------------------------------------------------

def _docx(build) -> bytes:
    return hostile._docx(build)


def test_docx_grid_span_of_a_million_is_clamped_to_the_table_grid():
    doc = ingest.read(hostile.docx_grid_span(1_000_000))
    assert max(len(row) for t in doc.tables for row in t.rows) == 3


def test_docx_tables_nested_40_deep_are_read_once_each():
    doc = ingest.read(hostile.docx_nested(40))
    for level in range(40):
        assert doc.text.count(f"第{level}层") == 1  # (each level used to double the work)
    assert doc.text.count("最里层") == 1
    with pytest.raises(ExtractionError) as info:
        ingest.read(hostile.docx_nested(40), budget=Budget(depth=10))
    assert info.value.code == "too_complex"


def test_a_zip_bomb_whose_headers_understate_its_size_is_stopped_early():
    bomb = hostile.docx_lying_zip(50 * 1024 * 1024)
    assert len(bomb) < 100_000
    assert _code(bomb) == "docx_corrupt"  # the CRC fails after the stated 1000 bytes


def test_a_docx_that_inflates_past_the_budget_is_too_large():
    def build(document):
        for _ in range(200):
            document.add_paragraph("本机关依法做好政府信息公开工作。" * 20)

    data = _docx(build)
    assert _code(data, Budget(unpacked_mb=0.1)) == "too_large"
    assert ingest.read(data).text  # the default budget reads it


def test_too_many_paragraphs_are_too_long():
    def build(document):
        for i in range(2000):
            document.add_paragraph(str(i))

    assert _code(_docx(build), Budget(paragraphs=1000)) == "too_long"


def test_too_many_characters_are_too_long_whatever_the_format():
    text = SEED.read_text(encoding="utf-8")
    assert _code(text, Budget(chars=1000)) == "too_long"
    assert _code(text.encode("utf-8"), Budget(chars=1000)) == "too_long"


# --- odd but honest text -------------------------------------------------------------------

def test_nul_bytes_inside_a_table_row_are_removed_with_a_warning():
    text = SEED.read_text(encoding="utf-8")
    clean, dirty = read_report(text.encode()), read_report(hostile.nul_row())
    assert dirty.tables == clean.tables
    assert any("NUL" in w for w in dirty.warnings)


def test_utf16_without_a_byte_order_mark_is_read():
    text = SEED.read_text(encoding="utf-8")
    for codec in ("utf-16-le", "utf-16-be"):
        assert ingest.read(text.encode(codec)).text == text


def test_budget_from_the_environment():
    budget = Budget.from_env({"GOVREPORT_MAX_CELLS": "500", "GOVREPORT_MAX_UNPACKED_MB": "2.5"})
    assert budget.cells == 500 and budget.unpacked_mb == 2.5 and budget.chars == Budget().chars
    with pytest.raises(ValueError, match="GOVREPORT_MAX_CELLS"):
        Budget.from_env({"GOVREPORT_MAX_CELLS": "many"})

"""The data passed between pipeline stages, defined once.

``Document`` (and its ``SourceTable``/``Cell``) is internal: what ingestion
hands to the later stages.  The pydantic models below it are the public shape
of one extraction (the spec's JSON), shared by ``service.extract``, the HTTP API
(and so its OpenAPI schema), the CLI and the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

# --- internal: the ingested document ---------------------------------------


@dataclass(frozen=True)
class Cell:
    """One table cell as the source format gave it; offsets index ``Document.text``."""

    text: str
    start: int
    end: int


@dataclass
class SourceTable:
    """A table whose cells the format delimits (HTML, DOCX, PDF ruling lines).

    ``rows`` is the grid after merged cells are expanded: a cell spanning two
    columns appears in both, ``spanned`` marks the copies.
    """

    rows: list[list[Cell]]
    start: int
    end: int
    spanned: set[tuple[int, int]] = field(default_factory=set)


@dataclass(frozen=True)
class Glyph:
    """Where a character of ``Document.text`` stands on the page it was read from.

    ``bbox`` is (x0, top, x1, bottom): PDF points from the page's top-left corner for
    a PDF, pixels of the image for an uploaded image.  ``confidence`` and the runner-up
    ``alternative`` are OCR's (None and '' for a PDF's text layer)."""

    page: int
    bbox: tuple[float, float, float, float]
    confidence: float | None = None
    alternative: str = ""
    alternative_confidence: float = 0.0


@dataclass
class Document:
    """Text derived from the input plus whatever structure the format carried.

    Every offset anywhere in an extraction indexes ``text``.  For plain text it
    is the decoded input itself; for HTML/DOCX/PDF it is the text the ingester
    rendered (tables rendered one row per line, cells separated by tabs).
    """

    text: str
    format: str = "txt"
    tables: list[SourceTable] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What the file says of itself outside its text: ``title`` (HTML, PDF, DOCX) and
    #: ``date`` (YYYY-MM-DD, an HTML page's declared publication date).
    metadata: dict[str, str] = field(default_factory=dict)
    #: For a PDF or a scan: text offset -> where that character stands on its page.
    glyphs: dict[int, Glyph] = field(default_factory=dict, repr=False)

    @property
    def read_by_ocr(self) -> bool:
        """Whether any of the text was read by OCR (its glyphs carry a confidence)."""
        return any(g.confidence is not None for g in self.glyphs.values())


# --- public: one extraction --------------------------------------------------

CellValue = int | float | str | None


class Section(BaseModel):
    key: str = Field(description="Canonical section key (preamble, overview, …)")
    heading: str = Field(description="The heading text as it appears ('' for preamble)")
    start: int = Field(description="Offset of the heading's first non-space character")
    end: int = Field(description="Offset where the next section starts, or the text length")


class Location(BaseModel):
    """Where a figure stands on the page it was read from (scanned pages)."""

    page: int = Field(description="Page number, from 1")
    bbox: tuple[float, float, float, float] = Field(
        description="x0, top, x1, bottom: PDF points from the page's top-left corner for a PDF, "
                    "pixels of the image for an uploaded image")
    confidence: float | None = Field(default=None, description="OCR's confidence in the figure's "
                                                               "least sure character")


class Metric(BaseModel):
    type: str = Field(description="Metric type, see the spec's 'Prose metrics' table")
    channel: str | None = Field(default=None, description="Channel, for published_items")
    value: int | float
    unit: str = Field(default="", description="Unit as written (条, 篇, 件, 万元 …)")
    start: int
    end: int
    text: str = Field(description="source[start:end], the evidence")
    confidence: float | None = Field(default=None, description="The model's probability for this "
                                     "type (and channel); narrative checks use only confident figures")
    location: Location | None = Field(default=None, description="For scanned pages: where the "
                                                                "figure stands on its page")


class CellFlag(BaseModel):
    cell: str = Field(description="Dotted cell key: table.row.column")
    raw: str = Field(description="What the source shows ('' when blank); for OCR, the reading")
    reason: Literal["blank", "dash", "none_word", "unreadable", "ambiguous_split", "low_confidence",
                    "ocr_repaired"]
    candidates: list[int | float] | None = Field(
        default=None, description="For ambiguous_split: the values the cell may hold (digits "
                                  "glued in the source that the table's identities do not settle); "
                                  "for low_confidence: the readings OCR found next most likely")
    confidence: float | None = Field(default=None, description="For OCR flags: the recognition "
                                                               "confidence of the figure's least sure digit")


class UnrecognisedRow(BaseModel):
    table: str
    text: str
    start: int
    end: int


class Check(BaseModel):
    rule: str = Field(description="Stable dotted rule name, e.g. applications.balance")
    scope: str = Field(description="Column, row or group the rule was tested on")
    ok: bool | None = Field(description="true pass, false fail, null not evaluable")
    expected: float | None = None
    found: float | None = None
    detail: str = ""
    cells: list[str] = Field(default_factory=list, description="Dotted keys of the figures involved")
    spans: list[tuple[int, int]] = Field(default_factory=list,
                                         description="Source spans of the figures involved")


class AuditSummary(BaseModel):
    passed: int = 0
    failed: int = 0
    unknown: int = 0


TablesDict = dict[str, dict[str, dict[str, CellValue]]]


class TablesResult(BaseModel):
    """What the table stage returns: values plus how each was read."""

    layout: str = "2021"
    tables: TablesDict = Field(default_factory=dict)
    provenance: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="table.row.column -> [start, end] of the figure")
    cell_flags: list[CellFlag] = Field(default_factory=list)
    table_confidence: dict[str, float] = Field(default_factory=dict)
    unrecognised_rows: list[UnrecognisedRow] = Field(default_factory=list)
    locations: dict[str, Location] = Field(
        default_factory=dict, description="For scanned pages (OCR): table.row.column -> page, box "
                                          "and recognition confidence of the figure")


class Span(BaseModel):
    """Character offsets into the text as submitted."""

    start: int
    end: int


class ReportInfo(BaseModel):
    """Which report this is (``service.identity``); None where the report does not say."""

    agency: str | None = Field(default=None, description="The agency's name as the report writes it")
    agency_key: str | None = Field(default=None, description="The name normalised for grouping an "
                                                             "agency's reports (service.identity.agency_key)")
    year: int | None = Field(default=None, description="The reporting year (not the publication year)")
    title: str | None = None
    published: str | None = Field(default=None, description="Publication date, YYYY-MM-DD")
    spans: dict[str, Span] = Field(default_factory=dict, description="Where each field was read")


class Extraction(TablesResult):
    """One report, read: the spec's JSON shape plus provenance and audit."""

    report: ReportInfo = Field(default_factory=ReportInfo)
    sections: list[Section] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    audit: AuditSummary = Field(default_factory=AuditSummary)
    format: str = Field(default="txt", description="Input format as detected")
    warnings: list[str] = Field(default_factory=list)
    text: str | None = Field(default=None, description="The derived text, when asked for")


class ExtractionError(Exception):
    """A document that cannot be read as a report; ``code`` is stable, ``detail`` readable."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

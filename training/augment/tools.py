"""The same report as the tools users pass its file through hand it to us.

``shapes`` imitates a text that lost its layout; this module runs the real tools over
the report's own file where the corpus has it: a web page's text as lxml's
``text_content()`` gives it (inline and block elements run together), with a line
break per element (BeautifulSoup's ``get_text("\\n", strip=True)``: labels broken at
every tag, empty cells gone) and as a browser copies it (headless Chromium's
``innerText``: each cell's paragraph between blank lines, tabs between cells); a PDF's
text as pdfplumber extracts it, plain and layout-preserving, and as poppler's
``pdftotext`` gives it (raw: a table's labels, then its figures column by column; and
``-layout``).  Chromium and pdftotext are programs of the machine (the README's set-up
installs them); where one is missing its variants are not made.

A tool's text holds the annotated text's characters in another layout, so the gold
moves by aligning the two texts' non-whitespace characters.  A variant is made only
when every section start and every metric span lands on characters the alignment
matched; otherwise the figures would be learned (and scored) at the wrong place.

Where a report's file is: ``<annotation dir>/sources/<id>.<ext>`` (``../shared/real``
keeps its pages there), or the test fixtures rendered from the seeds.
"""

from __future__ import annotations

import copy
import io
from bisect import bisect_right
from dataclasses import replace
from difflib import SequenceMatcher
from pathlib import Path

from training.corpus import AnnotatedReport

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

#: The tools run over each kind of file.
TOOLS = {".html": ("lxml_text", "element_lines", "inner_text"),
         ".pdf": ("pdfplumber", "pdfplumber_layout", "poppler", "poppler_layout")}
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def available(tool: str) -> bool:
    """Whether this machine has the program ``tool`` needs."""
    import shutil

    if tool.startswith("poppler"):
        return shutil.which("pdftotext") is not None
    if tool == "inner_text":
        import importlib.util

        return (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()
                and importlib.util.find_spec("selenium") is not None)
    return True


def source_files(report: AnnotatedReport) -> list[Path]:
    """The report's own files the tools can read (none for a report without one)."""
    base = report.id.split("~")[0]
    places = [FIXTURES]
    if report.path is not None:
        places.insert(0, report.path.parent / "sources")
    found = []
    for ext in TOOLS:
        for place in places:
            if (place / f"{base}{ext}").is_file():
                found.append(place / f"{base}{ext}")
                break
    return found


def tool_text(path: Path, tool: str) -> str:
    """The text ``tool`` makes of the file at ``path``."""
    if tool.startswith("poppler"):
        import subprocess

        layout = ["-layout"] if tool == "poppler_layout" else []
        return subprocess.run(["pdftotext", "-enc", "UTF-8", *layout, str(path), "-"], capture_output=True,
                              check=True, timeout=60).stdout.decode("utf-8")
    if tool == "inner_text":
        browser = _browser()
        browser.get(path.resolve().as_uri())
        return browser.execute_script("return document.body.innerText")
    if tool in ("lxml_text", "element_lines"):
        import lxml.html

        tree = lxml.html.fromstring(path.read_bytes())
        for junk in tree.xpath("//script|//style"):
            junk.drop_tree()
        if tool == "lxml_text":
            return tree.text_content()
        return "\n".join(s.strip() for s in tree.itertext() if s.strip())
    import pdfplumber

    with pdfplumber.open(io.BytesIO(path.read_bytes())) as pdf:
        layout = tool == "pdfplumber_layout"
        return "\n".join(page.extract_text(layout=layout) or "" for page in pdf.pages)


_browsers: list = []


def _browser():
    """One headless Chromium for the process (started on first use, quit at exit)."""
    if not _browsers:
        import atexit
        import os

        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        os.environ.setdefault("SE_OFFLINE", "true")  # (Selenium Manager must not look online)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
            options.add_argument(arg)
        _browsers.append(webdriver.Chrome(service=Service(CHROMEDRIVER), options=options))
        atexit.register(_browsers[0].quit)
    return _browsers[0]


class _Alignment:
    """Offsets of one text mapped into another holding the same characters in another
    layout: their non-whitespace characters aligned, matched runs only."""

    def __init__(self, source: str, target: str):
        self.source_at = [i for i, ch in enumerate(source) if not ch.isspace()]
        self.target_at = [i for i, ch in enumerate(target) if not ch.isspace()]
        a = "".join(source[i] for i in self.source_at)
        b = "".join(target[i] for i in self.target_at)
        self.blocks = [blk for blk in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
                       if blk.size]
        self.starts = [blk.a for blk in self.blocks]

    def char(self, offset: int) -> int | None:
        """Where the source's character at ``offset`` (not a space) is in the target,
        None where the alignment did not match it."""
        k = bisect_right(self.source_at, offset) - 1
        if k < 0 or self.source_at[k] != offset:
            return None
        b = bisect_right(self.starts, k) - 1
        if b < 0 or k >= self.blocks[b].a + self.blocks[b].size:
            return None
        return self.target_at[self.blocks[b].b + k - self.blocks[b].a]

    def span(self, source: str, start: int, end: int) -> tuple[int, int] | None:
        """A span of the source, by its first and last non-space characters."""
        while start < end and source[start].isspace():
            start += 1
        while end > start and source[end - 1].isspace():
            end -= 1
        if start == end:
            return None
        first, last = self.char(start), self.char(end - 1)
        if first is None or last is None or last < first:
            return None
        return first, last + 1


def transfer(report: AnnotatedReport, text: str, suffix: str) -> AnnotatedReport | None:
    """``report`` with ``text`` for its text and its gold moved onto it, or None where
    a section start or a metric span does not land on matched characters."""
    align = _Alignment(report.text, text)
    gold = copy.deepcopy(report.gold)
    sections = gold.get("sections", [])
    starts: list[int | None] = []
    for sec in sections:
        if sec["end"] <= sec["start"]:
            starts.append(None)  # an empty section (no preamble): placed below
        elif sec["start"] == 0:
            starts.append(0)  # the text's start, whatever a page puts before the report
        else:
            span = align.span(report.text, sec["start"], sec["start"] + max(1, len(sec.get("heading", ""))))
            if span is None:
                return None
            starts.append(span[0])
            if sec.get("heading"):  # the heading as the tool prints it (三、收到和处理\n政府…)
                sec["heading"] = text[span[0]:span[1]]
    known = [s for s in starts if s is not None]
    if known != sorted(known):
        return None
    for i, sec in enumerate(sections):
        if starts[i] is None:  # empty, where the next section starts
            at = next((s for s in starts[i + 1:] if s is not None), len(text))
            sec["start"] = sec["end"] = at
            continue
        sec["start"] = starts[i]
        sec["end"] = next((s for s in starts[i + 1:] if s is not None), len(text))
    for m in gold.get("metrics", []) or []:
        span = align.span(report.text, m["start"], m["end"])
        if span is None:
            return None
        m["start"], m["end"] = span
        m["text"] = text[span[0]:span[1]]
    gold.pop("provenance", None)
    return replace(report, id=f"{report.id}~{suffix}", text=text, gold=gold, path=None,
                   origin="tools", tags=[f"tool:{suffix}"])


_made: dict[tuple[str, int], list[AnnotatedReport]] = {}


def variants(report: AnnotatedReport) -> list[AnnotatedReport]:
    """The report as each tool gives it, for every file of it the corpus has (made
    once per report and process: every fold of a cross-validation asks again)."""
    key = (report.id, hash(report.text))
    if key not in _made:
        _made[key] = _variants(report)
    return list(_made[key])


def _variants(report: AnnotatedReport) -> list[AnnotatedReport]:
    out = []
    for path in source_files(report):
        for tool in TOOLS[path.suffix]:
            if not available(tool):
                continue
            try:
                text = tool_text(path, tool)
            except Exception:  # noqa: BLE001 - a file a tool cannot read gives no variant
                continue
            variant = transfer(report, text, tool) if text.strip() else None
            if variant is not None:
                out.append(variant)
    return out

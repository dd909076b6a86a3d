"""The review page (``GET /``): a report's figures in their place, corrected, saved as gold.

Routes only translate HTTP: a report is read by the same extraction as
``POST /v1/extract`` (``api.extract_request``: the upload limit, the extraction
processes, the time limit and the budgets), the page is rendered by
``service.review_view``, and a correction is written by ``save_annotation``.  Where
each figure stands (its page, and OCR's confidence) is the extraction's own
``locations``: nothing is read again here, and no work is done outside the
extraction processes.

- ``GET /`` the page; ``GET /review/static/{name}`` its one script and style sheet;
- ``POST /review/open`` a report (multipart ``file``, as ``/v1/extract``; several ``file``
  fields: the page images of one scanned report, in order) → the review;
- ``GET /review/store``, ``/review/stored/{id}``, ``/review/agency`` the archive
  (``govreport serve --db``): its reports, one of them, an agency's years side by side;
- ``POST /review/save`` a corrected annotation into ``--corpus-dir`` (404 without it;
  ``Authorization: Bearer $GOVREPORT_ADMIN_TOKEN`` when a token is configured).

A saved annotation is ``review_<hash>.txt`` (the derived text) beside
``review_<hash>.gold.json`` (the corpus's gold shape), named by the SHA-256 of the text
— never by an uploaded file's name — so saving the same report again overwrites the
same pair, and no name can lead outside the corpus directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import resources
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service import api, review_view

router = APIRouter(include_in_schema=False)

#: Served as they are, by name: nothing else under the package can be asked for.
STATIC_FILES = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8"}
#: The page runs only its own script and style: even a text that escaped escaping could run nothing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NAME_PREFIX = "review_"


def _static(name: str) -> str:
    return resources.files("service").joinpath("review_static", name).read_text(encoding="utf-8")


def _html(body: str) -> HTMLResponse:
    return HTMLResponse(body, headers=SECURITY_HEADERS)


def _settings(request: Request) -> api.Settings:
    return request.app.state.settings


# --- the page ---------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def page(request: Request) -> HTMLResponse:
    settings = _settings(request)
    flags = (f'data-save="{int(bool(settings.corpus_dir))}" data-token="{int(bool(settings.admin_token))}" '
             f'data-max-mb="{settings.max_upload_mb:g}"')
    store = _static("store.html") if settings.db else ""
    return _html(_static("index.html").replace("{{flags}}", flags).replace("{{store}}", store))


@router.get("/review/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise api.ApiError(404, "not_found", f"no static file {name!r}")
    return Response(_static(name), media_type=STATIC_FILES[name], headers={"X-Content-Type-Options": "nosniff"})


# --- opening a report -------------------------------------------------------------------

@router.post("/review/open", response_class=HTMLResponse)
async def open_report(request: Request) -> HTMLResponse:
    """An uploaded report (any format we read, or several page images of one scan),
    extracted as ``POST /v1/extract`` does."""
    raw, _ = await api.extract_request(request, include_text=True)
    return _html(review_view.render_report(json.loads(raw), can_save=bool(_settings(request).corpus_dir)))


def _archive(request: Request):
    from service import archive

    db = _settings(request).db
    if not db:
        raise api.ApiError(404, "not_found", "no archive is served (start with govreport serve --db FILE)")
    try:
        return archive.connect(db, create=False, read_only=True)
    except archive.ArchiveError as exc:
        raise api.ApiError(503, "archive_unavailable", str(exc)) from None


@router.get("/review/store", response_class=HTMLResponse)
def store(request: Request, agency: str | None = None, year: int | None = None) -> HTMLResponse:
    from service import archive

    con = _archive(request)
    try:
        reports = archive.list_reports(con, agency or None, year, 500)
    finally:
        con.close()
    return _html(review_view.render_store_list(reports))


@router.get("/review/stored/{report_id}", response_class=HTMLResponse)
async def stored(request: Request, report_id: int) -> HTMLResponse:
    """A stored report: read again from its file when that file is still there unchanged
    (so its text and spans can be shown), else the archive's figures alone."""
    from service import archive

    con = _archive(request)
    try:
        row = archive.load_report(con, report_id)
    finally:
        con.close()
    if row is None:
        raise api.ApiError(404, "not_found", f"no report {report_id} in the archive")
    settings = _settings(request)
    data = _unchanged_source(row, settings.max_upload_bytes)
    if data is None:
        result = {**row, "format": row.get("format"), "report": {k: row.get(k) for k in ("agency", "year", "title")},
                  "audit": {"passed": sum(c["ok"] is True for c in row["checks"]),
                            "failed": sum(c["ok"] is False for c in row["checks"]),
                            "unknown": sum(c["ok"] is None for c in row["checks"])}}
        note = f"存档报告 {report_id}：原文件 {row['source']} 已不在或已改变，只显示存档的数据。"
        return _html(review_view.render_report(result, can_save=False, note=note))
    raw = await api.extract_source(request, data, Path(row["source"]).name, include_text=True)
    result = json.loads(raw)
    note = (f"存档报告 {report_id}（{row['source']}），以当前模型重新读取"
            + (f"；存档时的模型版本 {row['models_version']}" if row.get("models_version") else "") + "。")
    return _html(review_view.render_report(result, can_save=bool(settings.corpus_dir), note=note))


def _unchanged_source(row: dict, limit: int) -> bytes | None:
    """The stored report's file, if it is still a regular file of the same SHA-256 within the limit."""
    try:
        path = Path(row["source"])
        if not path.is_file() or path.stat().st_size > limit:
            return None
        data = path.read_bytes()
    except (OSError, TypeError, ValueError):
        return None
    return data if hashlib.sha256(data).hexdigest() == row.get("sha256") else None


@router.get("/review/agency", response_class=HTMLResponse)
def agency(request: Request, agency: str) -> HTMLResponse:
    from service import archive
    from service.compare import compare

    _archive(request).close()
    try:
        agencies = compare(_settings(request).db, agency)
    except archive.ArchiveError as exc:
        raise api.ApiError(503, "archive_unavailable", str(exc)) from None
    return _html(review_view.render_agency(agencies))


# --- saving a correction ----------------------------------------------------------------

class Correction(BaseModel):
    """What the page sends: the derived text and the corrected annotation (gold shape)."""

    model_config = ConfigDict(extra="forbid")  # (no file name, path or anything else is taken)

    text: str = Field(min_length=1)
    layout: str = "2021"
    sections: list[dict] = Field(default_factory=list)
    tables: dict[str, dict[str, dict[str, int | float | str | None]]] = Field(default_factory=dict)
    metrics: list[dict] = Field(default_factory=list)


class AnnotationProblem(ValueError):
    """The correction is not a valid annotation; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def annotation_name(text: str) -> str:
    """The file stem of a report's annotation: from its text alone (the same text, the same name)."""
    return NAME_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def gold_of(correction: Correction) -> dict:
    """The annotation in the corpus's gold shape (``corpus/*.gold.json``): layout, sections,
    tables and metrics; a metric's evidence is read from the text, its channel kept only
    for published items, the model's confidence dropped."""
    text = correction.text
    metrics = []
    for m in correction.metrics:
        gold = {"type": m.get("type")}
        if m.get("type") == "published_items":
            gold["channel"] = m.get("channel")
        gold.update({"value": m.get("value"), "unit": m.get("unit") or "", "start": m.get("start"),
                     "end": m.get("end")})
        start, end = m.get("start"), m.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            gold["text"] = text[start:end]
        metrics.append(gold)
    sections = [{"key": s.get("key"), "heading": s.get("heading", ""), "start": s.get("start"), "end": s.get("end")}
                for s in correction.sections]
    return {"layout": correction.layout, "sections": sections, "tables": correction.tables, "metrics": metrics}


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` whole (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_annotation(corpus_dir: str | Path, correction: Correction) -> dict:
    """Write ``<name>.txt`` and ``<name>.gold.json`` into ``corpus_dir`` after checking them
    as ``govreport corpus check`` does; raises ``AnnotationProblem`` when they would not pass."""
    from service import ingest
    from training.corpus import GOLD_SUFFIX, validate

    text = correction.text
    name = annotation_name(text)
    data = text.encode("utf-8")
    # The corpus reads a .txt back through the ingester: it must give this very text
    # (a text that reads as HTML, or loses characters, would move every offset).
    try:
        again = ingest.read(data, filename=name + ".txt").text
    except Exception as exc:  # noqa: BLE001 - any failure to read back is a refusal
        raise AnnotationProblem([f"the text cannot be read back as a .txt file: {exc}"]) from exc
    if again != text:
        raise AnnotationProblem(["the text does not read back unchanged from a .txt file "
                                 "(it reads as HTML, or holds characters the reader removes)"])
    gold = gold_of(correction)
    problems = validate(gold, text, where=name + GOLD_SUFFIX)
    if problems:
        raise AnnotationProblem(problems)
    root = Path(corpus_dir).resolve()
    text_path, gold_path = root / (name + ".txt"), root / (name + GOLD_SUFFIX)
    if text_path.parent != root or gold_path.parent != root:  # (the name is a hash; kept as a guard)
        raise AnnotationProblem(["the annotation would be written outside the corpus directory"])
    updated = gold_path.exists()
    root.mkdir(parents=True, exist_ok=True)
    _write(text_path, data)
    _write(gold_path, (json.dumps(gold, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return {"id": name, "text": text_path.name, "gold": gold_path.name, "updated": updated}


def _authorise(request: Request, settings: api.Settings) -> None:
    if not settings.corpus_dir:
        raise api.ApiError(404, "not_found", "saving corrections is off (start with govreport serve --corpus-dir DIR)")
    token = settings.admin_token
    if token and not request.headers.get("authorization"):
        raise api.ApiError(401, "unauthorized", "saving needs 'Authorization: Bearer <GOVREPORT_ADMIN_TOKEN>'")
    if token and not api.bearer_matches(request, token):
        raise api.ApiError(403, "forbidden", "the admin token is not valid")


@router.post("/review/save")
async def save(request: Request) -> JSONResponse:
    """Save a corrected annotation into the corpus directory (the same text: the same files)."""
    settings = _settings(request)
    _authorise(request, settings)
    body = await api._read_body(request, settings.max_upload_bytes)
    try:
        correction = Correction.model_validate_json(body)
    except ValidationError as exc:
        raise api.ApiError(422, "invalid_request", api.validation_problems(exc)) from exc
    if len(correction.text) > settings.budget.chars:
        raise api.ApiError(413, "too_large", f"the text is over {settings.budget.chars} characters")
    try:
        saved = await anyio.to_thread.run_sync(save_annotation, settings.corpus_dir, correction)
    except AnnotationProblem as exc:
        return JSONResponse(status_code=422, content={"error": "invalid_annotation", "detail": str(exc),
                                                      "problems": exc.problems})
    return JSONResponse(saved)

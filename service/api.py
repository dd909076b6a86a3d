"""The HTTP service: ``POST /v1/extract`` and friends, around ``pipeline.read_report``.

Limits and errors are handled here and nowhere else: a body over the upload
limit is refused with 413 before it is read in full (408 when a client sends it too
slowly); an input that is not a readable report gets 415 (a type we do not read) or
422 (readable type, but no text / not a report / damaged / over a budget of
``service.budget``); a request that runs past the time limit gets 504.  Every error
body is ``{"error": code, "detail": reason}``.  A 500 means a bug, and is logged
with its traceback.

Every extraction runs in a child process of ``service.runner`` (one per worker
process by default), which the time limit kills: after a 504 no work and no memory
remain.  Nothing is extracted on the event loop.
"""

from __future__ import annotations

import hmac
import logging
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

import service
from service import pipeline, review
from service.budget import Budget
from service.runner import Job, Runner
from service.types import Extraction, ExtractionError

log = logging.getLogger("govreport.api")

#: ExtractionError codes that mean "we do not read this kind of input".
UNSUPPORTED_CODES = {"unsupported_type", "binary", "undecodable"}
#: Page images one request may carry (several ``file`` fields: one scanned report).
MAX_PAGE_IMAGES = 100
#: Room for multipart framing around an upload of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024
#: A client must send its body within this many seconds (slow clients hold a slot;
#: ``GOVREPORT_BODY_TIMEOUT_S``).
BODY_TIMEOUT_S = float(os.environ.get("GOVREPORT_BODY_TIMEOUT_S") or 30)


@dataclass
class Settings:
    """The service's limits: an explicit value (``govreport serve`` options) beats the
    environment (``from_env``), which beats the default."""

    max_upload_mb: float = 20.0
    timeout_s: float = 60.0
    admin_token: str | None = None
    models_dir: str | None = None
    #: An archive of ``govreport batch`` to serve (``/v1/reports``, ``/v1/compare``).
    db: str | None = None
    #: Where the review page saves corrected annotations (off when None; ``service.review``).
    corpus_dir: str | None = None
    budget: Budget = field(default_factory=Budget.from_env)
    #: Extraction processes per worker process, each extracting one report at a time
    #: (``GOVREPORT_SLOTS``; ``govreport serve`` shares the cores among its workers).
    slots: int = 1

    @classmethod
    def from_env(cls, **explicit: Any) -> Settings:
        """Settings from the environment, with ``explicit`` values (those not None) over it."""
        env = os.environ
        values: dict[str, Any] = {
            "max_upload_mb": _number(env, "GOVREPORT_MAX_UPLOAD_MB", cls.max_upload_mb),
            "timeout_s": _number(env, "GOVREPORT_TIMEOUT_S", cls.timeout_s),
            "admin_token": env.get("GOVREPORT_ADMIN_TOKEN") or None,
            "models_dir": env.get("GOVREPORT_MODELS") or None,
            "db": env.get("GOVREPORT_DB") or None,
            "corpus_dir": env.get("GOVREPORT_CORPUS_DIR") or None,
            "slots": max(1, int(_number(env, "GOVREPORT_SLOTS", cls.slots))),
            "budget": Budget.from_env(),
        }
        values.update({k: v for k, v in explicit.items() if v is not None})
        return cls(**values)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def _number(env: Any, name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


# --- request / response models (they make the OpenAPI schema) -------------------------

class TextRequest(BaseModel):
    text: str = Field(description="The report as plain text (or as HTML source)")
    filename: str | None = Field(default=None, description="Optional original file name")


class ErrorBody(BaseModel):
    error: str = Field(description="Stable error code (empty, not_a_report, unsupported_type, …)")
    detail: str = Field(description="Human-readable reason")


class Health(BaseModel):
    status: str
    models_loaded: bool
    models_version: str | None = None


class VersionInfo(BaseModel):
    version: str = Field(description="govreport package version")
    models_version: str = Field(description="Version of the loaded models (manifest.json)")
    models: dict[str, Any] = Field(default_factory=dict,
                                   description="The models manifest: each model's version and evaluation scores")


class ReloadResult(VersionInfo):
    reloaded: bool = True


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "detail": detail})


_ERROR_RESPONSES = {
    400: {"model": ErrorBody, "description": "Malformed request"},
    413: {"model": ErrorBody, "description": "Upload larger than the limit"},
    415: {"model": ErrorBody, "description": "Unsupported input type"},
    422: {"model": ErrorBody, "description": "No text, not a report, damaged file, or invalid request"},
    504: {"model": ErrorBody, "description": "Extraction ran past the time limit"},
}

_EXTRACT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "TXT (UTF-8/GBK), HTML, DOCX or PDF"}}}},
        "application/json": {"schema": TextRequest.model_json_schema()},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
}


# --- reading the request body with a size limit ---------------------------------------

async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, "too_large", f"the body is {declared} bytes; the limit is {limit}")
        except ValueError:
            raise ApiError(400, "bad_request", "invalid Content-Length header") from None
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "too_large", f"the body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"the body was not sent within {BODY_TIMEOUT_S:g} s") from None
    return b"".join(chunks)  # (a client that disconnects: the app's ClientDisconnect handler)


async def _source_from_request(request: Request,
                               settings: Settings) -> tuple[bytes | str | list[bytes], str | None]:
    content_type = request.headers.get("content-type", "").lower()
    limit = settings.max_upload_bytes
    if content_type.startswith("multipart/form-data"):
        body = await _read_body(request, limit + MULTIPART_OVERHEAD)
        request._body = body  # starlette reads the form from the cached body
        try:
            form = await request.form(max_files=MAX_PAGE_IMAGES, max_fields=5, max_part_size=limit)
        except MultiPartException as exc:
            raise ApiError(400, "bad_request", f"malformed multipart body: {exc.message}") from exc
        uploads = [u for u in form.getlist("file") if not isinstance(u, str)]
        if not uploads:
            text = form.get("text")
            if isinstance(text, str):
                return text, None
            raise ApiError(422, "invalid_request", "the multipart body needs a file field named 'file'")
        files = [await upload.read() for upload in uploads]
        size = sum(map(len, files))  # (the multipart framing's room is not the files')
        if size > limit:
            raise ApiError(413, "too_large", f"the upload is {size} bytes; the limit is {limit}")
        if len(files) > 1:  # the page images of one scanned report, in order
            return files, uploads[0].filename
        return files[0], uploads[0].filename
    body = await _read_body(request, limit)
    if not body.strip():
        raise ApiError(422, "empty", "the request body is empty")
    if content_type.startswith("application/json"):
        try:
            payload = TextRequest.model_validate_json(body)
        except ValidationError as exc:
            raise ApiError(422, "invalid_request",
                           f"expected a JSON body {{\"text\": ...}}: {validation_problems(exc)}") from exc
        return payload.text, payload.filename
    # Any other content type: the body is the file itself (curl --data-binary @report.pdf).
    return body, request.query_params.get("filename")


def validation_problems(exc: ValidationError | RequestValidationError) -> str:
    """A validation error as one line: each field's path and what is wrong with it."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())


# --- the app --------------------------------------------------------------------------

def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    runner = Runner(settings.slots, settings.models_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Once per worker process: the extraction processes (each loading its own copy
        # of the models, meanwhile) and the models here (for /v1/version), all ready
        # before the first request.
        runner.start(wait=False)
        models = (pipeline.reload_models(settings.models_dir) if settings.models_dir
                  else pipeline.get_models())
        log.info("models %s loaded from %s", models.version, models.directory)
        await anyio.to_thread.run_sync(runner.start)
        try:
            yield
        finally:
            runner.close()

    # (FastAPIOffline: /docs and /redoc load their scripts from an installed package, not a CDN)
    app = FastAPIOffline(title="govreport",
                  description="Chinese government information-disclosure annual reports → checked, "
                              "traceable JSON.",
                  version=service.__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.runner = runner

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", validation_problems(exc) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                413: "too_large"}.get(exc.status_code, "http_error")
        response = _error(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # (405's Allow)
        return response

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request: Request, _: ClientDisconnect) -> Response:
        log.info("client disconnected: %s %s", request.method, request.url.path)
        return _error(400, "client_disconnected", "the client disconnected")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", f"{type(exc).__name__}: an unexpected error (logged)")

    @app.get("/healthz", response_model=Health)
    def healthz() -> Health:
        models = pipeline._models  # not get_models(): a health probe must not trigger loading
        return Health(status="ok", models_loaded=models is not None,
                      models_version=models.version if models else None)

    @app.get("/v1/version", response_model=VersionInfo)
    def version() -> VersionInfo:
        models = pipeline.get_models()
        return VersionInfo(version=service.__version__, models_version=models.version,
                           models=models.manifest)

    @app.post("/v1/extract", response_model=Extraction, responses=_ERROR_RESPONSES,
              openapi_extra={"requestBody": _EXTRACT_BODY},
              summary="Read one report (file upload, JSON text or raw body) into the spec's JSON")
    async def extract(request: Request, include_text: bool = False) -> Response:
        result, _ = await extract_request(request, include_text)
        return Response(result, media_type="application/json")

    if settings.db:
        _archive_routes(app, settings.db)
    app.include_router(review.router)  # the review page at / (service/review.py)

    @app.post("/v1/admin/reload", response_model=ReloadResult,
              responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def reload(request: Request) -> ReloadResult:
        token = settings.admin_token
        if not token:
            raise ApiError(404, "not_found", "admin endpoints are disabled (GOVREPORT_ADMIN_TOKEN is not set)")
        if not bearer_matches(request, token):
            raise ApiError(403, "forbidden", "a valid 'Authorization: Bearer <token>' header is required")
        try:
            models = await anyio.to_thread.run_sync(pipeline.reload_models, settings.models_dir)
        except Exception as exc:  # the old models stay in service
            log.exception("model reload failed")
            raise ApiError(503, "reload_failed", f"{type(exc).__name__}: {exc}") from exc
        runner.restart()  # the extraction processes load the new models
        return ReloadResult(version=service.__version__, models_version=models.version,
                            models=models.manifest)

    return app


def bearer_matches(request: Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>`` (compared in constant time)."""
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def extract_source(request: Request, source: bytes | str | list[bytes], filename: str | None,
                         include_text: bool) -> bytes:
    """One extraction in the app's extraction processes, under its time limit and
    budget: the JSON bytes, or an ``ApiError`` (415 / 422 / 504)."""
    settings: Settings = request.app.state.settings
    if not source:
        raise ApiError(422, "empty", "the request carries no document")
    job = Job(source, filename, include_text, settings.budget)
    try:
        return await request.app.state.runner.run(job, settings.timeout_s)
    except TimeoutError:
        raise ApiError(504, "timeout", f"extraction took longer than {settings.timeout_s:g} s") from None
    except ExtractionError as exc:
        status = 415 if exc.code in UNSUPPORTED_CODES else 422
        raise ApiError(status, exc.code, exc.detail) from exc


async def extract_request(request: Request, include_text: bool) -> tuple[bytes, bytes | str]:
    """The document a request carries (upload, JSON text or raw body, within the upload
    limit), extracted: (the JSON bytes, the document as received)."""
    source, filename = await _source_from_request(request, request.app.state.settings)
    return await extract_source(request, source, filename, include_text), source


def _archive_routes(app: FastAPI, db: str) -> None:
    """The archive's reports and cross-year comparison, read-only."""
    from service import archive
    from service.compare import compare

    def opened():
        try:
            return archive.connect(db, create=False, read_only=True)
        except archive.ArchiveError as exc:
            raise ApiError(503, "archive_unavailable", str(exc)) from None

    @app.get("/v1/reports", summary="The reports stored in the archive (govreport serve --db)")
    def reports(agency: str | None = None, year: int | None = None, limit: int = 1000) -> list[dict]:
        con = opened()
        try:
            return archive.list_reports(con, agency, year, max(1, min(limit, 10_000)))
        finally:
            con.close()

    @app.get("/v1/reports/{report_id}", summary="One stored report: sections, tables, metrics, checks")
    def report(report_id: int) -> dict:
        con = opened()
        try:
            found = archive.load_report(con, report_id)
        finally:
            con.close()
        if found is None:
            raise ApiError(404, "not_found", f"no report {report_id} in the archive")
        return found

    @app.get("/v1/compare", summary="An agency's figures year by year and the cross-year checks")
    def compare_agency(agency: str | None = None) -> list[dict]:
        try:
            return compare(db, agency)
        except archive.ArchiveError as exc:
            raise ApiError(503, "archive_unavailable", str(exc)) from None


def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
        max_upload_mb: float | None = None, timeout_s: float | None = None, db: str | None = None,
        corpus_dir: str | None = None) -> None:
    """Serve with uvicorn (``govreport serve``).  An option given here beats the
    environment, which beats the default, whatever the number of workers: one worker
    serves an app built with them; several workers each build theirs from the
    environment, into which the given options are written first."""
    import uvicorn

    # extraction processes per worker: the cores shared among the workers, unless set
    os.environ.setdefault("GOVREPORT_SLOTS", str(max(1, (os.cpu_count() or 1) // max(1, workers))))
    settings = Settings.from_env(max_upload_mb=max_upload_mb, timeout_s=timeout_s, db=db,
                                 corpus_dir=corpus_dir)  # (fails early on bad values)
    logging.basicConfig(level=logging.INFO)
    from service.http_protocol import header_timeout_protocol

    # (a request's headers must come within GOVREPORT_HEADER_TIMEOUT_S; idle
    # keep-alive connections close after 5 s)
    common = {"host": host, "port": port, "log_level": "info", "timeout_keep_alive": 5,
              "http": header_timeout_protocol()}
    if workers <= 1:
        uvicorn.run(create_app(settings), **common)
        return
    if max_upload_mb is not None:
        os.environ["GOVREPORT_MAX_UPLOAD_MB"] = str(max_upload_mb)
    if timeout_s is not None:
        os.environ["GOVREPORT_TIMEOUT_S"] = str(timeout_s)
    if db is not None:
        os.environ["GOVREPORT_DB"] = db
    if corpus_dir is not None:
        os.environ["GOVREPORT_CORPUS_DIR"] = corpus_dir
    uvicorn.run("service.api:create_app", factory=True, workers=workers, **common)


def __getattr__(name: str) -> Any:
    """``service.api.app`` (for ``uvicorn service.api:app``): built on first use from
    the environment, not at import, so that importing the module costs nothing."""
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)


__all__ = ["create_app", "run", "Settings"]

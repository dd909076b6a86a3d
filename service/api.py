"""The HTTP service: ``POST /v1/extract`` and friends, around ``pipeline.extract``.

Limits and errors are handled here and nowhere else: a body over the upload
limit is refused with 413 before it is read in full; an input that is not a
readable report gets 415 (a type we do not read) or 422 (readable type, but no
text / not a report / damaged); a request that runs past the time limit gets
504.  Every error body is ``{"error": code, "detail": reason}``.  A 500 means a
bug, and is logged with its traceback.

Models are loaded once per worker process at start-up (lifespan). Files and long
texts are extracted in a worker thread (one at a time), so one slow PDF does not
stall the event loop; short texts, which take milliseconds, are extracted in place.
"""

from __future__ import annotations

import hmac
import logging
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

import service
from service import pipeline
from service.types import Extraction, ExtractionError

log = logging.getLogger("govreport.api")

#: ExtractionError codes that mean "we do not read this kind of input".
UNSUPPORTED_CODES = {"unsupported_type", "binary", "undecodable"}
#: Texts up to this many characters (a long report; at worst ~0.3 s, measured on odd
#: layouts) are extracted on the event loop rather than in a worker thread.
INLINE_MAX_CHARS = 50_000
#: Room for multipart framing around an upload of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class Settings:
    max_upload_mb: float = 20.0
    timeout_s: float = 60.0
    #: Longest derived text extracted (a report is 3–30 thousand characters).
    max_chars: int = 1_000_000
    admin_token: str | None = None
    models_dir: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(max_upload_mb=float(env.get("GOVREPORT_MAX_UPLOAD_MB", cls.max_upload_mb)),
                   timeout_s=float(env.get("GOVREPORT_TIMEOUT_S", cls.timeout_s)),
                   max_chars=int(env.get("GOVREPORT_MAX_CHARS", cls.max_chars)),
                   admin_token=env.get("GOVREPORT_ADMIN_TOKEN") or None,
                   models_dir=env.get("GOVREPORT_MODELS") or None)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


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
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _source_from_request(request: Request, settings: Settings) -> tuple[bytes | str, str | None]:
    content_type = request.headers.get("content-type", "").lower()
    limit = settings.max_upload_bytes
    if content_type.startswith("multipart/form-data"):
        body = await _read_body(request, limit + MULTIPART_OVERHEAD)
        request._body = body  # starlette reads the form from the cached body
        try:
            form = await request.form(max_files=1, max_fields=5, max_part_size=limit)
        except MultiPartException as exc:
            raise ApiError(400, "bad_request", f"malformed multipart body: {exc.message}") from exc
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            text = form.get("text")
            if isinstance(text, str):
                return text, None
            raise ApiError(422, "invalid_request", "the multipart body needs a file field named 'file'")
        data = await upload.read()
        if len(data) > limit:
            raise ApiError(413, "too_large", f"the file is {len(data)} bytes; the limit is {limit}")
        return data, upload.filename
    body = await _read_body(request, limit)
    if not body.strip():
        raise ApiError(422, "empty", "the request body is empty")
    if content_type.startswith("application/json"):
        try:
            payload = TextRequest.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            raise ApiError(422, "invalid_request", f"expected a JSON body {{\"text\": ...}}: {problems}") from exc
        return payload.text, payload.filename
    # Any other content type: the body is the file itself (curl --data-binary @report.pdf).
    return body, request.query_params.get("filename")


# --- the app --------------------------------------------------------------------------

def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Once per worker process: every request then shares these models.
        # (`govreport serve` has loaded them already when it runs a single worker)
        models = (pipeline.reload_models(settings.models_dir) if settings.models_dir
                  else pipeline.get_models())
        log.info("models %s loaded from %s", models.version, models.directory)
        pipeline.freeze_loaded_heap()
        yield

    app = FastAPI(title="govreport",
                  description="Chinese government information-disclosure annual reports → checked, "
                              "traceable JSON.",
                  version=service.__version__, lifespan=lifespan)
    app.state.settings = settings

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(422, "invalid_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                413: "too_large"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

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

    limiter: anyio.CapacityLimiter | None = None

    def _one_extraction_at_a_time() -> anyio.CapacityLimiter:
        """One extraction thread per worker process: extraction is CPU-bound under the
        GIL, so concurrent threads would only take turns, each finishing later.
        Requests wait their turn; the loop stays responsive.
        (Made on first use: a limiter belongs to the running event loop.)"""
        nonlocal limiter
        if limiter is None:
            limiter = anyio.CapacityLimiter(1)
        return limiter

    @app.post("/v1/extract", response_model=Extraction, responses=_ERROR_RESPONSES,
              openapi_extra={"requestBody": _EXTRACT_BODY},
              summary="Read one report (file upload, JSON text or raw body) into the spec's JSON")
    async def extract(request: Request, include_text: bool = False) -> Response:
        source, filename = await _source_from_request(request, settings)
        if not source:
            raise ApiError(422, "empty", "the request carries no document")
        models = pipeline.get_models()

        def run() -> str:
            # pydantic writes the JSON itself: no intermediate dict for json.dumps to walk
            extraction = pipeline.read_report(source, filename, include_text=include_text,
                                              models=models, max_chars=settings.max_chars)
            return extraction.model_dump_json(exclude={"text"} if not include_text else None)

        try:
            if isinstance(source, str) and len(source) <= INLINE_MAX_CHARS:
                # A text report takes milliseconds: extracted right here, as the hop to a
                # worker thread costs about 15% of that in CPU (measured with 4 clients).
                result = run()
            else:
                # Files and long texts in a thread: the loop stays responsive and the
                # time limit can answer 504 while the work runs.
                with anyio.fail_after(settings.timeout_s):
                    result = await anyio.to_thread.run_sync(run, abandon_on_cancel=True,
                                                            limiter=_one_extraction_at_a_time())
        except TimeoutError:
            raise ApiError(504, "timeout", f"extraction took longer than {settings.timeout_s:g} s") from None
        except ExtractionError as exc:
            status = 415 if exc.code in UNSUPPORTED_CODES else 422
            raise ApiError(status, exc.code, exc.detail) from exc
        except RecursionError as exc:  # pathological nesting in a document
            raise ApiError(422, "unreadable", "the document is nested too deeply to read") from exc
        return Response(result, media_type="application/json")

    @app.post("/v1/admin/reload", response_model=ReloadResult,
              responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def reload(request: Request) -> ReloadResult:
        token = settings.admin_token
        if not token:
            raise ApiError(404, "not_found", "admin endpoints are disabled (GOVREPORT_ADMIN_TOKEN is not set)")
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(403, "forbidden", "a valid 'Authorization: Bearer <token>' header is required")
        try:
            models = await anyio.to_thread.run_sync(pipeline.reload_models, settings.models_dir)
        except Exception as exc:  # the old models stay in service
            log.exception("model reload failed")
            raise ApiError(503, "reload_failed", f"{type(exc).__name__}: {exc}") from exc
        return ReloadResult(version=service.__version__, models_version=models.version,
                            models=models.manifest)

    return app


def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
        max_upload_mb: float | None = None, timeout_s: float | None = None) -> None:
    """Serve with uvicorn (``govreport serve``).  Settings travel to the worker
    processes through the environment, which ``Settings.from_env`` reads."""
    import uvicorn

    if max_upload_mb is not None:
        os.environ["GOVREPORT_MAX_UPLOAD_MB"] = str(max_upload_mb)
    if timeout_s is not None:
        os.environ["GOVREPORT_TIMEOUT_S"] = str(timeout_s)
    logging.basicConfig(level=logging.INFO)
    uvicorn.run("service.api:app", host=host, port=port, workers=max(1, workers), log_level="info")


#: The app ``uvicorn service.api:app`` serves; its settings come from the environment.
app = create_app()

__all__ = ["create_app", "run", "Settings", "app"]

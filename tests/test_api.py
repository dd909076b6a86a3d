"""The HTTP service, with the real pipeline and the shipped models.

Most cases run in-process (TestClient); a few run against a real uvicorn in a
subprocess on a free port.  Bad inputs must get their 4xx with a JSON error
body, never a 500.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.api import Settings, create_app
from training.hostile import serving

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BAD = FIXTURES / "bad"
REPORT = "000_62418b5d58b13a7d"
GOLD = json.loads((ROOT / "corpus" / f"{REPORT}.gold.json").read_text(encoding="utf-8"))
SOURCES = {
    "txt": ROOT / "corpus" / f"{REPORT}.txt",
    "gbk": FIXTURES / f"{REPORT}.gbk.txt",
    "html": FIXTURES / f"{REPORT}.html",
    "docx": FIXTURES / f"{REPORT}.docx",
    "pdf": FIXTURES / f"{REPORT}.pdf",
}
TOKEN = "test-admin-token"


@pytest.fixture(scope="module")
def client():
    app = create_app(Settings(max_upload_mb=20, timeout_s=120, admin_token=TOKEN))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _upload(client, data: bytes, name: str = "report.bin", **params):
    return client.post("/v1/extract", files={"file": (name, data)}, params=params)


def _assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["detail"]
    if code:
        assert body["error"] == code
    return body


def _assert_report(body: dict, fmt: str) -> None:
    assert body["format"] == ("txt" if fmt == "gbk" else fmt)
    keys = [s["key"] for s in body["sections"]]
    assert keys == [s["key"] for s in GOLD["sections"]]
    assert body["tables"]["applications"]["new_received"] == GOLD["tables"]["applications"]["new_received"]
    assert body["tables"]["review_litigation"] == GOLD["tables"]["review_litigation"]
    assert {(m["type"], m["value"]) for m in body["metrics"]} == {(m["type"], m["value"]) for m in GOLD["metrics"]}


# --- every format ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt", list(SOURCES))
def test_upload_each_format(client, fmt):
    path = SOURCES[fmt]
    response = _upload(client, path.read_bytes(), name=path.name, include_text="true")
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_report(body, fmt)
    text = body["text"]
    for metric in body["metrics"]:
        assert text[metric["start"]:metric["end"]] == metric["text"]
    for section in body["sections"]:
        assert text[section["start"]:].lstrip().startswith(section["heading"])


def test_text_is_returned_only_when_asked(client):
    response = _upload(client, SOURCES["docx"].read_bytes(), name="report.docx")
    assert response.status_code == 200 and "text" not in response.json()


def test_json_text_body(client):
    text = SOURCES["txt"].read_text(encoding="utf-8")
    response = client.post("/v1/extract", json={"text": text}, params={"include_text": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == text  # offsets index the text as submitted
    _assert_report(body, "txt")


def test_raw_body_with_a_misleading_name(client):
    response = client.post("/v1/extract", content=SOURCES["pdf"].read_bytes(),
                           headers={"content-type": "application/octet-stream"},
                           params={"filename": "report.txt"})
    assert response.status_code == 200, response.text
    _assert_report(response.json(), "pdf")


# --- bad inputs -------------------------------------------------------------------------

def test_empty_bodies(client):
    _assert_error(_upload(client, b""), 422, "empty")
    _assert_error(client.post("/v1/extract", content=b"", headers={"content-type": "application/json"}), 422, "empty")
    _assert_error(client.post("/v1/extract", json={"text": ""}), 422, "empty")
    _assert_error(client.post("/v1/extract", json={"text": "   \n "}), 422, "empty")


def test_fifty_megabytes_is_refused(client):
    big = b"0" * (50 * 1024 * 1024)
    _assert_error(_upload(client, big, name="big.txt"), 413, "too_large")
    _assert_error(client.post("/v1/extract", content=big, headers={"content-type": "text/plain"}), 413, "too_large")


@pytest.mark.parametrize("name,status,code", [
    ("truncated.pdf", 422, "pdf_corrupt"),
    ("encrypted.pdf", 422, "pdf_encrypted"),
    ("scanned.pdf", 422, "not_a_report"),  # (a 40 dpi scan: too coarse for OCR, and said so)
    ("not_docx.zip", 415, "unsupported_type"),
])
def test_bad_files(client, name, status, code):
    _assert_error(_upload(client, (BAD / name).read_bytes(), name=name), status, code)


def test_html_with_no_report(client):
    page = ("<html><head><title>首页</title></head><body><nav><a href='/'>首页</a></nav>"
            "<div class='content'><p>欢迎访问本网站，本站提供办事指南和联系方式。</p></div></body></html>")
    _assert_error(_upload(client, page.encode("utf-8"), name="index.html"), 422, "not_a_report")


def test_random_bytes(client):
    rng = random.Random(3)
    data = bytes(rng.randrange(256) for _ in range(20_000))
    _assert_error(_upload(client, data, name="report.pdf"), 415)


def test_invalid_json_bodies(client):
    for body in (b"{", b"[1, 2]", b'{"text": 5}', b'{"txt": "x"}', b'"just a string"'):
        _assert_error(client.post("/v1/extract", content=body, headers={"content-type": "application/json"}),
                      422, "invalid_request")


def test_malformed_multipart(client):
    response = client.post("/v1/extract", content=b"--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n",
                           headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert response.status_code in (400, 422) and set(response.json()) == {"error", "detail"}


def test_two_million_characters(client):
    text = SOURCES["txt"].read_text(encoding="utf-8")
    big = (text * (2_000_000 // len(text) + 1))[:2_000_000]
    response = client.post("/v1/extract", json={"text": big})
    # Over the default limit of derived characters: refused before the stages run.
    _assert_error(response, 422, "too_long")


def test_time_limit_gives_504():
    app = create_app(Settings(timeout_s=0.001))
    with TestClient(app, raise_server_exceptions=False) as c:
        _assert_error(_upload(c, SOURCES["pdf"].read_bytes(), name="report.pdf"), 504, "timeout")


def test_every_extraction_runs_under_the_time_limit_in_a_process_that_is_killed():
    """Short JSON texts too: nothing is extracted on the event loop.  At the limit the
    extraction process is killed (its work and memory gone) and replaced, and the
    next request is answered by the replacement."""
    text = SOURCES["txt"].read_text(encoding="utf-8")
    app = create_app(Settings(timeout_s=0.001))
    with TestClient(app, raise_server_exceptions=False) as c:
        runner = app.state.runner
        first = {child.process.pid for child in runner._idle}
        _assert_error(c.post("/v1/extract", json={"text": text}), 504, "timeout")
        assert runner.replaced == 1
        gone = first - {child.process.pid for child in runner._idle}
        assert gone and not any(_alive(pid) for pid in gone)
        app.state.settings.timeout_s = 120
        assert c.post("/v1/extract", json={"text": text}).status_code == 200


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_past_its_memory_ceiling_is_replaced_after_its_answer():
    app = create_app(Settings(timeout_s=120))
    app.state.runner.memory_ceiling_mb = 1  # every child is past it
    with TestClient(app, raise_server_exceptions=False) as c:
        before = {child.process.pid for child in app.state.runner._idle}
        assert c.post("/v1/extract", json={"text": SOURCES["txt"].read_text(encoding="utf-8")}).status_code == 200
        assert app.state.runner.replaced == 1
        assert not before & {child.process.pid for child in app.state.runner._idle}


def test_405_names_the_allowed_methods(client):
    response = client.get("/v1/extract")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_an_option_beats_the_environment_which_beats_the_default(monkeypatch):
    monkeypatch.delenv("GOVREPORT_TIMEOUT_S", raising=False)
    monkeypatch.delenv("GOVREPORT_MAX_UPLOAD_MB", raising=False)
    assert Settings.from_env().timeout_s == 60 and Settings.from_env().max_upload_mb == 20
    monkeypatch.setenv("GOVREPORT_TIMEOUT_S", "10")
    monkeypatch.setenv("GOVREPORT_MAX_UPLOAD_MB", "1")
    assert Settings.from_env().timeout_s == 10 and Settings.from_env().max_upload_mb == 1
    explicit = Settings.from_env(timeout_s=5, max_upload_mb=2)
    assert explicit.timeout_s == 5 and explicit.max_upload_mb == 2
    monkeypatch.setenv("GOVREPORT_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="GOVREPORT_TIMEOUT_S"):
        Settings.from_env()


def test_unknown_route_and_method(client):
    _assert_error(client.get("/v1/nothing"), 404, "not_found")
    _assert_error(client.get("/v1/extract"), 405, "method_not_allowed")


# --- metadata and admin -----------------------------------------------------------------

def test_health_and_version(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["models_loaded"] is True
    version = client.get("/v1/version").json()
    import service
    from service.pipeline import get_models

    assert version["version"] == service.__version__
    assert version["models_version"] == get_models().version
    assert version["models"] == get_models().manifest


def test_openapi_describes_the_response_and_the_bodies(client):
    schema = client.get("/openapi.json").json()
    extract = schema["paths"]["/v1/extract"]["post"]
    ok = extract["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/Extraction")
    props = schema["components"]["schemas"]["Extraction"]["properties"]
    assert {"sections", "tables", "metrics", "checks", "audit", "provenance", "text"} <= set(props)
    assert {"multipart/form-data", "application/json"} <= set(extract["requestBody"]["content"])
    for status in ("413", "415", "422", "504"):
        assert extract["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_admin_reload():
    with TestClient(create_app(Settings(admin_token=None))) as c:
        assert c.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    with TestClient(create_app(Settings(admin_token=TOKEN))) as c:
        _assert_error(c.post("/v1/admin/reload"), 403, "forbidden")
        _assert_error(c.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}), 403, "forbidden")
        from service import pipeline

        before = pipeline.get_models()
        response = c.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        after = pipeline.get_models()
        assert after is not before  # a fresh set was loaded and swapped in
        assert response.json()["models_version"] == after.version
        assert response.json()["models"] == after.manifest


# --- fuzz: never a 500 ----------------------------------------------------------------------

_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                            | st.text(max_size=50),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4),
                            max_leaves=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(_json_values, st.fixed_dictionaries({"text": st.text(max_size=300)}),
                      st.fixed_dictionaries({"text": st.text(alphabet="一二三、（）总体情况主动公开0123456789\t\n 件条",
                                                             max_size=400)})))
def test_fuzz_json_bodies_never_500(client, body):
    response = client.post("/v1/extract", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code in (200, 422), response.text[:300]
    assert response.status_code == 200 or set(response.json()) == {"error", "detail"}


_PREFIXES = [b"", b"%PDF-1.7\n", b"PK\x03\x04", b"<html><body><table><tr><td>", b"\xef\xbb\xbf", b"{\\rtf1"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(_PREFIXES), data=st.binary(max_size=3000), name=st.text(max_size=20))
def test_fuzz_uploads_never_500(client, prefix, data, name):
    response = client.post("/v1/extract", files={"file": (name or "f", prefix + data)})
    assert response.status_code in (200, 413, 415, 422), response.text[:300]


# --- a real server ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    args = ["--workers", "1", "--max-upload-mb", "20", "--timeout", "120"]
    with serving(args, {"GOVREPORT_ADMIN_TOKEN": TOKEN}) as (base, _):
        yield base


@pytest.mark.parametrize("fmt", list(SOURCES))
def test_real_server_each_format(server, fmt):
    path = SOURCES[fmt]
    with path.open("rb") as f:
        response = httpx.post(f"{server}/v1/extract", files={"file": (path.name, f)}, timeout=120)
    assert response.status_code == 200, response.text
    _assert_report(response.json(), fmt)


def test_real_server_bad_inputs(server):
    def post(data: bytes, name: str) -> httpx.Response:
        return httpx.post(f"{server}/v1/extract", files={"file": (name, data)}, timeout=120)

    _assert_error(post(b"", "empty.txt"), 422, "empty")
    _assert_error(post((BAD / "encrypted.pdf").read_bytes(), "x.pdf"), 422, "pdf_encrypted")
    _assert_error(post((BAD / "not_docx.zip").read_bytes(), "x.docx"), 415, "unsupported_type")
    _assert_error(httpx.post(f"{server}/v1/extract", content=b"0" * (50 * 1024 * 1024),
                             headers={"content-type": "application/octet-stream"}, timeout=120), 413, "too_large")
    _assert_error(httpx.post(f"{server}/v1/admin/reload", headers={"Authorization": "Bearer nope"}), 403, "forbidden")
    ok = httpx.post(f"{server}/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert ok.status_code == 200 and ok.json()["reloaded"] is True


def test_real_server_curl_example_from_readme(server):
    """The README's curl line, as written (with the server's address)."""
    curl = subprocess.run(["curl", "-sS", "-F", f"file=@{SOURCES['pdf']}", f"{server}/v1/extract?include_text=true"],
                          capture_output=True, timeout=120)
    if curl.returncode == 127:
        pytest.skip("curl is not installed")
    body = json.loads(curl.stdout)
    assert body["format"] == "pdf" and body["tables"]["applications"]


# --- the same report in every format ------------------------------------------------------

def test_every_format_yields_the_tables_and_metrics_of_the_txt():
    from training.formats import compare_formats

    result = compare_formats(FIXTURES, ROOT / "corpus")
    assert len(result["reports"]) >= 2
    for report_id, per_format in result["reports"].items():
        assert set(per_format) == {"txt", "gbk", "html", "docx", "pdf"}, report_id
        for fmt, entry in per_format.items():
            if fmt == "txt":
                continue
            vs = entry["vs_txt"]
            assert vs["cells_differ"] == [] and vs["cells_same"] == vs["cells_txt"] > 0, (report_id, fmt)
            assert vs["metrics_only_txt"] == [] and vs["metrics_only_here"] == [], (report_id, fmt)


def _serve(args: list[str], env: dict[str, str], log: Path | None = None):
    """``govreport serve`` on a free port, until the context ends: its address."""
    import contextlib

    @contextlib.contextmanager
    def address():
        with serving(args, env, log) as (base, _):
            yield base

    return address()


@pytest.mark.parametrize("how", ["options, one worker", "environment, two workers"])
def test_upload_and_time_limits_hold_with_any_number_of_workers(how):
    if how.startswith("options"):
        args, env = ["--workers", "1", "--max-upload-mb", "1", "--timeout", "0.001"], {}
    else:
        args, env = ["--workers", "2"], {"GOVREPORT_MAX_UPLOAD_MB": "1", "GOVREPORT_TIMEOUT_S": "0.001"}
    with _serve(args, env) as base:
        big = httpx.post(f"{base}/v1/extract", content=b"0" * int(2.3 * 1024 * 1024),
                         headers={"content-type": "application/octet-stream"}, timeout=60)
        _assert_error(big, 413, "too_large")
        with SOURCES["pdf"].open("rb") as f:
            slow = httpx.post(f"{base}/v1/extract", files={"file": ("r.pdf", f)}, timeout=60)
        _assert_error(slow, 504, "timeout")


def test_a_client_that_never_finishes_its_headers_is_disconnected():
    """Slowloris: headers sent a piece at a time are cut off at the header time limit,
    a body shorter than its Content-Length gets 408 at the body limit (not tested here:
    30 s), and a well-behaved request on the same server is answered meanwhile."""
    with _serve(["--workers", "1"], {"GOVREPORT_HEADER_TIMEOUT_S": "1"}) as base:
        port = int(base.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        for s in slow:
            s.sendall(b"POST /v1/extract HTTP/1.1\r\nHost: x\r\n")
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        time.sleep(2.5)
        for s in slow:
            s.settimeout(2)
            assert s.recv(1024) == b""  # closed by the server
            s.close()


def test_a_client_that_disconnects_mid_upload_is_logged_without_a_traceback(tmp_path):
    log = tmp_path / "server.log"
    with _serve(["--workers", "1"], {}, log) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: 100000\r\n\r\n" + b"0" * 1000)
        time.sleep(1)
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    text = log.read_text()
    assert "client disconnected" in text
    assert "Traceback" not in text and "internal_error" not in text


def test_a_body_shorter_than_its_content_length_is_answered_408():
    with _serve(["--workers", "1"], {"GOVREPORT_BODY_TIMEOUT_S": "1"}) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: 100000\r\n\r\n" + b"0" * 1000)
            s.settimeout(10)
            answer = b""
            while b"request_timeout" not in answer and (piece := s.recv(4096)):
                answer += piece  # (the headers and the body may come in two pieces)
        assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer


@pytest.mark.parametrize("protocol", ["HeaderTimeoutHttpToolsProtocol", "HeaderTimeoutH11Protocol"])
def test_both_protocols_cut_off_slow_headers_and_serve_whole_requests(protocol, monkeypatch):
    """The header limit on each of uvicorn's parsers (h11 is the fallback where
    httptools is missing), over a trivial app in a thread."""
    import threading

    import uvicorn

    from service import http_protocol

    cls = getattr(http_protocol, protocol)
    if cls is None:
        pytest.skip("httptools is not installed")
    monkeypatch.setattr(http_protocol, "HEADER_TIMEOUT_S", 0.5)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=cls, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text == "ok"
        slow.settimeout(5)
        assert slow.recv(1024) == b""  # cut off after 0.5 s
        slow.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
